package ratelimit

import "time"

// Window is the period of one limit: a request rate is N per Window.
type Window uint8

// The windows a limit can combine. Each has a fixed slot in a key's bucket,
// so buckets survive reloads that add, remove or retune windows.
const (
	Second Window = iota
	Minute
	Hour
	Day
	NumWindows
)

var windowNames = [NumWindows]string{"second", "minute", "hour", "day"}

var windowDurations = [NumWindows]time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour}

// String names the window as the configuration does: "second", "minute", ...
func (w Window) String() string {
	if w < NumWindows {
		return windowNames[w]
	}
	return "unknown"
}

// Duration is the length of the window.
func (w Window) Duration() time.Duration { return windowDurations[w] }

// Windows are the requests allowed per window; zero means no limit on that
// window. Windows{Second: 10, Minute: 100, Hour: 1000} is "10 per second,
// 100 per minute and 1000 per hour", all at once.
type Windows [NumWindows]int64

// Empty reports whether no window is limited.
func (ws Windows) Empty() bool { return ws == Windows{} }
