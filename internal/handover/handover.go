// Package handover passes gatewayd's listening sockets to its successor
// during a binary upgrade, so that no connection is refused or reset while
// one process replaces the other.
//
// The running process (the predecessor) starts the new binary with one end
// of a Unix socket pair as file descriptor 3 ($EDGEGUARD_HANDOVER_FD) and
// sends every listening socket over it with SCM_RIGHTS, each under a key
// that says what it listens for. The successor serves on the sockets whose
// keys its own configuration still has, and says "ready" once it accepts on
// all of them; the predecessor then makes it the service's main process
// (sd_notify MAINPID=), says "main", stops accepting and drains. Until
// "ready", the predecessor keeps serving: a successor that fails or exits
// costs nothing. A listening socket handed over is one kernel object shared
// by both processes, so connections waiting in its accept queue are taken
// by whichever accepts next, never lost.
//
// Why this and not the alternatives:
//   - SO_REUSEPORT (the new process binds the same ports beside the old):
//     each socket has its own accept queue, and connections the kernel
//     already put in the old one's queue are reset when it closes
//     (unless net.ipv4.tcp_migrate_req=1 or a BPF sk_reuseport program
//     moves them); listeners on port 0 and a management Unix socket cannot
//     be shared that way at all.
//   - systemd socket activation (the unit's sockets, LISTEN_FDS): the
//     listener addresses would live in a .socket unit as well as in
//     gatewayd.yaml, and `systemctl restart` still stops the old process
//     before starting the new one, so new connections wait for the whole
//     drain and start (the blocklist restore) instead of being served by
//     the old process meanwhile.
//   - Passing the very sockets keeps one accept queue (nothing reset, port
//     0 and Unix sockets included), keeps the configuration the one place
//     addresses are written, lets both processes serve during the overlap,
//     and works the same under systemd (MAINPID=) and without it.
//
// The package moves descriptors and messages only; what to stop, drain and
// restore around a hand-over is the caller's.
package handover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnvFD names the environment variable that tells a successor which file
// descriptor leads to its predecessor.
const EnvFD = "EDGEGUARD_HANDOVER_FD"

// maxMessage bounds one protocol message (keys of every listener).
const maxMessage = 64 << 10

// Listener is one listening socket to hand over.
type Listener struct {
	// Key says what the socket listens for, e.g. "data public 0.0.0.0:443";
	// the successor takes the socket only where its configuration has the
	// same key.
	Key  string
	File *os.File
}

