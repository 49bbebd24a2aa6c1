package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// recordConn records each Write as one message. A Write blocks while gate is held, so a
// test can pile frames up behind a write in flight.
type recordConn struct {
	net.Conn
	gate   sync.Mutex
	mu     sync.Mutex
	writes [][]byte
	fail   error
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.gate.Lock()
	defer r.gate.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recordConn) Close() error { return nil }

func (r *recordConn) messages() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.writes...)
}

func yamuxHeader(typ byte, length uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[0], h[1] = yamuxVersion, typ
	binary.BigEndian.PutUint32(h[4:], 1) // stream id
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestBatcherKeepsTheByteStream(t *testing.T) {
	rec := &recordConn{}
	rec.gate.Lock()            // the first write stays in flight until the rest is queued
	b := newBatcher(rec, 2048) // the queue holds twice that: all the frames below
	var sent []byte
	write := func(p []byte) {
		t.Helper()
		if n, err := b.Write(p); err != nil || n != len(p) {
			t.Fatalf("write of %d bytes: got (%d, %v)", len(p), n, err)
		}
		sent = append(sent, p...)
	}
	const typeWindowUpdate = 1
	write(yamuxHeader(typeWindowUpdate, 0))
	for i := range 20 {
		body := bytes.Repeat([]byte{byte('a' + i)}, 100)
		write(yamuxHeader(yamuxTypeData, uint32(len(body))))
		write(body)
	}
	rec.gate.Unlock()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := rec.messages()
	var wire []byte
	for _, m := range msgs {
		if len(m) > 2048 {
			t.Errorf("message of %d bytes exceeds the 2048-byte limit", len(m))
		}
		wire = append(wire, m...)
	}
	if !bytes.Equal(wire, sent) {
		t.Fatal("the byte stream on the wire differs from what yamux wrote")
	}
	// 1 + 20×112 bytes written as a handful of messages, not 41.
	if len(msgs) > 5 {
		t.Errorf("got %d messages, want frames queued behind a write to share messages", len(msgs))
	}
}

func TestBatcherHoldsAHeaderForItsBody(t *testing.T) {
	rec := &recordConn{}
	b := newBatcher(rec, 1<<20)
	b.Write(yamuxHeader(yamuxTypeData, 5))
	b.Write([]byte("hello"))
	b.Close()
	for _, m := range rec.messages() {
		if len(m) == yamuxHeaderSize {
			t.Fatalf("a data header went out alone: %v", rec.messages())
		}
	}
}

func TestBatcherReportsWriteErrors(t *testing.T) {
	rec := &recordConn{fail: errors.New("broken pipe")}
	b := newBatcher(rec, 1024)
	b.Write([]byte("x"))
	<-b.done // the failed write ends the loop
	if _, err := b.Write([]byte("y")); err == nil || err.Error() != "broken pipe" {
		t.Fatalf("write after a failure: got %v, want broken pipe", err)
	}
	b.Close()
	if _, err := b.Write([]byte("z")); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestBatcherSplitsLongQueues(t *testing.T) {
	rec := &recordConn{}
	rec.gate.Lock()
	b := newBatcher(rec, 100)
	var sent []byte
	for i := range 3 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 60)
		b.Write(p)
		sent = append(sent, p...)
	}
	rec.gate.Unlock()
	b.Close()
	var wire []byte
	for _, m := range rec.messages() {
		if len(m) > 100 {
			t.Errorf("message of %d bytes exceeds the 100-byte limit", len(m))
		}
		wire = append(wire, m...)
	}
	if !bytes.Equal(wire, sent) {
		t.Fatal("the byte stream on the wire differs from what was written")
	}
}

// written waits (boundedly) until rec has been sent n bytes in all; it reports whether it
// was.
func written(rec *recordConn, n int) bool {
	for range 200 {
		total := 0
		for _, m := range rec.messages() {
			total += len(m)
		}
		if total >= n {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestBatcherBodyThatLooksLikeAHeader: a data frame's body of 12 bytes that reads like a
// data header (version 0, type data, a length) is the body, not a new header to hold: the
// frame goes out at once, not when some later frame comes (which on a quiet tunnel is
// never: the session stalls). Without Close, which would flush anything held.
func TestBatcherBodyThatLooksLikeAHeader(t *testing.T) {
	rec := &recordConn{}
	b := newBatcher(rec, 1<<20)
	defer b.Close()
	body := yamuxHeader(yamuxTypeData, 7) // 00 00 ... 00 00 00 07
	b.Write(yamuxHeader(yamuxTypeData, uint32(len(body))))
	b.Write(body)
	if !written(rec, 2*yamuxHeaderSize) {
		t.Fatalf("the frame was held: %d messages written", len(rec.messages()))
	}
	// The stream goes on: the next frame is a header again, held for its own body.
	b.Write(yamuxHeader(yamuxTypeData, 3))
	b.Write([]byte("abc"))
	if !written(rec, 3*yamuxHeaderSize+3) {
		t.Fatalf("the next frame was held: %d messages written", len(rec.messages()))
	}
}

// queued is how many bytes wait in b's queue.
func queued(b *batcher) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// TestBatcherFullQueueTakesAHeldBody: with the queue filled by a data header, the write of
// its body must not wait for the queue to drain, since nothing drains while the header is
// held: it would deadlock the tunnel.
func TestBatcherFullQueueTakesAHeldBody(t *testing.T) {
	rec := &recordConn{}
	rec.gate.Lock() // a write in flight while the queue fills
	b := newBatcher(rec, 64)
	defer b.Close()
	b.Write(bytes.Repeat([]byte{'x'}, 10)) // taken by the loop, stuck in rec's Write
	for i := 0; queued(b) > 0; i++ {
		if i == 500 {
			t.Fatal("the write loop never took the first write")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Write(bytes.Repeat([]byte{'y'}, 2*64-yamuxHeaderSize)) // queued behind it
	b.Write(yamuxHeader(yamuxTypeData, 5))                   // the queue is now full, and held
	done := make(chan struct{})
	go func() {
		b.Write([]byte("hello"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		rec.gate.Unlock()
		t.Fatal("the body's write waited on a full queue that cannot drain while its header is held")
	}
	rec.gate.Unlock()
	if !written(rec, 10+2*64+5) {
		t.Fatal("the queued frames were not written")
	}
}
