package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hoopgw/hoop/internal/jsonw"
)

// Statements and audit events are kept in logs of blocks: a commit writes one row of
// statement_log per session it has statements of, and one row of audit_log for all its
// events, each row holding its entries as JSON objects one after another. Writing a
// block costs SQLite about what one row costs, where a row per statement and per event
// cost it most of the gateway's time under load (see internal/journal for the
// write-ahead that comes first).
//
// A statement_log entry is a whole statement, or the outcome of one written before
// ("outcome": true, with the outcome's fields: its answer, or "interrupted" after a
// crash), which is applied to it. An audit_log
// entry is one sealed event, its data kept as the text the chain hashed. Rows of the
// statements and audit_events tables, which older gateways wrote, are read as well.

// stmtEntry is a statement_log entry as JSON decodes it.
type stmtEntry struct {
	Seq           int64          `json:"seq"`
	Outcome       bool           `json:"outcome"` // an outcome for the statement of this seq
	Started       int64          `json:"started"` // µs since the Unix epoch
	SQL           string         `json:"sql"`
	Params        []*string      `json:"params"`
	Class         string         `json:"class"`
	Decision      string         `json:"decision"`
	Rule          string         `json:"rule"`
	PolicyVersion string         `json:"policy_version"`
	ReviewID      string         `json:"review_id"`
	State         string         `json:"state"`
	DurationUS    int64          `json:"duration_us"`
	RowCount      int64          `json:"row_count"`
	CommandTag    string         `json:"command_tag"`
	Error         string         `json:"error"`
	Masking       map[string]int `json:"masking"`
	Columns       []string       `json:"columns"`
	Rows          [][]*string    `json:"rows"`
}

// appendStatementEntry appends st as a statement_log entry: stmtEntry's JSON, written
// without reflection, empty outcome fields left out. Text that is not UTF-8 is written
// with U+FFFD in place of its bad bytes, as encoding/json does.
func appendStatementEntry(b []byte, st *Statement) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, st.Seq, 10)
	b = append(b, `,"started":`...)
	b = strconv.AppendInt(b, st.StartedAt.UnixMicro(), 10)
	b = append(b, `,"sql":`...)
	b = jsonw.String(b, st.SQL)
	b = append(b, `,"params":`...)
	b = appendNullableStrings(b, st.Params, true)
	for _, f := range [...]struct{ name, v string }{{`,"class":`, st.Class}, {`,"decision":`, st.Decision}, {`,"rule":`, st.Rule},
		{`,"policy_version":`, st.PolicyVersion}, {`,"review_id":`, st.ReviewID}, {`,"state":`, st.State},
		{`,"command_tag":`, st.CommandTag}, {`,"error":`, st.Error}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = jsonw.String(b, f.v)
		}
	}
	return appendOutcomeFields(b, st)
}

// appendOutcomeEntry appends st's outcome as a statement_log entry.
func appendOutcomeEntry(b []byte, st *Statement) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, st.Seq, 10)
	b = append(b, `,"outcome":true,"state":`...)
	b = jsonw.String(b, st.State)
	for _, f := range [...]struct{ name, v string }{{`,"command_tag":`, st.CommandTag}, {`,"error":`, st.Error}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = jsonw.String(b, f.v)
		}
	}
	return appendOutcomeFields(b, st)
}

// appendOutcomeFields appends the outcome's numbers and lists, and ends the entry.
func appendOutcomeFields(b []byte, st *Statement) []byte {
	if st.Duration != 0 {
		b = append(b, `,"duration_us":`...)
		b = strconv.AppendInt(b, st.Duration.Microseconds(), 10)
	}
	if st.RowCount != 0 {
		b = append(b, `,"row_count":`...)
		b = strconv.AppendInt(b, st.RowCount, 10)
	}
	if st.Masking != nil {
		b = append(b, `,"masking":{`...)
		keys := make([]string, 0, len(st.Masking))
		for k := range st.Masking {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(st.Masking[k]), 10)
		}
		b = append(b, '}')
	}
	if st.Columns != nil {
		b = append(b, `,"columns":[`...)
		for i, c := range st.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, c)
		}
		b = append(b, ']')
	}
	if st.Rows != nil {
		b = append(b, `,"rows":[`...)
		for i, r := range st.Rows {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNullableStrings(b, r, false)
		}
		b = append(b, ']')
	}
	return append(b, '}', '\n')
}

