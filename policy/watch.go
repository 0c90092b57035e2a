package policy

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchFile reloads h whenever the file at path is written, replaced,
// removed and written again, or re-pointed through a symlink (Kubernetes
// ConfigMaps swap a "..data" link). It watches the directory, so atomic
// renames and editors that delete and recreate the file are seen, and it
// keeps watching whatever happens to the file. Bursts of events from one
// save are coalesced over debounce. Watcher errors are logged, never fatal.
// The returned stop ends the watch.
func WatchFile(path string, h *Holder, debounce time.Duration) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	clean := filepath.Clean(path)
	real, _ := filepath.EvalSymlinks(path)
	done := make(chan struct{})
	go func() {
		var timer <-chan time.Time
		for {
			select {
			case <-done:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				now, _ := filepath.EvalSymlinks(path)
				if filepath.Clean(ev.Name) != clean && now == real {
					continue // another file in the directory
				}
				real = now
				if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove|fsnotify.Chmod) != 0 && timer == nil {
					timer = time.After(debounce) // let the writer finish before reading
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				h.log.Error("config file watch: error (watch continues)", "path", path, "error", err)
			case <-timer:
				timer = nil
				if _, err := filepath.EvalSymlinks(path); err != nil {
					h.log.Warn("config file is gone; the running policy stays until it is back", "path", path)
					continue
				}
				_, _ = h.Reload("file change") // the result is logged and counted by Reload
			}
		}
	}()
	return func() { close(done); w.Close() }, nil
}
