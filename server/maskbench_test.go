package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/postgres"
)

// BenchmarkMaskStoredRows masks rows like scripts/bench.sh's stored bulk read (an id, a
// name, an e-mail the detectors find, a note, an SSN a column rule masks, a computed
// int), in text format, through the row masker a session uses: what masking costs per row.
//
//	go test ./server -run '^$' -bench BenchmarkMaskStoredRows -benchmem
func BenchmarkMaskStoredRows(b *testing.B) {
	whole, _ := mask.New(&mask.Config{Mode: mask.Partial})
	content, _ := mask.New(&mask.Config{Mode: mask.Partial, Detectors: mask.Detectors()})
	rules := []maskRule{{name: "pii", content: content, whole: whole, derived: whole,
		columns: []policy.Column{{Table: "*", Column: "ssn"}}, ip: true}}
	cat := &catalog{tables: map[uint32]*tableInfo{16400: {schema: "public", name: "bulk", kind: 'r', columns: map[uint16]columnInfo{
		1: {name: "id", typ: 23, attnum: 1}, 2: {name: "name", typ: 25, attnum: 2}, 3: {name: "email", typ: 25, attnum: 3},
		4: {name: "note", typ: 25, attnum: 4}, 5: {name: "ssn", typ: 25, attnum: 5}}}}}
	sm := (&Gateway{}).newMasker(&policy.Policy{}, rules, policy.Identity{}, "db", slog.New(slog.DiscardHandler), cat)
	sm.g = nil
	fields := []pgproto3.FieldDescription{
		{Name: []byte("id"), TableOID: 16400, TableAttributeNumber: 1, DataTypeOID: 23},
		{Name: []byte("name"), TableOID: 16400, TableAttributeNumber: 2, DataTypeOID: 25},
		{Name: []byte("email"), TableOID: 16400, TableAttributeNumber: 3, DataTypeOID: 25},
		{Name: []byte("note"), TableOID: 16400, TableAttributeNumber: 4, DataTypeOID: 25},
		{Name: []byte("ssn"), TableOID: 16400, TableAttributeNumber: 5, DataTypeOID: 25},
		{Name: []byte("g"), DataTypeOID: 23},
	}
	const sql = "select b.*, g from bulk b, generate_series(1, 5) g"
	sm.flowCache = map[flowKey][]classify.Flow{{sql: sql}: make([]classify.Flow, len(fields))}
	rm, err := sm.Rows(postgres.ResultRef{SQL: sql}, fields, make([]int16, len(fields)))
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][][]byte, 1000)
	for i := range rows {
		g := i + 1
		rows[i] = [][]byte{[]byte(fmt.Sprint(g)), []byte(fmt.Sprintf("Customer %032x", g*7919)),
			[]byte(fmt.Sprintf("user%d@example.com", g)), []byte(fmt.Sprintf("%032x ordered on 2024-03-15", g*104729)),
			[]byte(fmt.Sprintf("%03d-%02d-%04d", g%899+1, g%99+1, g%9999+1)), []byte("3")}
	}
	var n int64
	for _, r := range rows {
		for _, v := range r {
			n += int64(len(v))
		}
	}
	b.SetBytes(n / int64(len(rows)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for col, v := range rows[i%len(rows)] {
			rm.Value(col, v)
		}
	}
}

// TestUndecodableBinaryValueIsNull: a binary value whose type the catalog cannot describe
// (its lookup failed) cannot be read by the detectors: NULL is sent in its place, never its
// bytes; a text value of that type is still scanned as text, and sent when clean.
func TestUndecodableBinaryValueIsNull(t *testing.T) {
	content, _ := mask.New(&mask.Config{Mode: mask.Partial, Detectors: mask.Detectors()})
	whole, _ := mask.New(&mask.Config{Mode: mask.Partial})
	rules := []maskRule{{name: "pii", content: content, whole: whole, derived: whole}}
	cat := &catalog{tables: map[uint32]*tableInfo{}, types: map[uint32]typeAnswer{99999: {err: errors.New("catalog lookup of type 99999: connection lost")}}}
	sm := (&Gateway{}).newMasker(&policy.Policy{}, rules, policy.Identity{}, "db", slog.New(slog.DiscardHandler), cat)
	sm.g = nil
	fields := []pgproto3.FieldDescription{{Name: []byte("v"), DataTypeOID: 99999}, {Name: []byte("w"), DataTypeOID: 99999}}
	sm.flowCache = map[flowKey][]classify.Flow{{sql: "select v, w from t"}: make([]classify.Flow, 2)} // computed, clean
	rm, err := sm.Rows(postgres.ResultRef{SQL: "select v, w from t"}, fields, []int16{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	// The binary value: the 8 bytes of a card number as an int8 inside a composite.
	if out, null := rm.Value(0, []byte{0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 8, 0, 0x0e, 0x9a, 0xf2, 0xc8, 0x07, 0x6a, 0x47}); !null {
		t.Errorf("undecodable binary value: got %x, want NULL", out)
	}
	if out, null := rm.Value(1, []byte("(42,plain)")); null || string(out) != "(42,plain)" {
		t.Errorf("clean text value: got %q, null %v", out, null)
	}
	if out, null := rm.Value(1, []byte("(1,4111111111111111)")); null == false && strings.Contains(string(out), "4111111111111111") {
		t.Errorf("text value holding a card: got %q", out)
	}
}

// TestKeyedJSONTooDeepMaskedWhole: a JSON object whose keys the lineage tells apart (one
// from a masked column) but which is nested deeper than the gateway walks: the parts
// cannot be told from the rest, so every value in it is masked, never the masked key's
// value passed with the detectors alone.
func TestKeyedJSONTooDeepMaskedWhole(t *testing.T) {
	content, _ := mask.New(&mask.Config{Mode: mask.Partial, Detectors: mask.Detectors()})
	whole, _ := mask.New(&mask.Config{Mode: mask.Partial})
	redact, _ := mask.New(&mask.Config{Mode: mask.Redact})
	rules := []maskRule{{name: "pii", content: content, whole: whole, derived: redact,
		columns: []policy.Column{{Table: "*", Column: "ssn"}}}}
	sm := (&Gateway{}).newMasker(&policy.Policy{}, rules, policy.Identity{}, "db", slog.New(slog.DiscardHandler), &catalog{tables: map[uint32]*tableInfo{}})
	sm.g = nil
	const sql = "select json_build_object('s', reverse(ssn), 'x', deep) from t"
	ssn := classify.Source{Schema: "public", Table: "t", Column: "ssn"}
	sm.flowCache = map[flowKey][]classify.Flow{{sql: sql}: {{Sources: []classify.Source{ssn},
		Keys: map[string]classify.Flow{"s": {Sources: []classify.Source{ssn}}, "x": {}}}}}
	rm, err := sm.Rows(postgres.ResultRef{SQL: sql}, []pgproto3.FieldDescription{{Name: []byte("j"), DataTypeOID: 114}}, []int16{0})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "9876-54-321"
	for _, depth := range []int{1, 10, maxJSONDepth + 5} {
		doc := `{"s": "` + secret + `", "x": ` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		out, null := rm.Value(0, []byte(doc))
		if !null && strings.Contains(string(out), secret) {
			t.Errorf("depth %d: the masked key's value passed: %.80s", depth, out)
		}
	}
}
