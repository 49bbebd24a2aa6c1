package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Masker masks what the database sends back in one session, before the client sees it.
// The engine calls it from one goroutine.
type Masker interface {
	// Rows is called when a result's first row arrives, with the statement it comes from,
	// its columns and the format of each (0 text, 1 binary). An error ends the session:
	// rows it cannot mask are never sent raw.
	Rows(ref ResultRef, fields []pgproto3.FieldDescription, formats []int16) (RowMasker, error)
	// Text masks free text: error and notice fields, notification payloads. It returns
	// src itself when it finds nothing.
	Text(src []byte) []byte
	// CopyOut decides a COPY TO STDOUT the database has started: its CopyRows masks each
	// row; an error refuses the COPY (the client gets the error in its place).
	CopyOut(c CopyRef) (CopyRows, error)
}

// CopyRef says which COPY TO STDOUT has started: the SQL text it came from and which of
// that text's COPY statements it is.
type CopyRef struct {
	SQL    string // a simple Query's text, or the statement an Execute runs
	Nth    int    // 0 for the text's first COPY ... TO STDOUT, 1 for the second…
	Binary bool   // the CopyOutResponse's format
}

// ResultRef says which statement a result comes from, so that the masker can trace its
// computed columns back to the table columns they are made of.
type ResultRef struct {
	SQL string // a simple Query's text, or the statement an Execute runs
	Nth int    // which statement of SQL: 0 for the first
	// Names resolves what an EXECUTE or a FETCH in SQL runs: the text that prepared the
	// statement, or that declared the cursor.
	Names NameTexts
}

// NameTexts resolves names of the session to the SQL text that made them.
type NameTexts interface {
	// PreparedText returns the text of the PREPARE (or protocol-level Parse) that made
	// prepared statement name.
	PreparedText(name string) (string, bool)
	// CursorText returns the text of the DECLARE that opened cursor name.
	CursorText(name string) (string, bool)
}

// CopyRows masks the rows of one COPY TO STDOUT.
type CopyRows interface {
	// Row masks one CopyData row. An error ends the session: a row that cannot be
	// masked is never sent.
	Row(src []byte) ([]byte, error)
}

// RowMasker masks the values of one result's rows.
type RowMasker interface {
	// Value masks column col's value v (never SQL NULL). It returns v itself when it is
	// left as is, or the value to send (valid until the next call), or null to send SQL
	// NULL instead.
	Value(col int, v []byte) (out []byte, null bool)
	// Stale reports that the rules it was made with are no longer in force (a policy
	// reload): the engine then asks Rows for a new one.
	Stale() bool
}

// results tracks, for masking, the columns of every statement and portal and of the rows
// now arriving. Only fromUpstream uses it.
type results struct {
	m        Masker
	stmts    map[string][]pgproto3.FieldDescription // statement → its columns (nil: no rows)
	portals  map[string]resultShape                 // portal → columns and formats
	cur      *rowSet                                // the simple-protocol result now arriving
	exec     *rowSet                                // the Execute result now arriving
	copying  CopyRows                               // masks the COPY TO STDOUT now let through
	copies   int                                    // COPY TO STDOUT responses in this simple Query
	dropping bool                                   // swallowing a refused COPY TO STDOUT
	buf      []byte                                 // rebuilt DataRow bodies
	seen     map[string]*rowSet                     // simple-protocol results by their RowDescription
}

// maxSeenShapes bounds the result shapes remembered for simple-protocol queries.
const maxSeenShapes = 256

type resultShape struct {
	fields  []pgproto3.FieldDescription
	formats []int16
}

// rowSet is a result whose rows are arriving, with its masker made on the first row.
type rowSet struct {
	shape resultShape
	ref   ResultRef // the statement the rows now arriving come from
	rm    RowMasker
	rmRef ResultRef // the statement rm was made for
}

func newResults(m Masker) *results {
	return &results{m: m, stmts: make(map[string][]pgproto3.FieldDescription), portals: make(map[string]resultShape),
		seen: make(map[string]*rowSet)}
}

// errLostTrack ends a session whose results the engine can no longer tie to their columns:
// it will not guess, so it sends nothing it cannot mask.
var errLostTrack = errors.New("the gateway lost track of a result's columns and ended the session rather than send values it cannot mask")

// formatsFor expands Bind's result format codes to one per column.
func formatsFor(n int, codes []int16) []int16 {
	out := make([]int16, n)
	switch len(codes) {
	case 0:
	case 1:
		for i := range out {
			out[i] = codes[0]
		}
	default:
		copy(out, codes)
	}
	return out
}

func fieldFormats(fields []pgproto3.FieldDescription) []int16 {
	out := make([]int16, len(fields))
	for i, f := range fields {
		out[i] = f.Format
	}
	return out
}

func decodeFields(body []byte) ([]pgproto3.FieldDescription, error) {
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		return nil, fmt.Errorf("row description: %w", err)
	}
	fields := make([]pgproto3.FieldDescription, len(rd.Fields))
	for i, f := range rd.Fields {
		f.Name = append([]byte(nil), f.Name...)
		fields[i] = f
	}
	return fields, nil
}

