package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hoopgw/hoop/internal/jsonw"
)

// Event kinds the gateway records. Reviews use "review." and what happened
// ("review.create", "review.approve"); a rule's kind "review.*" matches them all.
const (
	KindLogin        = "login"
	KindTunnelOpen   = "tunnel.open"
	KindTunnelClose  = "tunnel.close"
	KindSessionStart = "session.start"
	KindSessionEnd   = "session.end"
	KindStatement    = "statement"
	KindPolicyReload = "policy.reload"
	KindMaskColumn   = "mask.column" // a column rule masked a column a session read
	KindAlert        = "alert"       // an alert rule fired (see Alerts)

	KindLoginFailed       = "login.failed"       // a token the gateway refused (one per source every 10 s)
	KindTunnelRefused     = "tunnel.refused"     // a tunnel the policy refused
	KindGatewayStart      = "gateway.start"      // a gateway started (and closed what its last run left open)
	KindRecordingsRead    = "recordings.read"    // someone listed or read recorded sessions
	KindRecordingsRefused = "recordings.refused" // someone not allowed to read recordings tried
	KindAuditVerify       = "audit.verify"       // someone verified the chain
	KindSessionRefused    = "session.refused"    // a database session over a session limit
)

// Kinds returns the event kinds above, for a config check to catch a typo ("statment").
func Kinds() []string {
	return []string{KindLogin, KindTunnelOpen, KindTunnelClose, KindSessionStart, KindSessionEnd,
		KindStatement, KindPolicyReload, KindMaskColumn, KindAlert, KindLoginFailed, KindTunnelRefused, KindGatewayStart,
		KindRecordingsRead, KindRecordingsRefused, KindAuditVerify, KindSessionRefused}
}

// Event is one entry of the audit trail. The store seals it into the chain (Chain.Seal)
// inside the transaction that appends it, then hands it to the sinks (Dispatcher) and
// the alert rules (Alerts).
//
// Its JSON form, one line in a file sink:
//
//	{"seq":42,"time":"2025-05-01T10:00:00.123456Z","kind":"statement","actor":"ana@example.com",
//	 "connection":"db-prod","session":"s-7f3a","data":{"class":"write","decision":"deny"},
//	 "prev":"9f86…","hash":"2c26…"}
type Event struct {
	Seq        int64          `json:"seq"`                  // 42: 1 for the first event, then one more for each; not hashed
	Time       time.Time      `json:"time"`                 // UTC, to the microsecond (Seal truncates it)
	Kind       string         `json:"kind"`                 // "statement"
	Actor      string         `json:"actor,omitempty"`      // "ana@example.com"; "" for the gateway itself
	Connection string         `json:"connection,omitempty"` // "db-prod"
	Session    string         `json:"session,omitempty"`    // "s-7f3a"
	Data       map[string]any `json:"data"`                 // {"decision": "deny", "rule": "no-writes"}: JSON-able details
	RawData    string         `json:"-"`                    // Data's canonical text, when that is what the event came with (see DataJSON)
	Prev       []byte         `json:"prev"`                 // the previous event's Hash (hex in JSON); 32 zero bytes for the first
	Hash       []byte         `json:"hash"`                 // HMAC-SHA256 of the canonical encoding (hex in JSON)
}

// DataJSON returns the canonical JSON text of e.Data: the exact text the chain hashes,
// and the text a store keeps for Data. It is compact, with object keys sorted, numbers
// as encoding/json writes them and "{}" for no data.
//
// The chain hashes this text rather than the Go values because Data goes through JSON
// in the store and comes back as other types (an int64 becomes a json.Number or a
// float64, a struct a map). DataJSON is a fixed point of that round trip: for
// m, _ := ParseData(text), DataJSON of m is text again, byte for byte. A reader that
// decodes Data with plain json.Unmarshal (float64 numbers) still verifies, except for
// integers beyond ±2^53, which float64 cannot hold: decode with ParseData.
//
// An event made from a store's row may carry RawData, the text the store kept, and no
// Data: DataJSON returns RawData as it is, and Fields decodes it.
func (e Event) DataJSON() ([]byte, error) {
	if e.RawData != "" && e.Data == nil {
		return []byte(e.RawData), nil
	}
	if len(e.Data) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("audit event data: %w", err)
	}
	if canonical(e.Data) {
		return b, nil
	}
	// A struct, a typed map or a Marshaler: its JSON may not be in canonical order;
	// decoding and encoding again sorts every object's keys.
	m, err := ParseData(b)
	if err != nil {
		return nil, err
	}
	if b, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("audit event data: %w", err)
	}
	return b, nil
}

