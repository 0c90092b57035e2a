// Package cpu reads CPU time from /proc: a process's user+system time, and
// the whole box's busy time, so the suite can report requests per second
// per gateway core and flag runs that other work disturbed.
package cpu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ticksPerSecond is USER_HZ, which is 100 on every Linux architecture
// that Go supports (the kernel fixes it for user space).
const ticksPerSecond = 100

// Process returns the user+system CPU seconds pid has used, its threads
// included. A process that has exited counts 0.
func Process(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// After "pid (comm)": state is field 3, utime 14 and stime 15.
	f := statFields(b)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	sy, _ := strconv.ParseFloat(f[12], 64)
	return (u + sy) / ticksPerSecond
}

// statFields splits a /proc/<pid>/stat line after "pid (comm)": the
// command name may hold spaces and parentheses, so it ends at the last ')'.
func statFields(b []byte) []string {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// Children lists the direct children of pid, such as nginx's workers.
func Children(pid int) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		if f := statFields(b); len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(e))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// Processes sums Process over pids.
func Processes(pids []int) float64 {
	var t float64
	for _, p := range pids {
		t += Process(p)
	}
	return t
}

// Box returns the busy CPU seconds of every CPU together (everything but
// idle and iowait) from /proc/stat.
func Box() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("read cpu time: unexpected /proc/stat line %q", line)
	}
	var busy float64
	// user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / ticksPerSecond, nil
}