// maskRow returns the DataRow body with its values masked: body itself when nothing
// changed.
func (r *results) maskRow(rs *rowSet, body []byte) ([]byte, error) {
	if rs.rm == nil || rs.rm.Stale() || rs.rmRef.Nth != rs.ref.Nth || rs.rmRef.SQL != rs.ref.SQL {
		rm, err := r.m.Rows(rs.ref, rs.shape.fields, rs.shape.formats)
		if err != nil {
			return nil, fmt.Errorf("mask results: %w", err)
		}
		rs.rm, rs.rmRef = rm, rs.ref
	}
	if len(body) < 2 {
		return nil, errors.New("malformed DataRow")
	}
	n := int(binary.BigEndian.Uint16(body))
	if n != len(rs.shape.fields) {
		return nil, errLostTrack
	}
	out := r.buf[:0]
	changed := false
	p := 2
	for col := range n {
		if len(body) < p+4 {
			return nil, errors.New("malformed DataRow")
		}
		start := p
		size := int(int32(binary.BigEndian.Uint32(body[p:])))
		p += 4
		if size < 0 {
			if changed {
				out = append(out, body[start:p]...)
			}
			continue
		}
		if len(body) < p+size {
			return nil, errors.New("malformed DataRow")
		}
		v := body[p : p+size]
		p += size
		masked, null := rs.rm.Value(col, v)
		same := !null && len(masked) == len(v) && (len(v) == 0 || &masked[0] == &v[0])
		if same {
			if changed {
				out = append(out, body[start:p]...)
			}
			continue
		}
		if !changed {
			changed = true
			out = append(out, body[:start]...)
		}
		if null {
			out = binary.BigEndian.AppendUint32(out, 0xFFFFFFFF)
			continue
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(masked)))
		out = append(out, masked...)
	}
	if !changed {
		return body, nil
	}
	r.buf = out
	return out, nil
}

// maskNotice masks the texts of an ErrorResponse or NoticeResponse body (a failed cast
// prints the value it failed on).
func (r *results) maskNotice(body []byte) ([]byte, error) {
	var er pgproto3.ErrorResponse
	if err := er.Decode(body); err != nil {
		return nil, fmt.Errorf("error response: %w", err)
	}
	changed := redactValues(&er)
	for _, f := range []*string{&er.Message, &er.Detail, &er.Hint, &er.Where, &er.InternalQuery, &er.ConstraintName, &er.ColumnName} {
		if *f == "" {
			continue
		}
		if m := r.m.Text([]byte(*f)); string(m) != *f {
			*f, changed = string(m), true
		}
	}
	for k, v := range er.UnknownFields {
		if m := r.m.Text([]byte(v)); string(m) != v {
			er.UnknownFields[k], changed = string(m), true
		}
	}
	if !changed {
		return body, nil
	}
	b, err := er.Encode(nil)
	if err != nil {
		return nil, err
	}
	return b[5:], nil // without the type and length, which writeMessage adds
}

// maskNotification masks a NotificationResponse's payload.
func (r *results) maskNotification(body []byte) ([]byte, error) {
	var nr pgproto3.NotificationResponse
	if err := nr.Decode(body); err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	m := r.m.Text([]byte(nr.Payload))
	if string(m) == nr.Payload {
		return body, nil
	}
	nr.Payload = string(m)
	b, err := nr.Encode(nil)
	if err != nil {
		return nil, err
	}
	return b[5:], nil
}

// redactValues hides the values PostgreSQL prints in data exceptions (class 22: `invalid
// input syntax for type integer: "…"`) and integrity violations (class 23: `Key
// (ssn)=(…) already exists`, `Failing row contains (…)`). Such a value may be one a
// statement computed from a masked column (`reverse(ssn)::int`), which neither the
// detectors nor lineage see once it is in an error's text; the client learns which
// statement failed and why, not the value. It reports whether it changed anything.
func redactValues(er *pgproto3.ErrorResponse) bool {
	class := er.Code[:min(2, len(er.Code))]
	if class != "22" && class != "23" {
		return false
	}
	if class == "23" { // the message names the constraint and columns; the detail has the values
		v := redactParenthesized(er.Detail)
		changed := v != er.Detail
		er.Detail = v
		return changed
	}
	changed := false
	for _, f := range []*string{&er.Message, &er.Detail, &er.Where} {
		if v := redactQuoted(*f); v != *f {
			*f, changed = v, true
		}
	}
	return changed
}

const redactedValue = "[REDACTED]"

// redactQuoted replaces what lies between the first and the last double quote of s.
func redactQuoted(s string) string {
	i, j := strings.IndexByte(s, '"'), strings.LastIndexByte(s, '"')
	if i < 0 || j <= i {
		return s
	}
	return s[:i+1] + redactedValue + s[j:]
}

// redactParenthesized replaces the values of an integrity violation's detail: after
// "=(" or "contains (", to the last ')'.
func redactParenthesized(s string) string {
	i := strings.Index(s, "=(")
	if k := strings.Index(s, "contains ("); k >= 0 && (i < 0 || k < i) {
		i = k + len("contains")
	}
	j := strings.LastIndexByte(s, ')')
	if i < 0 || j <= i+1 {
		return s
	}
	return s[:i+2] + redactedValue + s[j:]
}