// appendNullableStrings appends ss as a JSON array of strings and nulls; a nil ss is
// null, or [] with empty.
func appendNullableStrings(b []byte, ss []*string, empty bool) []byte {
	if ss == nil && !empty {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		if s == nil {
			b = append(b, "null"...)
			continue
		}
		b = jsonw.String(b, *s)
	}
	return append(b, ']')
}

// decodeStatements calls fn for each entry of a statement_log block.
func decodeStatements(data string, fn func(*stmtEntry)) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	for i := 1; ; i++ {
		var e stmtEntry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		fn(&e)
	}
}

// apply adds e to a session's statements by seq: a statement, or an outcome for one.
func (e *stmtEntry) apply(session string, sts map[int64]*Statement) {
	st := e.statement(session)
	if prev := sts[e.Seq]; e.Outcome && prev != nil {
		prev.ApplyOutcome(st)
		return
	}
	sts[e.Seq] = st
}

func (e *stmtEntry) statement(session string) *Statement {
	return &Statement{SessionID: session, Seq: e.Seq, StartedAt: time.UnixMicro(e.Started), SQL: e.SQL, Params: e.Params,
		Class: e.Class, Decision: e.Decision, Rule: e.Rule, PolicyVersion: e.PolicyVersion, ReviewID: e.ReviewID, State: e.State,
		Duration: time.Duration(e.DurationUS) * time.Microsecond, RowCount: e.RowCount, CommandTag: e.CommandTag, Error: e.Error,
		Masking: e.Masking, Columns: e.Columns, Rows: e.Rows}
}

// eventEntry is an audit_log entry as JSON decodes it. Data is the event's data text,
// byte for byte.
type eventEntry struct {
	Seq        int64           `json:"seq"`
	Time       int64           `json:"time"` // µs since the Unix epoch
	Kind       string          `json:"kind"`
	Actor      string          `json:"actor"`
	Connection string          `json:"connection"`
	Session    string          `json:"session"`
	Data       json.RawMessage `json:"data"`
	Prev       string          `json:"prev"` // hex
	Hash       string          `json:"hash"` // hex
}

// appendEventEntry appends e as an audit_log entry. Its strings must be UTF-8 and its
// Data a JSON object, so that they read back as they were sealed.
func appendEventEntry(b []byte, e *Event) ([]byte, error) {
	for _, f := range [...]struct{ name, v string }{{"kind", e.Kind}, {"actor", e.Actor}, {"connection", e.Connection}, {"session", e.Session}} {
		if !utf8.ValidString(f.v) {
			return b, fmt.Errorf("audit event %d: its %s is not UTF-8", e.Seq, f.name)
		}
	}
	// The data goes into the block as it is: a text that is not a JSON object would make
	// the block unreadable. The gateway's data comes from encoding/json or is tested
	// against it; what is checked here is cheap, not a parse.
	if len(e.Data) < 2 || e.Data[0] != '{' || e.Data[len(e.Data)-1] != '}' {
		return b, fmt.Errorf("audit event %d: its data is not a JSON object", e.Seq)
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, e.Time.UnixMicro(), 10)
	b = append(b, `,"kind":`...)
	b = jsonw.String(b, e.Kind)
	b = append(b, `,"actor":`...)
	b = jsonw.String(b, e.Actor)
	b = append(b, `,"connection":`...)
	b = jsonw.String(b, e.Connection)
	b = append(b, `,"session":`...)
	b = jsonw.String(b, e.Session)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"prev":`...)
	b = jsonw.Hex(b, e.Prev)
	b = append(b, `,"hash":`...)
	b = jsonw.Hex(b, e.Hash)
	return append(b, '}', '\n'), nil
}

// decodeEvents calls fn for each event of an audit_log block, until fn returns false.
func decodeEvents(data string, fn func(*Event) bool) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	for i := 1; ; i++ {
		var w eventEntry
		err := dec.Decode(&w)
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("entry %d: %w", i, err)
		}
		e := &Event{Seq: w.Seq, Time: time.UnixMicro(w.Time).UTC(), Kind: w.Kind, Actor: w.Actor, Connection: w.Connection,
			Session: w.Session, Data: string(w.Data)}
		if e.Prev, err = hex.DecodeString(w.Prev); err != nil {
			return false, fmt.Errorf("entry %d (event %d): prev: %w", i, w.Seq, err)
		}
		if e.Hash, err = hex.DecodeString(w.Hash); err != nil {
			return false, fmt.Errorf("entry %d (event %d): hash: %w", i, w.Seq, err)
		}
		if !fn(e) {
			return false, nil
		}
	}
}
