package postgres

import (
	"bufio"
	"encoding/binary"
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

// reader reads length-prefixed messages into one reused buffer.
type reader struct {
	r   *bufio.Reader
	buf []byte
	max int // largest body accepted, bytes
}

func newReader(r *bufio.Reader, max int) *reader {
	return &reader{r: r, buf: make([]byte, 0, 8192), max: max}
}

// next returns the next message's type and body. The body is valid until the next call.
func (m *reader) next() (byte, []byte, error) {
	hdr, err := m.r.Peek(5)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	typ := hdr[0]
	n := int(int32(binary.BigEndian.Uint32(hdr[1:5])))
	if n < 4 {
		return 0, nil, fmt.Errorf("message %q: invalid length %d", typ, n)
	}
	n -= 4
	if n > m.max {
		return 0, nil, fmt.Errorf("message %q: %d bytes exceeds the gateway's %d-byte limit", typ, n, m.max)
	}
	if _, err := m.r.Discard(5); err != nil {
		return 0, nil, err
	}
	if cap(m.buf) < n {
		m.buf = make([]byte, n)
	}
	m.buf = m.buf[:n]
	if _, err := io.ReadFull(m.r, m.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return typ, m.buf, nil
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
