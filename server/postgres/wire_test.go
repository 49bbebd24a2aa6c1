package postgres

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func msg(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

func TestReaderNext(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		typ     byte
		body    string
		wantErr string
	}{
		{"query", msg('Q', "select 1\x00"), 100, 'Q', "select 1\x00", ""},
		{"empty body", msg('S', ""), 100, 'S', "", ""},
		{"too large", msg('Q', strings.Repeat("x", 101)), 100, 0, "", `message 'Q': 101 bytes exceeds the gateway's 100-byte limit`},
		{"length below 4", []byte{'Q', 0, 0, 0, 3}, 100, 0, "", `message 'Q': invalid length 3`},
		{"negative length", []byte{'Q', 0xff, 0xff, 0xff, 0xff}, 100, 0, "", `message 'Q': invalid length -1`},
		{"truncated body", msg('Q', "select 1")[:8], 100, 0, "", "unexpected EOF"},
		{"truncated header", []byte{'Q', 0}, 100, 0, "", "unexpected EOF"},
		{"nothing", nil, 100, 0, "", "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReader(bufio.NewReader(bytes.NewReader(tt.in)), 64, tt.max)
			typ, body, err := r.next()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || typ != tt.typ || string(body) != tt.body {
				t.Fatalf("got (%q, %q, %v), want (%q, %q)", typ, body, err, tt.typ, tt.body)
			}
		})
	}
}

func TestReadStartup(t *testing.T) {
	pkt := func(n uint32, rest ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, n)
		return append(b, rest...)
	}
	tests := []struct {
		name, wantErr string
		in            []byte
	}{
		{"too short", "invalid startup packet length 4", pkt(4)},
		{"too long", "invalid startup packet length 10001", pkt(10001)},
		{"tls hello read as a length", "invalid startup packet length 369295616", []byte{0x16, 0x03, 0x01, 0x00, 0x10}},
		{"truncated", "startup packet: unexpected EOF", pkt(16, 0, 3, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readStartup(bufio.NewReader(bytes.NewReader(tt.in)))
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
	body, err := readStartup(bufio.NewReader(bytes.NewReader(pkt(8, 0x04, 0xd2, 0x16, 0x2f))))
	if err != nil || binary.BigEndian.Uint32(body) != 80877103 {
		t.Fatalf("SSLRequest: got %x, %v", body, err)
	}
}

// FuzzReader feeds arbitrary client bytes to the message and startup readers: they must
// never panic, never return a body over the limit, and always make progress or fail.
func FuzzReader(f *testing.F) {
	f.Add(msg('Q', "select 1\x00"))
	f.Add(append(msg('P', "s1\x00select $1\x00\x00\x00"), msg('S', "")...))
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	f.Add([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = readStartup(bufio.NewReader(bytes.NewReader(in)))
		r := newReader(bufio.NewReader(bytes.NewReader(in)), 64, 1024)
		for range len(in) + 1 {
			_, body, err := r.next()
			if err != nil {
				return
			}
			if len(body) > 1024 {
				t.Fatalf("body of %d bytes over the 1024-byte limit", len(body))
			}
		}
		t.Fatal("the reader returned more messages than there are bytes")
	})
}

// TestReaderLetsLargeBodiesGo: a body over keep gets its own buffer, which the reader
// does not keep; discard and copyBody read past a body without holding it.
func TestReaderLetsLargeBodiesGo(t *testing.T) {
	in := append(append(append(msg('Q', strings.Repeat("a", 1000)), msg('d', strings.Repeat("b", 5000))...),
		msg('P', strings.Repeat("c", 3000))...), msg('S', "")...)
	r := newReader(bufio.NewReaderSize(bytes.NewReader(in), 16), 64, 1<<20)
	typ, n, err := r.header()
	if err != nil || typ != 'Q' || n != 1000 {
		t.Fatalf("header: %q %d %v", typ, n, err)
	}
	body, err := r.body(n)
	if err != nil || string(body) != strings.Repeat("a", 1000) {
		t.Fatalf("body: %v", err)
	}
	if cap(r.buf) > 64 {
		t.Errorf("after a large body the reader keeps %d bytes, want at most 64", cap(r.buf))
	}
	typ, n, _ = r.header()
	var out bytes.Buffer
	if err := r.copyBody(&out, n); err != nil || typ != 'd' || out.String() != strings.Repeat("b", 5000) {
		t.Fatalf("copyBody: %q, %d bytes, %v", typ, out.Len(), err)
	}
	typ, n, _ = r.header()
	if err := r.discard(n); err != nil || typ != 'P' {
		t.Fatalf("discard: %q %v", typ, err)
	}
	if typ, body, err := r.next(); err != nil || typ != 'S' || len(body) != 0 {
		t.Fatalf("the message after: %q %q %v", typ, body, err)
	}
}
