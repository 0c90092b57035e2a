// Package pipelined sends requests to one upstream address HTTP/1.1
// pipelined (RFC 9112 §9.3.2): callers write their requests back to back
// on a few kept-alive connections, the requests of callers that arrive
// together leave in one write, and one reader per connection reads the
// responses in order into the waiting callers' responses.
//
// Against an upstream that handles pipelining, a batch of requests costs
// one write and, usually, one read on the upstream side instead of a
// write and a read (or two) per request: measured on gatewayd (one core,
// 64 client connections), ~4.4 system calls per proxied request fall to
// ~3. The upstream's own work falls the same way.
//
// Only idempotent requests may be pipelined: when a connection fails or
// the upstream closes it, the requests still waiting for an answer are
// sent again, once, on a new connection, which RFC 9112 allows only for
// them. Callers check Pipelinable. A slow response delays the ones queued
// behind it on its connection (head-of-line blocking): MaxPending bounds
// the queue, and a full client answers ErrFull so the caller can send
// the request another way.
package pipelined

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/proxy/idlecheck"
)

// Config is one upstream address and how to pipeline to it.
type Config struct {
	Addr string
	// Dial connects to Addr; its errors are returned to callers as is.
	Dial func(addr string) (net.Conn, error)
	// Conns is the number of connections requests are spread over (>= 1).
	Conns int
	// MaxPending bounds the requests written and not yet answered on one
	// connection (>= 1).
	MaxPending int
	// ReadTimeout bounds reading one response, from when the reader
	// starts on it; WriteTimeout bounds one write. 0: no limit.
	ReadTimeout, WriteTimeout time.Duration
	// IdleTimeout closes a connection no request used for between half of
	// it and all of it. 0: 10 s.
	IdleTimeout time.Duration
	// MaxResponseBodySize bounds a response body; 0: no limit.
	MaxResponseBodySize int
	// Desync, if set, counts connections closed for bytes outside a
	// response: sent while nothing was asked, or a 101.
	Desync *metrics.Counter
}

// ErrFull is returned when every connection has MaxPending requests
// waiting; nothing was sent.
var ErrFull = errors.New("pipelined: every upstream connection has its maximum of requests waiting")

// ErrUnanswered is returned when the connection ended before the response
// to a request arrived, twice: on the connection the request was first
// written to and on a new one.
var ErrUnanswered = errors.New("pipelined: the upstream connection ended before the request was answered")

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("pipelined: client closed")

const (
	readBufferSize  = 4096
	writeBufferSize = 4096
)

// Client pipelines requests to one address. Its methods are safe for
// concurrent use.
type Client struct {
	cfg   Config
	lanes []lane
	calls sync.Pool

	sweeping  atomic.Bool
	stop      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

// lane is one connection slot: the live connection, or nil.
type lane struct {
	mu       sync.Mutex
	cur      *conn
	used     bool // a request came since the last idle sweep
	flushing bool // a caller is about to write the buffered requests out
	// dialing is the dial in progress, if any: callers that find no
	// connection wait for it and share its outcome rather than each dial
	// in turn (each waiting out the connect timeout of a dead target).
	dialing *dial
	waiting atomic.Int32 // calls written and not answered: pick's hint
	_       [40]byte
}

// dial is one connection attempt; err is set before done is closed.
type dial struct {
	done chan struct{}
	err  error
}

// conn is one upstream connection. Its queue holds the calls whose
// requests were written, in order; only writers holding the lane's lock
// send to it, and retire closes it under that lock.
type conn struct {
	ln    *lane
	nc    net.Conn
	bw    *bufio.Writer
	br    *bufio.Reader
	queue chan *call
	sent  atomic.Uint64   // requests written (or being written) on it
	check *idlecheck.Conn // nil unless nc is a TCP connection
	dead  bool            // retired; guarded by the lane's lock
	cause error           // why a writer retired it (a write timeout), or nil

	readDeadline  deadline // the reader's
	writeDeadline deadline // the writers' (under the lane's lock)
}

// call is one request waiting for its response.
type call struct {
	resp *fasthttp.Response
	head bool
	err  error
	done chan struct{}
}

// New returns a client; it connects on first use.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" || cfg.Dial == nil {
		return nil, errors.New("pipelined: Addr and Dial are required")
	}
	if cfg.Conns < 1 || cfg.MaxPending < 1 {
		return nil, errors.New("pipelined: Conns and MaxPending must be >= 1")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Second
	}
	c := &Client{cfg: cfg, lanes: make([]lane, cfg.Conns), stop: make(chan struct{})}
	c.calls.New = func() any { return &call{done: make(chan struct{}, 1)} }
	return c, nil
}

