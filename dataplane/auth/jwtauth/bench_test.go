package jwtauth

import (
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func benchTokens(b *testing.B) map[string][]byte {
	k := mustKeys(b)
	return map[string][]byte{
		"RS256": []byte(sign(b, jwt.SigningMethodRS256, "rsa1", claims(nil), k.rsa, nil)),
		"PS256": []byte(sign(b, jwt.SigningMethodPS256, "rsa1", claims(nil), k.rsa, nil)),
		"ES256": []byte(sign(b, jwt.SigningMethodES256, "ec1", claims(nil), k.ec, nil)),
		"EdDSA": []byte(sign(b, jwt.SigningMethodEdDSA, "ed1", claims(nil), k.ed, nil)),
		"HS256": []byte(sign(b, jwt.SigningMethodHS256, "hs1", claims(nil), k.secret, nil)),
	}
}

// BenchmarkVerifyCached is the promise: a repeated token costs a keyed hash
// and a compare, <= 300 ns and no allocation.
func BenchmarkVerifyCached(b *testing.B) {
	v := newVerifier(b, baseIssuer(b))
	for _, alg := range []string{"RS256", "ES256", "HS256"} {
		tok := benchTokens(b)[alg]
		if _, err := v.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tok)))
			for b.Loop() {
				if _, err := v.Verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("RS256-parallel", func(b *testing.B) {
		tok := benchTokens(b)["RS256"]
		if _, err := v.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(tok, testNow); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkVerifyUncached measures the full check (parse, signature,
// claims) by verifying with the cache bypassed: "fastjson" is the
// production path, "mapclaims" the former jwt.MapClaims path kept in
// reference_test.go, side by side so one run compares them.
func BenchmarkVerifyUncached(b *testing.B) {
	v := newVerifier(b, baseIssuer(b))
	toks := benchTokens(b)
	paths := []struct {
		name   string
		verify func([]byte, time.Time) (*Verified, error)
	}{
		{"mapclaims", v.verifyReference},
		{"fastjson", v.verifySlow},
	}
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA", "HS256"} {
		tok := toks[alg]
		for _, p := range paths {
			b.Run(alg+"/"+p.name, func(b *testing.B) {
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					if _, err := p.verify(tok, testNow); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the CPU time of the whole process (every thread, the
// collector's too). On a shared, loaded machine cpu-ns/op is steadier than
// ns/op, which also counts the time spent waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
