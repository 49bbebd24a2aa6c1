package server

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// bufferedWriter batches the gateway's log lines: a gateway that logs every decision
// must not pay a write syscall per statement. What it holds is written every interval,
// when it passes 64 KiB, and at Close.
type bufferedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	buf  bytes.Buffer
	stop chan struct{}
	done chan struct{}
}

const logBufferLimit = 64 << 10

func newBufferedWriter(w io.Writer, interval time.Duration) *bufferedWriter {
	b := &bufferedWriter{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				b.Flush()
				return
			}
		}
	}()
	return b
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() >= logBufferLimit {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (b *bufferedWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *bufferedWriter) flushLocked() {
	if b.buf.Len() > 0 {
		_, _ = b.w.Write(b.buf.Bytes())
		b.buf.Reset()
	}
}

// Close flushes and stops the periodic flush.
func (b *bufferedWriter) Close() error {
	close(b.stop)
	<-b.done
	return nil
}