// Pipelinable reports whether req may be pipelined: an idempotent method
// (RFC 9110 §9.2.2), so that it may be sent again when its connection
// ends unanswered, and no Expect or Upgrade header, which wait for the
// upstream's interim answer or change the protocol, and no body: an
// upstream that frames a body wrongly (one on a DELETE it does not read)
// would answer a request hidden in it, and that answer would go to the
// next request queued behind it on the connection, another client's.
func Pipelinable(req *fasthttp.Request) bool {
	h := &req.Header
	if !(h.IsGet() || h.IsHead() || h.IsOptions() || h.IsPut() || h.IsDelete() || h.IsTrace()) {
		return false
	}
	if len(req.Body()) != 0 || h.ContentLength() > 0 || h.ContentLength() == -1 {
		return false
	}
	return len(h.Peek(fasthttp.HeaderExpect)) == 0 && len(h.Peek(fasthttp.HeaderUpgrade)) == 0
}

// Do sends req and reads the response into resp. req must be
// Pipelinable. A request whose connection ended before its answer is sent
// once more on a new connection. Errors: ErrFull (nothing sent), the
// Dial's error (nothing sent), a timeout, fasthttp.ErrBodyTooLarge,
// ErrUnanswered, or the response's parse error.
func (c *Client) Do(req *fasthttp.Request, resp *fasthttp.Response) error {
	if c.closed.Load() {
		return ErrClosed
	}
	cl := c.calls.Get().(*call)
	cl.resp, cl.head = resp, req.Header.IsHead()
	req.URI().DisablePathNormalizing = true
	err := c.send(cl, req)
	if err == ErrUnanswered {
		err = c.send(cl, req)
	}
	cl.resp, cl.err = nil, nil
	c.calls.Put(cl)
	return err
}

// pick returns the lane with the fewest requests waiting, the first of
// equals: light load stays on one connection, heavier load spreads.
func (c *Client) pick() *lane {
	best, bestLen := &c.lanes[0], c.lanes[0].waiting.Load()
	for i := 1; i < len(c.lanes) && bestLen > 0; i++ {
		if l := c.lanes[i].waiting.Load(); l < bestLen {
			best, bestLen = &c.lanes[i], l
		}
	}
	return best
}

// send writes cl's request on a lane and waits for its response.
func (c *Client) send(cl *call, req *fasthttp.Request) error {
	ln := c.pick()
	ln.mu.Lock()
	for ln.cur == nil {
		if err := c.connect(ln); err != nil {
			ln.mu.Unlock()
			return err
		}
	}
	pc := ln.cur
	st := idlecheck.Idle
	if ln.waiting.Load() == 0 && pc.check != nil {
		st = pc.check.Check()
	}
	if st != idlecheck.Idle {
		// Idle, and the upstream sent bytes or closed it meanwhile:
		// nothing of this request was written, so it takes a new one.
		if st == idlecheck.Unsolicited {
			c.desync()
		}
		pc.retireLocked(nil)
		for ln.cur == nil {
			if err := c.connect(ln); err != nil {
				ln.mu.Unlock()
				return err
			}
		}
		pc = ln.cur
	}
	if int(ln.waiting.Load()) >= c.cfg.MaxPending { // the queue, never fuller than this, cannot block
		ln.mu.Unlock()
		return ErrFull
	}
	pc.sent.Add(1) // before any byte of it can leave (see read)
	if err := req.Write(pc.bw); err != nil {
		// Part of the request may be in the connection: it cannot carry
		// another one.
		pc.retireLocked(err)
		ln.mu.Unlock()
		if isTimeout(err) {
			return err
		}
		return ErrUnanswered
	}
	pc.queue <- cl
	ln.waiting.Add(1)
	ln.used = true
	if ln.flushing {
		ln.mu.Unlock() // the caller that is flushing takes this request along
	} else {
		ln.flushing = true
		ln.mu.Unlock()
		// Callers that run meanwhile append their requests to the same
		// buffer, and one write sends them all.
		runtime.Gosched()
		ln.mu.Lock()
		ln.flushing = false
		if !pc.dead {
			if err := pc.bw.Flush(); err != nil {
				pc.retireLocked(err) // the reader answers the queued calls
			}
		}
		ln.mu.Unlock()
	}
	<-cl.done
	return cl.err
}

