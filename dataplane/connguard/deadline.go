package connguard

import (
	"sync/atomic"
	"time"
)

// Deadlines are applied lazily. fasthttp sets up to three per keep-alive
// request (the idle wait, the request head, the response write), each a
// runtime timer update costing ~3% of a proxied request's CPU together,
// and most are replaced before any read or write could block on them.
// SetReadDeadline and SetWriteDeadline record the deadline wanted; Read
// and Write apply it first, unless the deadline in force is within
// deadlineSlack of it (a timeout then fires at most that much early or
// late). A deadline already passed is applied at once, so it still
// interrupts a Read or Write blocked in another goroutine.
const deadlineSlack = int64(10 * time.Millisecond)

// deadline is one direction's wanted and applied deadline, in Unix
// nanoseconds (0: none).
type deadline struct {
	want, set atomic.Int64
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// record notes t and reports whether it must be applied at once (it has
// passed).
func (d *deadline) record(t time.Time) bool {
	w := unixNano(t)
	d.want.Store(w)
	if w != 0 && w <= time.Now().UnixNano() {
		d.set.Store(w)
		return true
	}
	return false
}

// due returns the deadline to apply before an operation, and whether one
// is due.
func (d *deadline) due() (time.Time, bool) {
	w, s := d.want.Load(), d.set.Load()
	if w == s {
		return time.Time{}, false
	}
	if w != 0 && s != 0 && w-s < deadlineSlack && s-w < deadlineSlack {
		return time.Time{}, false
	}
	d.set.Store(w)
	if w == 0 {
		return time.Time{}, true
	}
	return time.Unix(0, w), true
}

// SetReadDeadline records t for the next Read (see deadlineSlack).
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.rd.record(t) {
		return c.Conn.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline records t for the next Write.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.wd.record(t) {
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

// SetDeadline records t for both directions.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Write applies the wanted write deadline, then writes.
func (c *Conn) Write(p []byte) (int, error) {
	if t, ok := c.wd.due(); ok {
		if err := c.Conn.SetWriteDeadline(t); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}
