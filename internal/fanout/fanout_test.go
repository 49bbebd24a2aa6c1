package fanout

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPool: a worker that delivers counts every item sent; one that never ends its work
// drops what its queue cannot hold, and what is left when Close gives up.
func TestPool(t *testing.T) {
	var p Pool[int]
	p.Add("fast", 10, func(_ context.Context, w *Worker[int]) {
		for range w.Queue() {
			w.Sent(1)
		}
	})
	p.Add("stuck", 2, func(ctx context.Context, w *Worker[int]) {
		<-ctx.Done()
		for range w.Queue() {
			w.Drop(1)
		}
	})
	p.Start()
	var full int
	for i := range 5 {
		p.Publish(i, func(i int, _ uint64) { full++ })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	dropped, err := p.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || dropped != 5 {
		t.Errorf("Close: got %d, %v; want 5, the deadline", dropped, err)
	}
	if full != 1 {
		t.Errorf("full called %d times, want 1 (once per LogEvery)", full)
	}
	if s, d := p.Sent(), p.Dropped(); s["fast"] != 5 || d["fast"] != 0 || s["stuck"] != 0 || d["stuck"] != 5 {
		t.Errorf("sent %v, dropped %v; want fast 5/0, stuck 0/5", s, d)
	}
	if _, err := p.Close(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
	p.Publish(6, nil)
	if d := p.Dropped()["fast"]; d != 1 {
		t.Errorf("Publish after Close: fast dropped %d, want 1", d)
	}
}