// timedWriter gives every write to the connection the write timeout, so
// that one timeout bounds each system call the buffer makes, whether a
// flush or a request larger than the buffer causes it.
type timedWriter struct {
	nc       net.Conn
	timeout  time.Duration
	deadline *deadline
}

func (w timedWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.deadline.extend(w.nc.SetWriteDeadline, w.timeout); err != nil {
			return 0, err
		}
	}
	return w.nc.Write(p)
}

// deadlineSlack is how stale a connection's deadline may be before it is
// moved: a runtime timer update per response or write costs more than the
// clock read, and a timeout that fires up to this much early is the same
// timeout.
const deadlineSlack = 10 * time.Millisecond

// deadline is when a connection's read or write deadline was last set.
type deadline struct{ setAt time.Time }

// extend sets the deadline to now+timeout unless it was set within the
// slack.
func (d *deadline) extend(set func(time.Time) error, timeout time.Duration) error {
	now := time.Now()
	if now.Sub(d.setAt) < deadlineSlack {
		return nil
	}
	d.setAt = now
	return set(now.Add(timeout))
}

// connect gives ln a connection, or joins the dial in progress; ln's lock
// is held, and released while dialing. The caller checks ln.cur again:
// the new connection may already be gone.
func (c *Client) connect(ln *lane) error {
	if d := ln.dialing; d != nil {
		ln.mu.Unlock()
		<-d.done
		ln.mu.Lock()
		return d.err
	}
	d := &dial{done: make(chan struct{})}
	ln.dialing = d
	ln.mu.Unlock()
	pc, err := c.newConn(ln)
	ln.mu.Lock()
	ln.dialing = nil
	if err == nil {
		ln.cur = pc
		go c.read(ln, pc)
		c.startSweeping()
	}
	d.err = err
	close(d.done)
	return err
}

