package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message type bytes used by the engine (PostgreSQL protocol 3).
const (
	msgQuery          = 'Q'
	msgParse          = 'P'
	msgBind           = 'B'
	msgExecute        = 'E'
	msgDescribe       = 'D'
	msgClose          = 'C'
	msgSync           = 'S'
	msgFlush          = 'H'
	msgTerminate      = 'X'
	msgFunctionCall   = 'F'
	msgCopyData       = 'd'
	msgCopyDone       = 'c'
	msgCopyFail       = 'f'
	msgPasswordOrSASL = 'p'
)

// reader reads length-prefixed messages. Bodies up to keep bytes share one reused buffer;
// a larger body gets a buffer of its own that the next message lets go, so one large
// message does not stay in memory for the rest of the session.
type reader struct {
	r    *bufio.Reader
	buf  []byte
	keep int // largest body read into the reused buffer, bytes
	max  int // largest body next accepts, bytes
}

func newReader(r *bufio.Reader, keep, max int) *reader {
	return &reader{r: r, buf: make([]byte, 0, min(8192, keep)), keep: keep, max: max}
}

// next returns the next message's type and body. The body is valid until the next call.
func (m *reader) next() (byte, []byte, error) {
	typ, n, err := m.header()
	if err != nil {
		return 0, nil, err
	}
	if n > m.max {
		return 0, nil, fmt.Errorf("message %q: %d bytes exceeds the gateway's %d-byte limit", typ, n, m.max)
	}
	body, err := m.body(n)
	return typ, body, err
}

// header reads the next message's type and body length, and leaves the body unread: the
// caller reads it with body, discard or copyBody.
func (m *reader) header() (byte, int, error) {
	hdr, err := m.r.Peek(5)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, err
	}
	typ := hdr[0]
	n := int(int32(binary.BigEndian.Uint32(hdr[1:5])))
	if n < 4 {
		return 0, 0, fmt.Errorf("message %q: invalid length %d", typ, n)
	}
	if _, err := m.r.Discard(5); err != nil {
		return 0, 0, err
	}
	return typ, n - 4, nil
}

// body reads an n-byte body. It is valid until the next call.
func (m *reader) body(n int) ([]byte, error) {
	var b []byte
	switch {
	case n > m.keep:
		b = make([]byte, n) // its own: it goes with its message
	case cap(m.buf) >= n:
		b = m.buf[:n]
	default:
		m.buf = make([]byte, m.keep)
		b = m.buf[:n]
	}
	if _, err := io.ReadFull(m.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// discard reads an n-byte body and drops it, a buffer's worth at a time.
func (m *reader) discard(n int) error {
	_, err := m.r.Discard(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// errWrite marks copyBody's failures to write, which are not the reading side's.
var errWrite = errors.New("write")

// copyBody copies an n-byte body to w, a buffer's worth at a time.
func (m *reader) copyBody(w io.Writer, n int) error {
	for n > 0 {
		k := min(n, m.r.Size())
		p, err := m.r.Peek(k)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("%w: %w", errWrite, err)
		}
		if _, err := m.r.Discard(k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// buffered reports whether another message may be read without blocking.
func (m *reader) buffered() bool { return m.r.Buffered() > 0 }

// writeMessage writes one message with its header.
func writeMessage(w *bufio.Writer, typ byte, body []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// readStartup reads one startup-phase packet (no type byte): its body after the length.
func readStartup(r *bufio.Reader) ([]byte, error) {
	hdr, err := r.Peek(4)
	if err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr)))
	// 8 bytes: length and code; 10000 bytes is PostgreSQL's own limit for startup packets.
	if n < 8 || n > 10000 {
		return nil, fmt.Errorf("invalid startup packet length %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("startup packet: %w", err)
	}
	return buf[4:], nil
}
