package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/internal/pgcopy"
	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/server/postgres"
)

// CopyOut implements postgres.Masker. The rows of a COPY TO STDOUT in text or CSV format
// are split into fields as the statement's options say, and each field is masked like a
// value of its column: whole by a column rule (the columns come from the catalog, or the
// statement's column list), else by the detectors. What cannot be read with certainty is
// refused: binary format, COPY (query) under column rules, a custom NULL string (a value
// spelled like it is sent as the bare NULL marker, which would confirm a guess), an
// encoding whose characters may hold an ASCII byte.
func (sm *sessionMasker) CopyOut(ref postgres.CopyRef) (postgres.CopyRows, error) {
	refuse := func(why string) (postgres.CopyRows, error) {
		return nil, &postgres.DeniedError{Reason: "COPY TO STDOUT is refused while masking applies to this session: " + why}
	}
	if ref.Binary {
		return refuse("binary format cannot be inspected; use text or CSV format")
	}
	targets, err := classify.Parser(native.Parse).CopyTargets(ref.SQL)
	if err != nil || ref.Nth >= len(targets) {
		if !sm.hasColumnRules() {
			return wholeRows{sm}, nil // no columns to tell apart: scan each row as one text
		}
		return refuse(fmt.Sprintf("the gateway could not tell which columns it copies (%v)", err))
	}
	t := targets[ref.Nth]
	def := pgcopy.Defaults(t.Options.CSV)
	switch {
	case t.Binary:
		return refuse("binary format cannot be inspected; use text or CSV format")
	case t.Encoding != "" && pgcopy.EncodingEmbedsASCII(t.Encoding):
		return refuse("encoding " + t.Encoding + " cannot be split safely; leave ENCODING out")
	case t.Options.Null != def.Null:
		return refuse(fmt.Sprintf("a custom NULL string (%q) would send values equal to it unmasked; leave NULL out", t.Options.Null))
	case t.Query && sm.hasColumnRules():
		return refuse("COPY (query) does not say which table a column comes from, so column rules cannot apply; COPY a table, or use SELECT")
	}
	cr := &copyRows{sm: sm, opts: t.Options, header: t.Options.Header}
	if t.Query && !sm.hasColumnRules() {
		return cr, nil // the detectors over each field as text
	}
	table, cols, err := sm.cat.copyColumns(t.Schema, t.Table, t.Columns)
	if err != nil {
		if !sm.hasColumnRules() {
			return cr, nil // the detectors over each field as text
		}
		return refuse(err.Error())
	}
	cr.cols = make([]colPlan, len(cols))
	rules := sm.rules()
	for i, c := range cols {
		cr.cols[i] = colPlan{oid: c.typ}
		for _, r := range rules {
			for _, rc := range r.columns {
				if rc.Column == c.name && (rc.Table == "*" || rc.Table == table.name || rc.Table == table.schema+"."+table.name) {
					cr.cols[i].whole, cr.cols[i].labels = r.whole, []string{table.name + "." + c.name}
				}
			}
		}
	}
	// A field the rules leave is masked as a value of its column's type, so that what
	// comes out loads back: a card number in a bigint becomes 0, an inet 0.0.0.0, an
	// array keeps its other elements (COPY's text form of a value is the type's output).
	cr.rm = &rowMasker{sm: sm, set: sm.set.Load(), cols: cr.cols}
	return cr, nil
}

// wholeRows masks a COPY row as one text, for content rules only, when the statement's
// options are not known.
type wholeRows struct{ sm *sessionMasker }

func (w wholeRows) Row(src []byte) ([]byte, error) { return w.sm.content(src, false), nil }

// copyRows masks the rows of one COPY TO STDOUT field by field.
type copyRows struct {
	sm     *sessionMasker
	opts   pgcopy.Options
	header bool       // the next row is the header line
	cols   []colPlan  // by field, when the table's columns are known
	rm     *rowMasker // masks the fields the column rules leave, by their types
	fields []pgcopy.Field
	buf    []byte
}