func (c *Client) newConn(ln *lane) (*conn, error) {
	nc, err := c.cfg.Dial(c.cfg.Addr)
	if err != nil {
		return nil, err
	}
	pc := &conn{
		ln:    ln,
		nc:    nc,
		br:    bufio.NewReaderSize(nc, readBufferSize),
		queue: make(chan *call, c.cfg.MaxPending),
	}
	pc.bw = bufio.NewWriterSize(timedWriter{nc, c.cfg.WriteTimeout, &pc.writeDeadline}, writeBufferSize)
	if tcp, ok := nc.(*net.TCPConn); ok {
		if pc.check, err = idlecheck.New(tcp); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return pc, nil
}

// retireLocked takes pc out of its lane and closes it; the lane's lock is
// held. The reader then answers the calls still queued.
func (pc *conn) retireLocked(cause error) {
	if pc.dead {
		return
	}
	pc.dead = true
	pc.cause = cause
	if pc.ln.cur == pc {
		pc.ln.cur = nil
	}
	_ = pc.nc.Close()
	close(pc.queue)
}

// retire is retireLocked for the reader. The connection is closed before
// the lock is taken: a writer may hold the lock blocked in a write the
// upstream will not take until its responses are read.
func (c *Client) retire(ln *lane, pc *conn, cause error) {
	_ = pc.nc.Close()
	ln.mu.Lock()
	pc.retireLocked(cause)
	ln.mu.Unlock()
}

// read reads the responses of pc in order until pc is retired, then
// answers the calls left in its queue.
func (c *Client) read(ln *lane, pc *conn) {
	failed := false
	var answered uint64
	for cl := range pc.queue {
		if failed {
			c.finish(ln, cl, ErrUnanswered)
			continue
		}
		err := c.readResponse(pc, cl)
		answered++
		switch {
		case err != nil:
			failed = true
			c.retire(ln, pc, nil)
			ln.mu.Lock()
			cause := pc.cause
			ln.mu.Unlock()
			c.finish(ln, cl, readError(err, cause))
		case cl.resp.ConnectionClose():
			// The upstream answers nothing more on this connection
			// (RFC 9112 §9.6): the rest go again on a new one.
			failed = true
			c.retire(ln, pc, nil)
			c.finish(ln, cl, nil)
		default:
			// Bytes no request asked for: every request sent was answered
			// (senders count a request before its bytes can leave), so
			// whatever they are, the responses after them would go to the
			// wrong callers. No lock: a sender may hold it while blocked
			// writing a body the upstream reads only after this response.
			if pc.br.Buffered() > 0 && pc.sent.Load() == answered {
				c.desync()
				failed = true
				c.retire(ln, pc, nil)
			}
			c.finish(ln, cl, nil)
			if c.closed.Load() {
				c.retireIdle(ln, pc)
			}
		}
	}
}

func (c *Client) finish(ln *lane, cl *call, err error) {
	ln.waiting.Add(-1)
	cl.err = err
	cl.done <- struct{}{}
}

func (c *Client) desync() {
	if c.cfg.Desync != nil {
		c.cfg.Desync.Inc()
	}
}

// retireIdle retires pc if nothing waits on it.
func (c *Client) retireIdle(ln *lane, pc *conn) {
	ln.mu.Lock()
	if ln.cur == pc && len(pc.queue) == 0 && !ln.flushing {
		pc.retireLocked(nil)
	}
	ln.mu.Unlock()
}

func (c *Client) readResponse(pc *conn, cl *call) error {
	if c.cfg.ReadTimeout > 0 {
		if err := pc.readDeadline.extend(pc.nc.SetReadDeadline, c.cfg.ReadTimeout); err != nil {
			return err
		}
	}
	resp := cl.resp
	resp.Header.DisableNormalizing()
	resp.SkipBody = cl.head
	resp.StreamBody = false
	if err := resp.ReadLimitBody(pc.br, c.cfg.MaxResponseBodySize); err != nil {
		return err
	}
	if resp.StatusCode() == fasthttp.StatusSwitchingProtocols {
		// Pipelinable requests carry no Upgrade: the connection is no
		// longer HTTP.
		c.desync()
		return ErrSwitchingProtocols
	}
	if sc := resp.StatusCode(); sc < 100 || sc > 599 {
		c.desync()
		return ErrBadStatus
	}
	return nil
}

// ErrBadStatus answers a status code outside 100-599 (RFC 9110 §15), which
// a client would frame its own way, or read as a success.
var ErrBadStatus = errors.New("pipelined: upstream answered a status code outside 100-599")

// ErrSwitchingProtocols answers a 101 to a request that asked for no
// upgrade.
var ErrSwitchingProtocols = errors.New("pipelined: upstream answered 101 Switching Protocols to a request without Upgrade")

// readError is what the call being read when its connection failed gets:
// a write timeout that retired the connection, the read's own timeout or
// size error, ErrUnanswered when the connection simply ended (the request
// may go again), else the error.
func readError(err, cause error) error {
	switch {
	case cause != nil && isTimeout(cause):
		return cause
	case isTimeout(err), errors.Is(err, fasthttp.ErrBodyTooLarge):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return ErrUnanswered
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// startSweeping starts the idle sweep on first use.
func (c *Client) startSweeping() {
	if c.sweeping.Load() || !c.sweeping.CompareAndSwap(false, true) {
		return
	}
	go c.sweep()
}

// sweep closes connections no request used for a while: every half
// IdleTimeout, a lane unused since the last sweep, with nothing waiting,
// loses its connection.
func (c *Client) sweep() {
	t := time.NewTicker(c.cfg.IdleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.closeIdle(false)
		}
	}
}

// closeIdle retires the connections with nothing waiting that no request
// used since the last sweep (all of them with force).
func (c *Client) closeIdle(force bool) {
	for i := range c.lanes {
		ln := &c.lanes[i]
		ln.mu.Lock()
		if pc := ln.cur; pc != nil && (force || !ln.used) && len(pc.queue) == 0 && !ln.flushing {
			pc.retireLocked(nil)
		}
		ln.used = false
		ln.mu.Unlock()
	}
}

// Close refuses new requests and closes the connections once they are
// idle; requests in flight are answered.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		c.closeIdle(true) // the busy ones go when their last answer is read
	})
}
