package tunnel

import (
	"encoding/binary"
	"net"
)

// yamux writes each frame as two Writes, its 12-byte header then the body. Over a
// WebSocket that is two messages, two flushes, two syscalls per frame. coalescer joins a
// small data frame's header and body into one Write (half the round-trip time of a small
// message in BenchmarkSmallRoundTrip).
//
// It relies on yamux writing from a single goroutine (its send loop) and following a data
// header of non-zero length with the body. Joining writes never changes the byte stream,
// since WebSocket message boundaries carry no meaning here; were yamux to break the second
// assumption, a header would only wait for the next write.
type coalescer struct {
	net.Conn
	buf     []byte // the pending header, then header+body
	pending bool   // buf holds a data frame header waiting for its body
}

const (
	yamuxHeaderSize  = 12
	yamuxVersion     = 0
	yamuxTypeData    = 0
	maxCoalescedBody = 32 << 10 // larger bodies are not worth a copy
)

func (c *coalescer) Write(p []byte) (int, error) {
	if c.pending {
		c.pending = false
		c.buf = append(c.buf, p...)
		if _, err := c.Conn.Write(c.buf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[0] == yamuxVersion && p[1] == yamuxTypeData {
		if n := binary.BigEndian.Uint32(p[8:]); n > 0 && n <= maxCoalescedBody {
			c.buf = append(c.buf[:0], p...)
			c.pending = true
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}