// canonical reports whether json.Marshal writes v in the form DataJSON wants as it is:
// maps with string keys (sorted by Marshal), slices, numbers, booleans, nil, and valid
// UTF-8 strings (Marshal writes an invalid byte as the escape \ufffd, which decodes to
// a valid U+FFFD that it then writes as is).
func canonical(v any) bool {
	switch v := v.(type) {
	case nil, bool, json.Number, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return true
	case string:
		return utf8.ValidString(v)
	case []string:
		for _, s := range v {
			if !utf8.ValidString(s) {
				return false
			}
		}
		return true
	case map[string]string:
		for k, s := range v {
			if !utf8.ValidString(k) || !utf8.ValidString(s) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, x := range v {
			if !utf8.ValidString(k) || !canonical(x) {
				return false
			}
		}
		return true
	case []any:
		for _, x := range v {
			if !canonical(x) {
				return false
			}
		}
		return true
	}
	return false
}

// ParseData decodes the JSON text of an event's Data, as a store keeps it: numbers
// become json.Number, so that DataJSON gives the same text back. "{}", "null" and ""
// give nil.
func ParseData(text []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("audit event data: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("audit event data: text after the JSON object")
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// canonicalVersion starts every canonical encoding, so that a later format can't be
// taken for this one.
const canonicalVersion = "hoop-audit-v1\n"

// canonicalBytes is the encoding the chain hashes (see spec.md): the version, the time
// in Unix microseconds (8 bytes, big-endian), then kind, actor, connection, session,
// DataJSON and Prev, each as a 4-byte big-endian length and its bytes. Seq and Hash are
// left out: the links give the order.
func (e Event) canonicalBytes() ([]byte, error) {
	data, err := e.DataJSON()
	if err != nil {
		return nil, err
	}
	return e.canonicalWith(data), nil
}

// canonicalWith is canonicalBytes with Data's canonical text given.
func (e Event) canonicalWith(data []byte) []byte {
	n := len(canonicalVersion) + 8 + 6*4 + len(e.Kind) + len(e.Actor) + len(e.Connection) +
		len(e.Session) + len(data) + len(e.Prev)
	return e.appendCanonical(make([]byte, 0, n), data)
}

// appendCanonical appends canonicalWith's encoding to b.
func (e Event) appendCanonical(b, data []byte) []byte {
	b = append(b, canonicalVersion...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, f := range [...]string{e.Kind, e.Actor, e.Connection, e.Session} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	for _, f := range [...][]byte{data, e.Prev} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// wireEvent is Event's JSON form: Prev and Hash in hex, Data as its canonical text.
type wireEvent struct {
	Seq        int64           `json:"seq"`
	Time       time.Time       `json:"time"`
	Kind       string          `json:"kind"`
	Actor      string          `json:"actor,omitempty"`
	Connection string          `json:"connection,omitempty"`
	Session    string          `json:"session,omitempty"`
	Data       json.RawMessage `json:"data"`
	Prev       string          `json:"prev"`
	Hash       string          `json:"hash"`
}

// MarshalJSON writes e as in the Event example: Prev and Hash in hex, Data as DataJSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

// AppendJSON appends MarshalJSON's text to dst, without reflection: sinks write one line
// per event, and this is their hot path. Data is written as DataJSON returns it (compact,
// from json.Marshal or the store's copy of that text).
func (e Event) AppendJSON(dst []byte) ([]byte, error) {
	var data []byte
	if e.RawData == "" || e.Data != nil {
		var err error
		if data, err = e.DataJSON(); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = jsonw.Time(dst, e.Time)
	dst = append(dst, `,"kind":`...)
	dst = jsonw.String(dst, e.Kind)
	for _, f := range [...]struct{ name, v string }{{`,"actor":`, e.Actor}, {`,"connection":`, e.Connection}, {`,"session":`, e.Session}} {
		if f.v != "" {
			dst = append(dst, f.name...)
			dst = jsonw.String(dst, f.v)
		}
	}
	dst = append(dst, `,"data":`...)
	switch {
	case data != nil:
		dst = append(dst, data...)
	case e.RawData != "":
		dst = append(dst, e.RawData...)
	default:
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"prev":`...)
	dst = jsonw.Hex(dst, e.Prev)
	dst = append(dst, `,"hash":`...)
	dst = jsonw.Hex(dst, e.Hash)
	return append(dst, '}'), nil
}

// Fields returns Data, decoding RawData when the event came with that alone (nil when it
// does not decode).
func (e Event) Fields() map[string]any {
	if e.Data != nil || e.RawData == "" {
		return e.Data
	}
	m, _ := ParseData([]byte(e.RawData))
	return m
}

// UnmarshalJSON reads what MarshalJSON writes; Data is decoded by ParseData, so the
// event verifies as it was sealed.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out := Event{Seq: w.Seq, Time: w.Time, Kind: w.Kind, Actor: w.Actor, Connection: w.Connection, Session: w.Session}
	var err error
	if len(w.Data) > 0 {
		if out.Data, err = ParseData(w.Data); err != nil {
			return err
		}
	}
	if out.Prev, err = hex.DecodeString(w.Prev); err != nil {
		return fmt.Errorf("audit event prev: %w", err)
	}
	if out.Hash, err = hex.DecodeString(w.Hash); err != nil {
		return fmt.Errorf("audit event hash: %w", err)
	}
	*e = out
	return nil
}
