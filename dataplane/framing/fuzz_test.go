package framing

import "testing"

// maxFuzzLen is the server's default read buffer: a head longer than that
// fails in fasthttp with ErrSmallBuffer anyway.
const maxFuzzLen = 4096

// FuzzValidator checks that Feed never panics, that its outcome does not
// depend on how the stream is cut, and that fasthttp frames every request
// the validator completes the same way and completes no other one from the
// bytes the validator accepts.
func FuzzValidator(f *testing.F) {
	for _, tc := range feedCases {
		f.Add([]byte(tc.ok+tc.rest), uint16(len(tc.ok)))
	}
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		// Longer streams reach no state a shorter one cannot (the
		// validator keeps no buffer); they only make each run slower.
		if len(stream) > maxFuzzLen {
			return
		}
		var whole Validator
		ok, viol := whole.Feed(stream)
		if ok < 0 || ok > len(stream) || (viol == None) != (ok == len(stream)) {
			t.Fatalf("Feed(%q) = %d, %v", stream, ok, viol)
		}

		cut := int(split) % (len(stream) + 1)
		var two Validator
		ok2, viol2 := two.Feed(stream[:cut])
		if viol2 == None {
			var n int
			n, viol2 = two.Feed(stream[cut:])
			ok2 += n
		}
		if ok2 != ok || viol2 != viol || two.Messages() != whole.Messages() {
			t.Fatalf("Feed(%q) split at %d = %d, %v, %d requests; whole = %d, %v, %d",
				stream, cut, ok2, viol2, two.Messages(), ok, viol, whole.Messages())
		}

		frames, ok1, viol1 := validatorFrames(stream)
		if ok1 != ok || viol1 != viol || uint64(len(frames)) != whole.Messages() {
			t.Fatalf("Feed(%q) byte by byte = %d, %v, %d requests; whole = %d, %v, %d",
				stream, ok1, viol1, len(frames), ok, viol, whole.Messages())
		}

		checkFasthttp(t, stream)
	})
}
