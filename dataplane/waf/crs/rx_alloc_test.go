//go:build !race

package crs

import (
	"testing"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// benignValues are JSON values of testdata/order-1k.json, as CRS sees them.
var benignValues = []string{
	"Dana O'Connor", "1200 Market Street, Suite 400", "Blue widget, large",
	"Red gadget (small) - 2-pack", "Leave at the front desk; call if no answer.",
	"json.customer.address.postal_code", "2024-05-01T12:34:56Z", "19.99",
}

// noCaptureTx is a transaction that does not capture: all an @rx that does
// not match asks of it.
type noCaptureTx struct{ plugintypes.TransactionState }

func (noCaptureTx) Capturing() bool { return false }

// TestRxEvaluateAllocatesNothing: every CRS @rx, on benign values, runs
// without allocating.
func TestRxEvaluateAllocatesNothing(t *testing.T) {
	rxs, _ := crsRxPatterns(t)
	for _, r := range rxs {
		op, err := newRx(plugintypes.OperatorOptions{Arguments: r.arg})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range benignValues {
			if n := testing.AllocsPerRun(10, func() { op.Evaluate(noCaptureTx{}, v) }); n != 0 {
				t.Errorf("@rx %.60q on %q: %v allocations", r.arg, v, n)
			}
		}
	}
}

// BenchmarkRxEvaluate is every CRS @rx on each benign value: the gateway's
// operator against Coraza's matching without a filter.
func BenchmarkRxEvaluate(b *testing.B) {
	rxs, _ := crsRxPatterns(b)
	var filtered, plain []*rx
	for _, r := range rxs {
		op, err := newRx(plugintypes.OperatorOptions{Arguments: r.arg})
		if err != nil {
			b.Fatal(err)
		}
		o := op.(*rx)
		filtered = append(filtered, o)
		plain = append(plain, &rx{re: o.re, bin: o.bin})
	}
	for _, v := range []struct {
		name string
		ops  []*rx
	}{{"filtered", filtered}, {"regexp-only", plain}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, o := range v.ops {
					for _, s := range benignValues {
						o.Evaluate(noCaptureTx{}, s)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(v.ops)*len(benignValues)), "ns/eval")
		})
	}
}
