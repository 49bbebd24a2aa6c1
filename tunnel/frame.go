package tunnel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Frame limits (see spec.md).
const (
	// MaxHeaderFrame bounds a stream header frame and its reply frame.
	MaxHeaderFrame = 8 << 10
	// MaxControlFrame bounds one control message frame.
	MaxControlFrame = 64 << 10
)

// Stream kinds: the first frame of every stream names one.
const (
	// KindControl is the session's control stream, opened once, first, by the client.
	KindControl = "control"
	// KindPostgres carries one PostgreSQL frontend/backend connection.
	KindPostgres = "postgres"
)

// kinds lists the kinds an acceptor knows. A new kind is added here and in spec.md.
var kinds = map[string]struct {
	needsConnection bool
}{
	KindControl:  {needsConnection: false},
	KindPostgres: {needsConnection: true},
}

// CodeBadHeader is the reply code for a header frame that could not be read or is not
// valid. Gateways choose other codes for refusals of valid headers (api.CodeForbidden…).
const CodeBadHeader = "bad_header"

// Header is the first frame of every stream, sent by the opener.
type Header struct {
	Kind       string `json:"kind"`                  // "postgres"
	Connection string `json:"connection,omitempty"`  // "db-prod"; required for postgres
	ClientAddr string `json:"client_addr,omitempty"` // "127.0.0.1:51234", the local client behind the stream
}

// Validate reports what is wrong with h, or nil. Its errors match ErrBadHeader.
func (h Header) Validate() error {
	if h.Kind == "" {
		return badHeader(nil, "missing kind")
	}
	k, ok := kinds[h.Kind]
	if !ok {
		return badHeader(nil, "unknown kind %q", h.Kind)
	}
	if k.needsConnection && h.Connection == "" {
		return badHeader(nil, "missing connection for kind %q", h.Kind)
	}
	return nil
}

// reply is the acceptor's answer to a header frame.
type reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"` // "stream header: unknown kind \"ssh\""
	Code  string `json:"code,omitempty"`  // "bad_header"
}

// Control message types.
const (
	ControlToken         = "token"          // client→gateway: a fresh bearer token
	ControlTokenOK       = "token_ok"       // gateway→client: the token is accepted, ExpiresAt set
	ControlTokenRejected = "token_rejected" // gateway→client: the token is refused, Error set
	ControlNotice        = "notice"         // gateway→client: Level and Text, for the user's stderr
	ControlClose         = "close"          // gateway→client: Reason, sent just before the gateway ends the session
)

// Notice levels.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
)

// ControlMessage is one message on the control stream. Type says which fields are set.
// Receivers ignore unknown fields and types, so either side may add some.
type ControlMessage struct {
	Type      string    `json:"type"`                // "notice"
	Token     string    `json:"token,omitempty"`     // token: the bearer token; never log it
	ExpiresAt time.Time `json:"expires_at,omitzero"` // token_ok: when the accepted token expires
	Error     string    `json:"error,omitempty"`     // token_rejected: "token expired"
	Level     string    `json:"level,omitempty"`     // notice: "info" or "warning"
	Text      string    `json:"text,omitempty"`      // notice: "statement held for review r-17"
	Reason    string    `json:"reason,omitempty"`    // close: "token expired"
}

// ReadFrame reads one frame: a 4-byte big-endian length, then that many bytes, which it
// returns. A zero length is ErrEmptyFrame; a length over limit is ErrFrameTooLarge and
// nothing more is read.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	if uint64(n) > uint64(limit) {
		return nil, &frameSizeError{size: int(n), limit: limit}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return buf, nil
}

// WriteFrame writes payload as one frame, in a single Write so that a frame is never
// interleaved with another writer's on a yamux stream.
func WriteFrame(w io.Writer, payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("write frame: %w", ErrEmptyFrame)
	}
	if uint64(len(payload)) > 1<<32-1 {
		return fmt.Errorf("write frame: %w", &frameSizeError{size: len(payload), limit: 1<<32 - 1})
	}
	buf := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[4:], payload)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// writeJSONFrame encodes v and writes it as one frame of at most limit bytes.
