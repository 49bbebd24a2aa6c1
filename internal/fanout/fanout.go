// Package fanout hands each item to a set of named workers, each with its own bounded
// queue and goroutine, so that a slow or dead destination delays nothing but itself.
// Every item published is, for each worker, either sent or dropped, and counted.
//
// audit hands events to its sinks with it, notify reviews to its targets.
package fanout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is what Close returns when the pool is closed already.
var ErrClosed = errors.New("fanout: closed")

// LogEvery is how often, at most, a LogLimit allows a log line.
const LogEvery = 10 * time.Second

// LogLimit says when to log a recurring problem: at most once every LogEvery. The zero
// value is ready, and allows the first line.
type LogLimit struct {
	last atomic.Int64 // when a line was last allowed (Unix ns)
}

// Allow reports whether to log now, and if so counts now as the last time.
func (l *LogLimit) Allow() bool {
	now := time.Now().UnixNano()
	prev := l.last.Load()
	return now-prev >= int64(LogEvery) && l.last.CompareAndSwap(prev, now)
}

// Pool is a set of workers. Add them, then Start; Publish and Close may be called from
// any goroutine.
type Pool[T any] struct {
	workers []*Worker[T]
	ctx     context.Context // ends when Close gives up waiting: workers stop retrying
	cancel  context.CancelFunc

	mu     sync.RWMutex // Publish holds it shared, Close exclusively
	closed bool
}

// Worker is one destination: its queue, and what it sent and dropped.
type Worker[T any] struct {
	name  string
	queue chan T
	run   func(ctx context.Context, w *Worker[T])
	done  chan struct{}

	sent, dropped atomic.Uint64
	fullLog       LogLimit
}

// Add makes a worker called name ("webhook:https://siem.example.com/hoop") with a queue of
// size items. Once started, run takes items from Queue until it is closed and empty,
// counting each as Sent or Dropped; its ctx ends when Close gives up waiting.
func (p *Pool[T]) Add(name string, size int, run func(ctx context.Context, w *Worker[T])) *Worker[T] {
	w := &Worker[T]{name: name, queue: make(chan T, size), run: run, done: make(chan struct{})}
	p.workers = append(p.workers, w)
	return w
}

// Start starts a goroutine per worker.
func (p *Pool[T]) Start() {
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, w := range p.workers {
		go func() {
			defer close(w.done)
			w.run(p.ctx, w)
		}()
	}
}

// Publish queues v for every worker and returns at once. A worker whose queue is full, or
// a closed pool, drops v and counts it; for a full queue, full is called with the
// worker's index (in the order of Add) and its dropped total, at most every LogEvery per
// worker, so that the caller can log it.
func (p *Pool[T]) Publish(v T, full func(i int, dropped uint64)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for i, w := range p.workers {
		if p.closed {
			w.dropped.Add(1)
			continue
		}
		select {
		case w.queue <- v:
		default:
			total := w.dropped.Add(1)
			if w.fullLog.Allow() {
				full(i, total)
			}
		}
	}
}

// Sent returns, by worker name, how many items each worker delivered. A nil Pool has
// none.
func (p *Pool[T]) Sent() map[string]uint64 {
	m := map[string]uint64{}
	if p == nil {
		return m
	}
	for _, w := range p.workers {
		m[w.name] = w.sent.Load()
	}
	return m
}

// Dropped returns, by worker name, how many items each worker dropped. A nil Pool has
// none.
func (p *Pool[T]) Dropped() map[string]uint64 {
	m := map[string]uint64{}
	if p == nil {
		return m
	}
	for _, w := range p.workers {
		m[w.name] = w.dropped.Load()
	}
	return m
}

// Close stops taking items and lets each worker deliver what it has queued, until ctx
// ends; then it ends the workers' ctx, so that they stop retrying and count what is left
// as dropped, and waits for them. It returns ctx's error when it had to cut delivery
// short, and then dropped, the items dropped in all. A second Close, or a nil Pool's,
// returns ErrClosed at once.
func (p *Pool[T]) Close(ctx context.Context) (dropped uint64, err error) {
	if p == nil {
		return 0, ErrClosed
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, ErrClosed
	}
	p.closed = true
	for _, w := range p.workers {
		close(w.queue)
	}
	p.mu.Unlock()

	all := make(chan struct{})
	go func() {
		for _, w := range p.workers {
			<-w.done
		}
		close(all)
	}()
	select {
	case <-all:
	case <-ctx.Done():
		// Every network wait of a worker ends with p.ctx, so the workers finish soon.
		p.cancel()
		<-all
		for _, w := range p.workers {
			dropped += w.dropped.Load()
		}
		err = ctx.Err()
	}
	p.cancel()
	return dropped, err
}

// Name is the worker's name.
func (w *Worker[T]) Name() string { return w.name }

// Queue is the worker's queue; Close closes it.
func (w *Worker[T]) Queue() <-chan T { return w.queue }

// Sent counts n items delivered.
func (w *Worker[T]) Sent(n int) { w.sent.Add(uint64(n)) }

// Drop counts n items dropped, and returns how many the worker dropped in all.
func (w *Worker[T]) Drop(n int) uint64 { return w.dropped.Add(uint64(n)) }
