package server

import (
	"fmt"
	"log/slog"
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
