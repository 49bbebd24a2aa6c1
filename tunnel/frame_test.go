package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// frame returns payload with its length prefix.
func frame(payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(b, payload...)
}

// prefix returns a bare length prefix claiming n bytes.
func prefix(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Header
		wantErr string // exact text; empty means success
	}{
		{
			name: "postgres",
			in:   frame(`{"kind":"postgres","connection":"db-prod","client_addr":"127.0.0.1:51234"}`),
			want: Header{Kind: KindPostgres, Connection: "db-prod", ClientAddr: "127.0.0.1:51234"},
		},
		{
			name: "control without connection",
			in:   frame(`{"kind":"control"}`),
			want: Header{Kind: KindControl},
		},
		{
			name: "trailing whitespace",
			in:   frame("{\"kind\":\"control\"}\n "),
			want: Header{Kind: KindControl},
		},
		{
			name:    "oversized",
			in:      prefix(1 << 20),
			wantErr: "stream header: frame of 1048576 bytes exceeds the 8192-byte limit",
		},
		{
			name:    "one byte over the limit",
			in:      prefix(MaxHeaderFrame + 1),
			wantErr: "stream header: frame of 8193 bytes exceeds the 8192-byte limit",
		},
		{
			name:    "zero length",
			in:      prefix(0),
			wantErr: "stream header: empty frame",
		},
		{
			name:    "garbage first frame",
			in:      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
			wantErr: "stream header: frame of 1195725856 bytes exceeds the 8192-byte limit",
		},
		{
			name:    "bad JSON",
			in:      frame(`{"kind":`),
			wantErr: "stream header: invalid JSON: unexpected EOF",
		},
		{
			name:    "not JSON",
			in:      frame(`xyz`),
			wantErr: "stream header: invalid JSON: invalid character 'x' looking for beginning of value",
		},
		{
			name:    "unknown field",
			in:      frame(`{"kind":"postgres","connection":"db-prod","user":"root"}`),
			wantErr: `stream header: unknown field "user"`,
		},
		{
			name:    "field name in another case",
			in:      frame(`{"KIND":"postgres","connection":"db-prod"}`),
			wantErr: `stream header: unknown field "KIND"`,
		},
		{
			name:    "duplicate field",
			in:      frame(`{"kind":"control","kind":"postgres","connection":"db-prod"}`),
			wantErr: `stream header: duplicate field "kind"`,
		},
		{
			name:    "number value",
			in:      frame(`{"kind":"postgres","connection":5432}`),
			wantErr: `stream header: field "connection" must be a string`,
		},
		{
			name:    "null value",
			in:      frame(`{"kind":null}`),
			wantErr: `stream header: field "kind" must be a string`,
		},
		{
			name:    "object value",
			in:      frame(`{"kind":{"a":"b"}}`),
			wantErr: `stream header: field "kind" must be a string`,
		},
		{
			name:    "trailing comma",
			in:      frame(`{"kind":"control",}`),
			wantErr: "stream header: invalid JSON: invalid character '}' looking for beginning of object key string",
		},
		{
			name:    "bad value syntax",
			in:      frame(`{"kind":xyz}`),
			wantErr: "stream header: invalid JSON: invalid character 'x' looking for beginning of value",
		},
		{
			name:    "trailing object",
			in:      frame(`{"kind":"control"}{"kind":"control"}`),
			wantErr: "stream header: invalid JSON: data after the header object",
		},
		{
			name:    "trailing brace",
			in:      frame(`{"kind":"control"}}`),
			wantErr: "stream header: invalid JSON: data after the header object",
		},
		{
			name:    "array",
			in:      frame(`[1]`),
			wantErr: "stream header: invalid JSON: want an object",
		},
		{
			name:    "null",
			in:      frame(`null`),
			wantErr: "stream header: invalid JSON: want an object",
		},
		{
			name:    "empty object",
			in:      frame(`{}`),
			wantErr: "stream header: missing kind",
		},
		{
			name:    "unknown kind",
			in:      frame(`{"kind":"ssh","connection":"db-prod"}`),
			wantErr: `stream header: unknown kind "ssh"`,
		},
		{
			name:    "kind is case sensitive",
			in:      frame(`{"kind":"Postgres","connection":"db-prod"}`),
			wantErr: `stream header: unknown kind "Postgres"`,
		},
		{
			name:    "missing connection",
			in:      frame(`{"kind":"postgres"}`),
			wantErr: `stream header: missing connection for kind "postgres"`,
		},
		{
			name:    "short prefix",
			in:      []byte{0, 0},
			wantErr: "stream header: read frame length: unexpected EOF",
		},
		{
			name:    "short payload",
			in:      append(prefix(100), `{"kind"`...),
			wantErr: "stream header: read frame of 100 bytes: unexpected EOF",
		},
		{
			name:    "nothing",
			in:      nil,
			wantErr: "stream header: read frame length: EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readHeader(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got header %+v, want error %q", got, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("got error %q, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrBadHeader) {
					t.Errorf("got error %v, want one matching ErrBadHeader", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("header mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadFrameSentinels(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", prefix(MaxControlFrame + 1), ErrFrameTooLarge},
		{"empty", prefix(0), ErrEmptyFrame},
		{"truncated", append(prefix(10), 'x'), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), MaxControlFrame)
			if !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want one matching %v", err, tt.want)
			}
		})
	}
}

func TestFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{
		[]byte("x"),
		[]byte(`{"kind":"control"}`),
		bytes.Repeat([]byte("a"), MaxHeaderFrame),
	}
	for _, p := range payloads {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatalf("write frame of %d bytes: %v", len(p), err)
		}
		if got, want := buf.Len(), 4+len(p); got != want {
			t.Errorf("got %d bytes on the wire, want %d", got, want)
		}
		got, err := ReadFrame(&buf, MaxHeaderFrame)
		if err != nil {
			t.Fatalf("read frame of %d bytes: %v", len(p), err)
		}
		if !bytes.Equal(got, p) {
			t.Errorf("got payload %q, want %q", got, p)
		}
	}
	if err := WriteFrame(io.Discard, nil); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("got error %v for an empty payload, want ErrEmptyFrame", err)
	}
}

func TestWriteJSONFrameLimit(t *testing.T) {
	h := Header{Kind: KindPostgres, Connection: strings.Repeat("d", MaxHeaderFrame)}
	err := writeJSONFrame(io.Discard, h, MaxHeaderFrame)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("got error %v, want one matching ErrFrameTooLarge", err)
	}
}

func TestReadControl(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		in      []byte
		want    ControlMessage
		wantErr error
	}{
		{
			name: "token_ok",
			in:   frame(`{"type":"token_ok","expires_at":"2030-01-02T03:04:05Z"}`),
			want: ControlMessage{Type: ControlTokenOK, ExpiresAt: expires},
		},
		{
			name: "unknown fields are ignored",
			in:   frame(`{"type":"notice","level":"info","text":"hi","colour":"red"}`),
			want: ControlMessage{Type: ControlNotice, Level: LevelInfo, Text: "hi"},
		},
		{
			name: "unknown type is passed on",
			in:   frame(`{"type":"future"}`),
			want: ControlMessage{Type: "future"},
		},
		{name: "missing type", in: frame(`{"text":"hi"}`), wantErr: ErrBadControl},
		{name: "bad JSON", in: frame(`{`), wantErr: ErrBadControl},
		{name: "too large", in: prefix(MaxControlFrame + 1), wantErr: ErrFrameTooLarge},
		{name: "empty", in: prefix(0), wantErr: ErrEmptyFrame},
		{name: "end of stream", in: nil, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readControl(bytes.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want one matching %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %q, want none", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestControlMessageJSON(t *testing.T) {
	tests := []struct {
		msg  ControlMessage
		want string
	}{
		{ControlMessage{Type: ControlToken, Token: "t0k"}, `{"type":"token","token":"t0k"}`},
		{ControlMessage{Type: ControlTokenOK, ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, `{"type":"token_ok","expires_at":"2030-01-02T03:04:05Z"}`},
		{ControlMessage{Type: ControlTokenRejected, Error: "token expired"}, `{"type":"token_rejected","error":"token expired"}`},
		{ControlMessage{Type: ControlNotice, Level: LevelWarning, Text: "held"}, `{"type":"notice","level":"warning","text":"held"}`},
		{ControlMessage{Type: ControlClose, Reason: "token expired"}, `{"type":"close","reason":"token expired"}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := writeJSONFrame(&buf, tt.msg, MaxControlFrame); err != nil {
			t.Fatal(err)
		}
		if got := buf.String()[4:]; got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
