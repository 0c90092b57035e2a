package policy

import (
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/viper"
)

// WatchFile reloads h whenever the file at path is written or replaced
// (viper's WatchConfig, which watches the directory so atomic renames are
// seen). Bursts of events from one save are coalesced over debounce, so an
// editor's several writes cause one reload. It runs for the life of the
// process: viper offers no way to stop a watch.
func WatchFile(path string, h *Holder, debounce time.Duration) {
	events := make(chan struct{}, 1)
	v := viper.New()
	v.SetConfigFile(path)
	v.OnConfigChange(func(fsnotify.Event) {
		select {
		case events <- struct{}{}:
		default: // a reload is already pending
		}
	})
	v.WatchConfig()
	go func() {
		for range events {
			time.Sleep(debounce) // let the writer finish before reading
			select {
			case <-events:
			default:
			}
			_, _ = h.Reload("file change") // the result is logged and counted by Reload
		}
	}()
}