func writeJSONFrame(w io.Writer, v any, limit int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	if len(b) > limit {
		return fmt.Errorf("write frame: %w", &frameSizeError{size: len(b), limit: limit})
	}
	return WriteFrame(w, b)
}

// ParseHeader decodes and validates a header frame's payload: one JSON object whose
// members are the Header fields, spelled exactly, each at most once, each a string.
// Unknown, duplicate or differently cased fields, trailing data and anything Validate
// refuses are errors, so every accepted header has one meaning for any JSON parser.
// Errors match ErrBadHeader.
func ParseHeader(payload []byte) (Header, error) {
	var h Header
	fields := map[string]*string{"kind": &h.Kind, "connection": &h.Connection, "client_addr": &h.ClientAddr}
	seen := make(map[string]bool, len(fields))

	dec := json.NewDecoder(bytes.NewReader(payload))
	tok, err := dec.Token()
	if err != nil {
		return Header{}, badHeader(err, "invalid JSON: %v", eofIsUnexpected(err))
	}
	if tok != json.Delim('{') {
		return Header{}, badHeader(nil, "invalid JSON: want an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Header{}, badHeader(err, "invalid JSON: %v", eofIsUnexpected(err))
		}
		name, _ := tok.(string) // More and Token guarantee an object key here
		dst, ok := fields[name]
		if !ok {
			return Header{}, badHeader(nil, "unknown field %q", name)
		}
		if seen[name] {
			return Header{}, badHeader(nil, "duplicate field %q", name)
		}
		seen[name] = true
		tok, err = dec.Token()
		if err != nil {
			return Header{}, badHeader(err, "invalid JSON: %v", eofIsUnexpected(err))
		}
		v, ok := tok.(string)
		if !ok {
			return Header{}, badHeader(nil, "field %q must be a string", name)
		}
		*dst = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Header{}, badHeader(err, "invalid JSON: %v", eofIsUnexpected(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Header{}, badHeader(nil, "invalid JSON: data after the header object")
	}
	if err := h.Validate(); err != nil {
		return Header{}, err
	}
	return h, nil
}

// eofIsUnexpected turns the decoder's io.EOF inside an object into io.ErrUnexpectedEOF.
func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readHeader reads and validates one header frame from r. Its errors match ErrBadHeader
// and their text is what the acceptor replies.
func readHeader(r io.Reader) (Header, error) {
	b, err := ReadFrame(r, MaxHeaderFrame)
	if err != nil {
		return Header{}, badHeader(err, "%v", err)
	}
	return ParseHeader(b)
}

// readReply reads the acceptor's answer to a header frame.
func readReply(r io.Reader) (reply, error) {
	b, err := ReadFrame(r, MaxHeaderFrame)
	if err != nil {
		return reply{}, fmt.Errorf("stream reply: %w", err)
	}
	var rep reply
	if err := json.Unmarshal(b, &rep); err != nil {
		return reply{}, fmt.Errorf("stream reply: invalid JSON: %w", err)
	}
	return rep, nil
}

// readControl reads one control message. Unknown fields are ignored (see ControlMessage).
// Errors match ErrBadControl unless the stream itself failed.
func readControl(r io.Reader) (ControlMessage, error) {
	b, err := ReadFrame(r, MaxControlFrame)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrEmptyFrame) {
			return ControlMessage{}, fmt.Errorf("control message: %w: %w", ErrBadControl, err)
		}
		return ControlMessage{}, err
	}
	var m ControlMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return ControlMessage{}, fmt.Errorf("control message: %w: invalid JSON: %w", ErrBadControl, err)
	}
	if m.Type == "" {
		return ControlMessage{}, fmt.Errorf("control message: %w: missing type", ErrBadControl)
	}
	return m, nil
}
