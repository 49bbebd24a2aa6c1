package postgres

import (
	"context"
	"fmt"
	"sync"
)

// Budget bounds the bytes that client messages hold buffered in the gateway at once,
// across all sessions of an Engine. A message larger than a session's read buffer takes
// its size from the budget before it is read, and gives it back once it is forwarded: a
// burst of large messages waits for room instead of growing the process without bound.
// It is safe for concurrent use.
type Budget struct {
	limit int64

	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed, and replaced, when bytes are given back
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit, freed: make(chan struct{})}
}

// Acquire takes n bytes, waiting until they are free or ctx ends. A request larger than
// the whole budget fails at once: it could never be granted.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n > b.limit {
		return fmt.Errorf("budget: %d bytes exceed the whole budget of %d", n, b.limit)
	}
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return fmt.Errorf("budget: waiting for %d bytes: %w", n, context.Cause(ctx))
		}
	}
}

// Release gives back n bytes that Acquire took.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used -= n; b.used < 0 {
		panic("postgres: Budget.Release of bytes never acquired")
	}
	close(b.freed)
	b.freed = make(chan struct{})
}

// Used returns the bytes taken now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }
