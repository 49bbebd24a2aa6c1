package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchPolicy reloads the policy when one of its files changes, until ctx is done.
// Editors and git replace files by renaming, so it watches the files' directories.
// Changes that come together (an editor's write-then-rename, a git checkout) are taken
// as one after a short quiet time.
func (g *Gateway) WatchPolicy(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch policy files: %w", err)
	}
	files := make(map[string]bool)
	for _, f := range g.cfg.PolicyFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			w.Close()
			return fmt.Errorf("watch policy file %s: %w", f, err)
		}
		files[abs] = true
		if err := w.Add(filepath.Dir(abs)); err != nil {
			w.Close()
			return fmt.Errorf("watch policy file %s: %w", f, err)
		}
	}
	go func() {
		defer w.Close()
		const quiet = 200 * time.Millisecond
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if abs, _ := filepath.Abs(ev.Name); files[abs] {
					timer.Reset(quiet)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				g.log.Warn("policy watch", "err", err)
			case <-timer.C:
				_ = g.ReloadPolicy()
			}
		}
	}()
	return nil
}
