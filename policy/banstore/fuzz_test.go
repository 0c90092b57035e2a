package banstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the state file reader: it must never
// panic, and whatever it accepts must survive a write and a re-read intact.
// With sealed set the bytes are entry lines given a valid header and
// footer, so the fuzzer reaches the line parser past the digest check.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""), true)
	f.Add([]byte("192.0.2.1 2026-11-24T12:00:00Z\n2001:db8::1 2026-11-24T12:00:00.5+01:00\n"), true)
	f.Add([]byte("192.0.2.1 2026-11-24T12:00:00Z\n192.0.2.1 2026-11-24T12:00:00Z\n"), true)
	f.Add(seal("192.0.2.1 2026-11-24T12:00:00Z\n"), false)
	f.Add([]byte(header+"# end 0 sha256:00\n"), false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		if sealed {
			data = seal(string(data))
		}
		bans, err := parse(data)
		if err != nil {
			return
		}
		path := filepath.Join(dir, FileName)
		if err := writeFile(path, bans); err != nil {
			t.Fatal(err)
		}
		again, err := readFile(path)
		if err != nil {
			t.Fatalf("re-reading what was accepted: %v", err)
		}
		if len(again) != len(bans) {
			t.Fatalf("%d bans became %d", len(bans), len(again))
		}
		byAddr := make(map[string]time.Time, len(bans))
		for _, b := range bans {
			byAddr[b.Source.String()] = b.Until
		}
		for _, b := range again {
			if u, ok := byAddr[b.Source.String()]; !ok || !u.Equal(b.Until) {
				t.Fatalf("%s until %v changed in a round trip (was %v, %v)", b.Source, b.Until, u, ok)
			}
		}
		os.Remove(path)
	})
}