// message is what the two processes say to each other, one message per
// SOCK_SEQPACKET record.
type message struct {
	Type    string   `json:"type"` // "listeners", "ready", "failed", "main"
	Keys    []string `json:"keys,omitempty"`
	Pid     int      `json:"pid,omitempty"`
	Version string   `json:"version,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Successor is a process started to take over from this one.
type Successor struct {
	cmd    *exec.Cmd
	conn   *net.UnixConn
	exited chan error // the process's exit, once Wait returned
	// Version is the successor's version, known once WaitReady returned nil.
	Version string
}

// Start runs path with args and env (plus $EDGEGUARD_HANDOVER_FD), with
// stdout and stderr shared with this process, and sends it listeners. The
// caller keeps its own copies of the files and closes them.
func Start(path string, args, env []string, listeners []Listener) (*Successor, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start successor: socket pair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "handover"), os.NewFile(uintptr(pair[1]), "handover-successor")
	defer theirs.Close()
	conn, err := fileConn(ours)
	if err != nil {
		return nil, fmt.Errorf("start successor: %w", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(withoutVar(env, EnvFD), EnvFD+"=3")
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("start successor %s: %w", path, err)
	}
	s := &Successor{cmd: cmd, conn: conn, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	keys := make([]string, len(listeners))
	fds := make([]int, len(listeners))
	for i, l := range listeners {
		keys[i] = l.Key
		if fds[i], err = rawFD(l.File); err != nil {
			s.Abort()
			return nil, fmt.Errorf("hand over listener %q: %w", l.Key, err)
		}
	}
	if err := send(conn, message{Type: "listeners", Keys: keys}, fds...); err != nil {
		s.Abort()
		return nil, fmt.Errorf("hand listeners to successor (pid %d): %w", cmd.Process.Pid, err)
	}
	return s, nil
}

// Pid is the successor's process id.
func (s *Successor) Pid() int { return s.cmd.Process.Pid }

// WaitReady waits until the successor serves on every listener it took. It
// fails when the successor reports a failure, exits or closes its end, or
// when ctx ends; the successor should then be aborted.
func (s *Successor) WaitReady(ctx context.Context) error {
	got := make(chan error, 1)
	go func() {
		m, _, err := receive(s.conn)
		switch {
		case err != nil:
			got <- err
		case m.Type == "failed":
			got <- fmt.Errorf("successor failed: %s", m.Error)
		case m.Type != "ready":
			got <- fmt.Errorf("successor said %q, want ready", m.Type)
		default:
			s.Version = m.Version
			got <- nil
		}
	}()
	select {
	case err := <-got:
		if errors.Is(err, io.EOF) {
			// It exited or closed its end: its exit status says more.
			select {
			case werr := <-s.exited:
				s.exited <- werr
				return fmt.Errorf("successor (pid %d) exited before it was ready: %v", s.Pid(), werr)
			case <-ctx.Done():
			}
		}
		if err != nil {
			return fmt.Errorf("wait for successor (pid %d): %w", s.Pid(), err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for successor (pid %d): %w", s.Pid(), ctx.Err())
	}
}

// Confirm tells a ready successor that it is the main process now (the
// service manager knows it) and ends the conversation.
func (s *Successor) Confirm() error {
	defer s.conn.Close()
	if err := send(s.conn, message{Type: "main"}); err != nil {
		return fmt.Errorf("confirm successor (pid %d): %w", s.Pid(), err)
	}
	return nil
}

// Abort kills the successor and waits for it to exit.
func (s *Successor) Abort() {
	s.conn.Close()
	_ = s.cmd.Process.Kill()
	err := <-s.exited
	s.exited <- err
}

// Predecessor is the process that started this one to take over from it.
type Predecessor struct {
	conn  *net.UnixConn
	files map[string]*os.File
}

// FromEnv returns the predecessor named by $EDGEGUARD_HANDOVER_FD, having
// received its listeners, or nil when this process was started otherwise.
// It unsets the variable, so that this process's own successors do not
// inherit it.
func FromEnv() (*Predecessor, error) {
	v, ok := os.LookupEnv(EnvFD)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("take over listeners: %s=%q: want a descriptor number >= 3", EnvFD, v)
	}
	unix.CloseOnExec(fd)
	conn, err := fileConn(os.NewFile(uintptr(fd), "handover"))
	if err != nil {
		return nil, fmt.Errorf("take over listeners: %s=%d: %w", EnvFD, fd, err)
	}
	m, fds, err := receive(conn)
	if err == nil && (m.Type != "listeners" || len(fds) != len(m.Keys)) {
		err = fmt.Errorf("got %q with %d keys and %d descriptors, want listeners", m.Type, len(m.Keys), len(fds))
	}
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		conn.Close()
		return nil, fmt.Errorf("take over listeners: %w", err)
	}
	p := &Predecessor{conn: conn, files: make(map[string]*os.File, len(fds))}
	for i, fd := range fds {
		p.files[m.Keys[i]] = os.NewFile(uintptr(fd), m.Keys[i])
	}
	return p, nil
}

// Keys lists the listeners received and not taken yet.
func (p *Predecessor) Keys() []string {
	keys := make([]string, 0, len(p.files))
	for k := range p.files {
		keys = append(keys, k)
	}
	return keys
}

// Listener returns the listener handed over under key, or nil when there is
// none (the caller then opens its own).
func (p *Predecessor) Listener(key string) (net.Listener, error) {
	if p == nil {
		return nil, nil
	}
	f, ok := p.files[key]
	if !ok {
		return nil, nil
	}
	delete(p.files, key)
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("take over listener %q: %w", key, err)
	}
	return ln, nil
}

// File returns the file handed over under key (not a listener: the state
// directory's lock), or nil; the caller owns it.
func (p *Predecessor) File(key string) *os.File {
	if p == nil {
		return nil
	}
	f, ok := p.files[key]
	if ok {
		delete(p.files, key)
	}
	return f
}

// Ready tells the predecessor that this process serves on what it took and
// closes the listeners it did not take (the predecessor closes its copies
// as it drains, so those sockets go away). It then waits until the
// predecessor says this process is the main one, or goes away, or ctx ends.
func (p *Predecessor) Ready(ctx context.Context, version string) error {
	p.closeUnused()
	if err := send(p.conn, message{Type: "ready", Pid: os.Getpid(), Version: version}); err != nil {
		return fmt.Errorf("tell predecessor ready: %w", err)
	}
	got := make(chan error, 1)
	go func() {
		m, _, err := receive(p.conn)
		if err == nil && m.Type != "main" {
			err = fmt.Errorf("predecessor said %q, want main", m.Type)
		}
		got <- err
	}()
	defer p.conn.Close()
	select {
	case err := <-got:
		if err != nil {
			return fmt.Errorf("wait for predecessor: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for predecessor: %w", ctx.Err())
	}
}

// Failed tells the predecessor that this process will not take over, and
// why; the predecessor goes on serving.
func (p *Predecessor) Failed(cause error) {
	p.closeUnused()
	_ = send(p.conn, message{Type: "failed", Error: cause.Error()})
	p.conn.Close()
}

func (p *Predecessor) closeUnused() {
	for k, f := range p.files {
		f.Close()
		delete(p.files, k)
	}
}

// rawFD returns f's descriptor without (*os.File).Fd, which would switch
// the socket, shared with the listener still accepting on it, to blocking
// mode: that listener's Close would then wait for an accept that never
// wakes up.
func rawFD(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

func fileConn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("descriptor is a %T, want a Unix socket", c)
	}
	return uc, nil
}

func send(c *net.UnixConn, m message, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// receive reads one message and the descriptors that came with it; io.EOF
// when the other end closed.
func receive(c *net.UnixConn) (message, []int, error) {
	buf, oob := make([]byte, maxMessage), make([]byte, unix.CmsgSpace(4*250))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	var fds []int
	if oobn > 0 {
		scms, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return message{}, nil, fmt.Errorf("parse control message: %w", perr)
		}
		for _, scm := range scms {
			got, rerr := unix.ParseUnixRights(&scm)
			if rerr != nil {
				return message{}, fds, fmt.Errorf("parse descriptors: %w", rerr)
			}
			for _, fd := range got {
				unix.CloseOnExec(fd)
			}
			fds = append(fds, got...)
		}
	}
	if err != nil {
		return message{}, fds, err
	}
	if n == 0 {
		return message{}, fds, io.EOF // SOCK_SEQPACKET: the other end closed
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return message{}, fds, errors.New("message truncated")
	}
	var m message
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return message{}, fds, fmt.Errorf("decode message: %w", err)
	}
	return m, fds, nil
}

func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