func (cr *copyRows) Row(src []byte) ([]byte, error) {
	if cr.header {
		cr.header = false
		return cr.sm.content(src, false), nil // column names; scanned all the same
	}
	fields, err := pgcopy.Split(src, cr.opts, cr.fields[:0])
	cr.fields = fields
	if err != nil {
		return nil, err
	}
	if cr.cols != nil && len(fields) != len(cr.cols) {
		return nil, fmt.Errorf("a COPY row has %d fields where its table has %d columns", len(fields), len(cr.cols))
	}
	changed := false
	for i := range fields {
		f := &fields[i]
		if f.Null {
			continue
		}
		if cr.cols != nil && cr.cols[i].whole != nil {
			c := cr.cols[i]
			cr.sm.columns++
			if cr.sm.stmtColumns == nil {
				cr.sm.stmtColumns = make(map[string]int)
			}
			for _, l := range c.labels {
				cr.sm.stmtColumns[l]++
			}
			var null bool
			if textTypes[c.oid] {
				f.Value, null = c.whole.MaskWhole(nil, f.Value)
			} else {
				var ok bool
				f.Value, ok = mask.StandIn(c.oid)
				null = !ok
			}
			f.Null = null
			changed = true
			continue
		}
		if cr.rm != nil {
			if m, null := cr.rm.detected(&cr.cols[i], f.Value); null || !sameBytes(m, f.Value) {
				f.Value, f.Null = bytes.Clone(m), null // m may be the masker's buffer, which the next field reuses
				changed = true
			}
			continue
		}
		if m, null := cr.sm.detect(f.Value, false, true); null || !sameBytes(m, f.Value) {
			f.Value, f.Null = m, null
			changed = true
		}
	}
	if !changed {
		return src, nil
	}
	cr.buf = pgcopy.Append(cr.buf[:0], fields, cr.opts)
	return cr.buf, nil
}

// copyColumns returns the table a COPY names and the columns its rows hold, in order: the
// listed ones, or every column but dropped and generated ones. An unqualified name that
// more than one schema holds is refused: the session's search_path, which would pick one,
// is not known here.
func (c *catalog) copyColumns(schema, table string, names []string) (*tableInfo, []columnInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return nil, nil, err
	}
	res := c.conn.ExecParams(ctx,
		`SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relname = $1 AND ($2 = '' OR n.nspname = $2) AND c.relkind IN ('r', 'p', 'm', 'f')`,
		[][]byte{[]byte(table), []byte(schema)}, []uint32{25, 25}, nil, nil).Read()
	if res.Err != nil {
		return nil, nil, fmt.Errorf("catalog lookup of %s: %w", table, res.Err)
	}
	switch {
	case len(res.Rows) == 0:
		return nil, nil, fmt.Errorf("the gateway cannot find table %s in the catalog", table)
	case len(res.Rows) > 1:
		return nil, nil, fmt.Errorf("more than one schema has a table %s; name it with its schema", table)
	}
	oid, err := strconv.ParseUint(string(res.Rows[0][0]), 10, 32)
	if err != nil {
		return nil, nil, err
	}
	t, ok := c.tables[uint32(oid)]
	if !ok {
		if t, err = c.load(uint32(oid)); err != nil {
			return nil, nil, err
		}
		c.tables[uint32(oid)] = t
	}
	var all []columnInfo
	for _, col := range t.columns {
		if !col.dropped {
			all = append(all, col)
		}
	}
	slices.SortFunc(all, func(a, b columnInfo) int { return int(a.attnum) - int(b.attnum) })
	if names == nil {
		var out []columnInfo
		for _, col := range all {
			if !col.generated {
				out = append(out, col)
			}
		}
		return t, out, nil
	}
	out := make([]columnInfo, len(names))
	for i, n := range names {
		j := slices.IndexFunc(all, func(c columnInfo) bool { return c.name == n })
		if j < 0 {
			return nil, nil, fmt.Errorf("table %s.%s has no column %s", t.schema, t.name, n)
		}
		out[i] = all[j]
	}
	return t, out, nil
}
