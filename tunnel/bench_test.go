package tunnel

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
)

// BenchmarkThroughput measures a bulk read through one stream, gateway to client, over
// WebSocket and yamux on loopback: the shape of a large query result. The default window
// must not be what limits it; the 256 KiB case (yamux's default) is there to compare.
func BenchmarkThroughput(b *testing.B) {
	const chunk = 1 << 20
	for _, window := range []uint32{minStreamWindow, DefaultStreamWindow} {
		b.Run(fmt.Sprintf("window=%dKiB", window>>10), func(b *testing.B) {
			cfg := &Config{StreamWindow: window}
			g := newGateway(b, cfg)
			c, s := g.dial(b, "db-prod", cfg)
			go serveBulk(s)

			conn, err := c.Open(context.Background(), Header{Kind: KindPostgres})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			buf := make([]byte, 256<<10)

			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			total := uint64(b.N) * chunk
			if err := binary.Write(conn, binary.BigEndian, total); err != nil {
				b.Fatal(err)
			}
			n, err := io.CopyBuffer(io.Discard, io.LimitReader(conn, int64(total)), buf)
			if err != nil || uint64(n) != total {
				b.Fatalf("read %d of %d bytes: %v", n, total, err)
			}
		})
	}
}

// serveBulk answers each stream's 8-byte request for N bytes with N bytes.
func serveBulk(s *ServerSession) {
	data := make([]byte, 1<<20)
	for {
		st, err := s.Accept(context.Background())
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			if st.Accept() != nil {
				return
			}
			var total uint64
			if binary.Read(st, binary.BigEndian, &total) != nil {
				return
			}
			for total > 0 {
				n := min(total, uint64(len(data)))
				if _, err := st.Write(data[:n]); err != nil {
					return
				}
				total -= n
			}
		}()
	}
}

// BenchmarkSmallRoundTrip measures one small request and its answer through a stream:
// the shape of an OLTP statement, where per-message cost matters more than the window.
func BenchmarkSmallRoundTrip(b *testing.B) {
	g := newGateway(b, nil)
	c, s := g.dial(b, "db-prod", nil)
	serveEcho(s)
	conn, err := c.Open(context.Background(), Header{Kind: KindPostgres})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msg := make([]byte, 64)
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
	}
}
