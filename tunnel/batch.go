package tunnel

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// batcher sits between yamux and the WebSocket. yamux writes every frame from its one send
// loop, header and body as two Writes, and waits for each; written straight to the
// WebSocket that is a message, a flush and a syscall per half frame. batcher takes the
// frames into a buffer and writes them from its own goroutine: whatever yamux sends while
// a write is in flight goes out with the next one, as one message (group commit). On an
// idle tunnel a frame is written at once; under load, many streams' frames share a
// syscall. A data header is held until its body arrives, so a frame is never split.
//
// yamux writes a frame's header and its body as separate Writes, and a body whole: the
// batcher knows which Write is which by the length the last data header announced, never
// by what the bytes look like (a body can look like a header).
//
// Errors surface on the next Write; yamux then ends the session, as it would have.
type batcher struct {
	conn     net.Conn
	maxMsg   int // largest WebSocket message written: the peer's read limit allows the window
	maxQueue int // Write blocks while this much is waiting

	mu      sync.Mutex
	drained sync.Cond // the queue shrank, or the batcher failed
	buf     []byte    // frames waiting to be written
	body    int       // bytes of body the last data header announced that have not come yet
	err     error     // the first write error, or net.ErrClosed
	closing bool

	wake chan struct{} // cap 1: there is something to write
	done chan struct{} // the write loop has ended
}

func newBatcher(conn net.Conn, maxMsg int) *batcher {
	b := &batcher{
		conn:     conn,
		maxMsg:   maxMsg,
		maxQueue: 2 * maxMsg,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	b.drained.L = &b.mu
	go b.loop()
	return b
}

const (
	yamuxHeaderSize = 12
	yamuxVersion    = 0
	yamuxTypeData   = 0
)

// dataLength is the body length a data frame's header announces, or 0 when p is not one.
func dataLength(p []byte) int {
	if len(p) != yamuxHeaderSize || p[0] != yamuxVersion || p[1] != yamuxTypeData {
		return 0
	}
	return int(binary.BigEndian.Uint32(p[8:]))
}

// held reports whether buf ends with a frame whose body has not all come: nothing is
// written then, so that the frame is never split. The caller holds mu.
func (b *batcher) held() bool { return b.body > 0 }

// Write queues p. It blocks only while the queue is full, and never for the body of a
// held header: nothing is written until it comes.
func (b *batcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.err == nil && len(b.buf) >= b.maxQueue && !b.held() {
		b.drained.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	if b.body > 0 {
		b.body -= min(b.body, len(p)) // the body the last data header announced
	} else {
		b.body = dataLength(p)
	}
	if !b.held() {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (b *batcher) loop() {
	defer close(b.done)
	var spare []byte
	for range b.wake {
		b.mu.Lock()
		if b.held() || len(b.buf) == 0 {
			stop := b.closing || b.err != nil
			b.mu.Unlock()
			if stop {
				return
			}
			continue
		}
		out := b.buf
		b.buf = spare[:0]
		b.mu.Unlock()

		var err error
		for rest := out; len(rest) > 0 && err == nil; {
			n := min(len(rest), b.maxMsg)
			_, err = b.conn.Write(rest[:n])
			rest = rest[n:]
		}

		b.mu.Lock()
		if cap(out) <= 4*b.maxMsg {
			spare = out[:0] // keep one buffer of a sane size for the next round
		}
		if err != nil && b.err == nil {
			b.err = err
		}
		stop := b.err != nil || (b.closing && len(b.buf) == 0)
		if !stop && len(b.buf) > 0 && !b.held() {
			select {
			case b.wake <- struct{}{}:
			default:
			}
		}
		b.drained.Broadcast()
		b.mu.Unlock()
		if stop {
			return
		}
	}
}

// Close writes what is queued (for at most flushTimeout) and closes the connection.
func (b *batcher) Close() error {
	b.mu.Lock()
	first := !b.closing
	b.closing = true
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
		select {
		case <-b.done:
		case <-time.After(flushTimeout):
		}
	}
	err := b.conn.Close()
	<-b.done
	b.mu.Lock()
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.drained.Broadcast()
	b.mu.Unlock()
	return err
}

// flushTimeout bounds how long Close waits for queued frames (a close reason, say).
const flushTimeout = 2 * time.Second

// LocalAddr and RemoteAddr are the WebSocket's.
func (b *batcher) LocalAddr() net.Addr  { return b.conn.LocalAddr() }
func (b *batcher) RemoteAddr() net.Addr { return b.conn.RemoteAddr() }

// Read reads from the WebSocket: batching is for writes only.
func (b *batcher) Read(p []byte) (int, error) { return b.conn.Read(p) }
