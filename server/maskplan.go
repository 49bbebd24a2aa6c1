package server

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/internal/pgvalue"
	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/server/postgres"
)

// How a result's columns are masked (Rows):
//
//   - A column PostgreSQL names as a table's column (the table OID and attribute number of
//     RowDescription) is that column's stored value: a column rule masks it whole, in its
//     mode (partial keeps the last 4); else the detectors scan it.
//   - Any other column (computed, or a view's) is traced through the statement's parse
//     tree (classify.Lineage): when a column a rule masks flows into it, or a column in
//     which the detectors find values (sampled, or seen in results), it is masked whole in
//     the rule's mode (partial redacts: a computed value keeps nothing of the stored one),
//     element by element for arrays, field by field for records and key by key for JSON
//     objects whose parts are known. When its lineage cannot be proven (a user's function,
//     a name the catalog cannot resolve, a statement the gateway could not trace) it is
//     masked whole, and the record says why.
//   - Every value the rules leave is scanned by the detectors, decoded from its format and
//     type first (pgvalue), each element of an array and field of a record on its own.

// colPlan is how one column's values are masked.
type colPlan struct {
	oid    uint32
	binary bool
	whole  *mask.Masker // a column rule's on a stored column: the whole value, whatever it holds
	flow   *maskFlow    // a computed column's: what of it is masked; nil when nothing is
	labels []string     // what the record counts for it: "customers.ssn", "opaque: …"
	origin *sourceKey   // a stored column the detectors alone scan: learn from what they find
}

// maskFlow is what a computed value's lineage says to mask: all of it with m, or its parts.
type maskFlow struct {
	m      *mask.Masker // masks the whole value (each scalar in it); nil: only the parts below
	fields []*maskFlow  // a record's fields
	elem   *maskFlow    // an array's elements
	keys   map[string]*maskFlow
}

// Rows implements postgres.Masker.
func (sm *sessionMasker) Rows(ref postgres.ResultRef, fields []pgproto3.FieldDescription, formats []int16) (postgres.RowMasker, error) {
	rules := sm.rules()
	set := sm.set.Load()
	cols := make([]colPlan, len(fields))
	if len(rules) == 0 { // a reloaded policy masks nothing for the session any more
		for i, f := range fields {
			cols[i] = colPlan{oid: f.DataTypeOID, binary: formats[i] == 1}
		}
		return &rowMasker{sm: sm, set: set, cols: cols}, nil
	}
	var (
		flows    []classify.Flow
		flowsErr error
		traced   bool
	)
	for i, f := range fields {
		cols[i] = colPlan{oid: f.DataTypeOID, binary: formats[i] == 1}
		if f.TableOID != 0 && f.TableAttributeNumber != 0 { // 0: a whole-row reference, traced below
			table, column, err := sm.cat.column(f.TableOID, f.TableAttributeNumber)
			if err != nil {
				sm.opaque(&cols[i], rules, "the catalog could not say which column it is: "+err.Error())
				continue
			}
			if column.system {
				continue // ctid, xmin, …: the detectors scan it, no rule names it
			}
			if table.passThrough() {
				src := classify.Source{Schema: table.schema, Table: table.name, Column: column.name}
				if r := columnRule(rules, src); r != nil {
					cols[i].whole = r.whole
					cols[i].labels = []string{table.name + "." + column.name}
				} else {
					cols[i].origin = &sourceKey{connection: sm.connection, src: src}
				}
				continue
			}
		}
		if !traced {
			traced = true
			flows, flowsErr = sm.flows(ref)
			if flowsErr == nil && len(flows) != len(fields) {
				flowsErr = fmt.Errorf("the statement has %d result columns by the gateway's reading, the database sent %d", len(flows), len(fields))
			}
			if flowsErr != nil {
				sm.log.Warn("masking: the lineage of a result could not be traced; its computed columns are masked whole", "err", maskText(sm, flowsErr.Error()))
			}
		}
		if flowsErr != nil {
			sm.opaque(&cols[i], rules, flowsErr.Error())
			continue
		}
		sm.plan(&cols[i], rules, &flows[i])
	}
	return &rowMasker{sm: sm, set: set, cols: cols}, nil
}

// plan sets how a traced column is masked.
func (sm *sessionMasker) plan(c *colPlan, rules []maskRule, fl *classify.Flow) {
	if fl.Pass && len(fl.Sources) == 1 && fl.Opaque == "" {
		// A stored column passed through (RETURNING ssn, a view's plain column).
		if r := columnRule(rules, fl.Sources[0]); r != nil {
			c.whole = r.whole
			c.labels = []string{fl.Sources[0].Table + "." + fl.Sources[0].Column}
			return
		}
		// The detectors scan it as they scan a stored value.
		c.origin = &sourceKey{connection: sm.connection, src: fl.Sources[0]}
		return
	}
	c.flow = sm.compile(rules, fl, &c.labels, 0)
}

// compile turns a flow into what to mask; nil when nothing in it is masked.
func (sm *sessionMasker) compile(rules []maskRule, fl *classify.Flow, labels *[]string, depth int) *maskFlow {
	if fl == nil {
		return nil
	}
	if fl.Opaque != "" || depth > 32 {
		why := fl.Opaque
		if why == "" {
			why = "nested too deeply to trace"
		}
		*labels = append(*labels, "opaque: "+why)
		return &maskFlow{m: opaqueMasker(rules)}
	}
	if fl.Fields != nil || fl.Elem != nil || fl.Keys != nil {
		mf := &maskFlow{}
		any := false
		for i := range fl.Fields {
			f := sm.compile(rules, &fl.Fields[i], labels, depth+1)
			mf.fields = append(mf.fields, f)
			any = any || f != nil
		}
		if fl.Elem != nil {
			mf.elem = sm.compile(rules, fl.Elem, labels, depth+1)
			any = any || mf.elem != nil
		}
		for k := range fl.Keys {
			kf := fl.Keys[k]
			if f := sm.compile(rules, &kf, labels, depth+1); f != nil {
				if mf.keys == nil {
					mf.keys = make(map[string]*maskFlow)
				}
				mf.keys[k] = f
				any = true
			}
		}
		// The value's own sources beyond its parts (a key's name from a column, an array
		// index): those mask it whole.
		if m := sm.sourcesMasker(rules, fl.Sources, labels); m != nil && !coveredByParts(fl) {
			mf.m = m
			any = true
		}
		if !any {
			return nil
		}
		return mf
	}
	if m := sm.sourcesMasker(rules, fl.Sources, labels); m != nil {
		return &maskFlow{m: m}
	}
	return nil
}

// coveredByParts reports whether every source of fl flows through one of its parts.
func coveredByParts(fl *classify.Flow) bool {
	parts := map[classify.Source]bool{}
	var add func(f *classify.Flow)
	add = func(f *classify.Flow) {
		for _, s := range f.Sources {
			parts[s] = true
		}
		for i := range f.Fields {
			add(&f.Fields[i])
		}
		if f.Elem != nil {
			add(f.Elem)
		}
		for _, k := range f.Keys {
			add(&k)
		}
	}
	add(&classify.Flow{Fields: fl.Fields, Elem: fl.Elem, Keys: fl.Keys}) // the parts alone
	for _, s := range fl.Sources {
		if !parts[s] {
			return false
		}
	}
	return true
}

// sourcesMasker returns the masker of the first rule that masks one of srcs (by a column
// rule, or by its detectors finding values in that column), adding what it masks to
// labels; nil when none does.
func (sm *sessionMasker) sourcesMasker(rules []maskRule, srcs []classify.Source, labels *[]string) *mask.Masker {
	var m *mask.Masker
	for _, s := range srcs {
		if r := columnRule(rules, s); r != nil {
			*labels = append(*labels, s.Table+"."+s.Column)
			if m == nil {
				m = r.derived
			}
			continue
		}
		if sens := sm.sensitive(rules, s); sens.found {
			*labels = append(*labels, s.Table+"."+s.Column)
			if m == nil {
				m = sens.rule.derived
			}
		}
	}
	return m
}

// opaque masks a column whose lineage is not known whole, by the first rule's mode (a rule
// with column rules first): what the column holds may be anything.
func (sm *sessionMasker) opaque(c *colPlan, rules []maskRule, why string) {
	c.whole, c.flow = nil, &maskFlow{m: opaqueMasker(rules)}
	c.labels = append(c.labels, "opaque: "+why)
}

func opaqueMasker(rules []maskRule) *mask.Masker {
	for _, r := range rules {
		if len(r.columns) > 0 {
			return r.derived
		}
	}
	return rules[0].derived
}

// columnRule returns the rule whose column rules name src, or nil.
func columnRule(rules []maskRule, src classify.Source) *maskRule {
	for i := range rules {
		for _, c := range rules[i].columns {
			if c.Column == src.Column && (c.Table == "*" || c.Table == src.Table || c.Table == src.Schema+"."+src.Table) {
				return &rules[i]
			}
		}
	}
	return nil
}

// flows traces the result columns of the statement ref names.
func (sm *sessionMasker) flows(ref postgres.ResultRef) ([]classify.Flow, error) {
	if sm.flowCache == nil {
		sm.flowCache = make(map[flowKey][]classify.Flow)
	}
	key := flowKey{sql: ref.SQL, nth: ref.Nth}
	if f, ok := sm.flowCache[key]; ok {
		return f, nil
	}
	f, indirect, err := sm.trace(ref.SQL, ref.Nth, ref.Names)
	if err != nil {
		return nil, err
	}
	// What an EXECUTE or FETCH returns depends on what the name holds now: not kept.
	if !indirect && len(ref.SQL) <= maxCachedFlowText {
		if len(sm.flowCache) >= maxCachedFlows {
			clear(sm.flowCache)
		}
		sm.flowCache[key] = f
	}
	return f, nil
}

type flowKey struct {
	sql string
	nth int
}

const (
	maxCachedFlows    = 128
	maxCachedFlowText = 16 << 10
)

func (sm *sessionMasker) trace(sql string, nth int, names postgres.NameTexts) (flows []classify.Flow, indirect bool, err error) {
	if sql == "" {
		return nil, false, errors.New("the statement's text is not known")
	}
	tree, err := native.Parse(sql)
	if err != nil {
		return nil, false, fmt.Errorf("parse: %w", err)
	}
	l := classify.Lineage{Parse: native.Parse, Schema: sm.cat}
	flows, err = l.Flows(tree, nth)
	var ind *classify.IndirectError
	if !errors.As(err, &ind) {
		return flows, false, err
	}
	if names == nil {
		return nil, true, err
	}
	var (
		text string
		ok   bool
	)
	if ind.Cursor != "" {
		text, ok = names.CursorText(ind.Cursor)
	} else {
		text, ok = names.PreparedText(ind.Statement)
	}
	if !ok {
		return nil, true, fmt.Errorf("%w: the gateway does not know that name", err)
	}
	flows, err = sm.traceQuery(text)
	return flows, true, err
}

// traceQuery traces the rows that the text that made a prepared statement or a cursor
// makes its EXECUTE or FETCH return: the query of a PREPARE or DECLARE, or a
// protocol-level Parse's own statement.
func (sm *sessionMasker) traceQuery(sql string) ([]classify.Flow, error) {
	tree, err := native.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(tree.Stmts) != 1 {
		return nil, fmt.Errorf("a prepared statement or cursor of %d statements", len(tree.Stmts))
	}
	l := classify.Lineage{Parse: native.Parse, Schema: sm.cat}
	flows, err := l.QueryFlows(tree, 0)
	var ind *classify.IndirectError
	if errors.As(err, &ind) {
		return nil, fmt.Errorf("%w (a name within a name)", err)
	}
	return flows, err
}

type rowMasker struct {
	sm   *sessionMasker
	set  *ruleSet // the rules it was planned with
	cols []colPlan
	buf  []byte
	rw   pgvalue.Rewriter
	// warned: a value of this result could not be decoded, and the log says so
	warned bool
}

// Stale implements postgres.RowMasker.
func (rm *rowMasker) Stale() bool {
	cur := rm.sm.set.Load()
	return cur != rm.set || (rm.sm.g != nil && rm.sm.g.Policy() != cur.policy)
}

// Type OIDs whose values are text, in both formats.
var textTypes = map[uint32]bool{25: true, 1043: true, 1042: true, 19: true, 142: true, 705: true, 0: true}

// inetTypes are inet and cidr and their arrays: their values are IP addresses.
var inetTypes = map[uint32]bool{869: true, 650: true, 1041: true, 651: true}

// ipMasked reports whether a rule in force masks IP addresses.
func (sm *sessionMasker) ipMasked() bool {
	for _, r := range sm.rules() {
		if r.ip {
			return true
		}
	}
	return false
}

const (
	oidJSON  = 114
	oidJSONB = 3802
	oidBytea = 17
)

func (rm *rowMasker) count(c *colPlan) {
	if len(c.labels) == 0 {
		return
	}
	rm.sm.columns++
	if rm.sm.stmtColumns == nil {
		rm.sm.stmtColumns = make(map[string]int)
	}
	for _, l := range c.labels {
		rm.sm.stmtColumns[l]++
	}
}

// Value implements postgres.RowMasker.
func (rm *rowMasker) Value(col int, v []byte) ([]byte, bool) {
	c := &rm.cols[col]
	switch {
	case c.whole != nil:
		rm.count(c)
		if textTypes[c.oid] {
			out, null := c.whole.MaskWhole(rm.buf[:0], v)
			rm.buf = out
			return out, null
		}
		return rm.wholeTyped(c, c.whole, v)
	case c.flow != nil:
		rm.count(c)
		return rm.masked(c, v)
	}
	return rm.detected(c, v)
}

// wholeTyped masks every scalar of a value of any type with m.
func (rm *rowMasker) wholeTyped(c *colPlan, m *mask.Masker, v []byte) ([]byte, bool) {
	return rm.rewrite(c, v, func(l *pgvalue.Leaf, _ *maskFlow) pgvalue.Edit { return wholeLeaf(m, l) }, &maskFlow{m: m})
}

// masked masks a computed value by its flow, then scans what the flow leaves.
func (rm *rowMasker) masked(c *colPlan, v []byte) ([]byte, bool) {
	return rm.rewrite(c, v, func(l *pgvalue.Leaf, f *maskFlow) pgvalue.Edit {
		if f != nil && f.m != nil {
			return wholeLeaf(f.m, l)
		}
		return rm.detectLeaf(l, f)
	}, c.flow)
}

// detected scans a value with the detectors.
func (rm *rowMasker) detected(c *colPlan, v []byte) ([]byte, bool) {
	if textTypes[c.oid] {
		masked := rm.sm.content(v, false)
		if sameBytes(masked, v) {
			return v, false
		}
		rm.learn(c)
		return masked, false
	}
	if !c.binary && c.oid != oidBytea && !inetTypes[c.oid] {
		// Text format: a value in which the detectors find nothing as a whole has
		// nothing in any of its parts either (the common case: no decoding).
		json := c.oid == oidJSON || c.oid == oidJSONB
		if masked := rm.sm.scan(v, json, false); sameBytes(masked, v) {
			return v, false
		}
	}
	out, null := rm.rewrite(c, v, func(l *pgvalue.Leaf, _ *maskFlow) pgvalue.Edit { return rm.detectLeaf(l, nil) }, nil)
	if null || !sameBytes(out, v) {
		rm.learn(c)
	}
	return out, null
}

// learn remembers that the detectors found values in a stored column, so that values
// computed from it are masked whole from then on.
func (rm *rowMasker) learn(c *colPlan) {
	if c.origin != nil && rm.sm.g != nil {
		rm.sm.g.sensitivity.learn(*c.origin, rm.sm.now())
		c.origin = nil // once is enough
	}
}

// rewrite walks v's scalars with edit, the flow of each scalar found by its path.
func (rm *rowMasker) rewrite(c *colPlan, v []byte, edit func(*pgvalue.Leaf, *maskFlow) pgvalue.Edit, top *maskFlow) ([]byte, bool) {
	out, null, err := rm.rw.Rewrite(rm.buf[:0], rm.sm.cat, c.oid, c.binary, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		return edit(l, flowAt(top, l.Path))
	})
	if err != nil {
		// A value the gateway cannot read (its type could not be looked up): never sent
		// as it is when a rule masks it, when it is binary (whose bytes the detectors
		// cannot read), or when a detector finds something in its text.
		if top != nil && top.m != nil {
			return standIn(c.oid, c.binary)
		}
		if c.binary {
			if !rm.warned {
				rm.warned = true // once per result, not per row
				rm.sm.log.Warn("masking: a binary value could not be decoded; NULL is sent in its place", "type", c.oid, "err", err)
			}
			return nil, true
		}
		if m := rm.sm.content(v, false); !sameBytes(m, v) {
			return nil, true
		}
		return v, false
	}
	if null {
		return nil, true
	}
	if !sameBytes(out, v) {
		rm.buf = out
	}
	return out, false
}

// flowAt follows a scalar's path down a flow: the innermost flow that masks whole, or the
// flow at the end of the path (nil when nothing there is masked).
func flowAt(f *maskFlow, path []pgvalue.Step) *maskFlow {
	for _, s := range path {
		if f == nil || f.m != nil {
			return f
		}
		switch {
		case s.Elem:
			f = f.elem
		case s.Field >= 0 && s.Field < len(f.fields):
			f = f.fields[s.Field]
		default:
			return f
		}
	}
	return f
}

// wholeLeaf masks one scalar whole with m, keeping it valid for its type.
func wholeLeaf(m *mask.Masker, l *pgvalue.Leaf) pgvalue.Edit {
	if m.Mode() == mask.Null {
		return pgvalue.Edit{Null: true}
	}
	switch l.Type.Kind {
	case pgvalue.Text, pgvalue.Enum:
		out, null := m.MaskWhole(nil, l.Text)
		return pgvalue.Edit{Null: null, Text: out}
	case pgvalue.JSON, pgvalue.JSONB:
		return pgvalue.Edit{Text: maskJSONWhole(m, l.Text)}
	case pgvalue.Bytea:
		out, null := m.MaskWhole(nil, l.Text)
		return pgvalue.Edit{Null: null, Text: out}
	}
	return standInLeaf(l)
}

// standInLeaf replaces a scalar that is not text with a valid value of its type, or NULL
// when there is none.
func standInLeaf(l *pgvalue.Leaf) pgvalue.Edit {
	if b, ok := mask.StandIn(l.Type.OID); ok {
		return pgvalue.Edit{Text: b}
	}
	if l.Type.Kind == pgvalue.Money {
		return pgvalue.Edit{Text: []byte("$0.00")}
	}
	return pgvalue.Edit{Null: true}
}

// detectLeaf scans one scalar with the detectors; f is its flow, whose JSON keys may
// mask parts of a JSON document.
func (rm *rowMasker) detectLeaf(l *pgvalue.Leaf, f *maskFlow) pgvalue.Edit {
	if !l.Decoded {
		if m := rm.sm.content(l.Text, false); !sameBytes(m, l.Text) {
			return pgvalue.Edit{Null: true}
		}
		return pgvalue.Edit{Keep: true}
	}
	if l.Type.Kind == pgvalue.Inet && rm.sm.ipMasked() {
		// An IP address by its type: the detector's reading of its text does not matter.
		var found mask.Counts
		found[mask.IPAddress] = 1
		rm.sm.add(found)
		return standInLeaf(l)
	}
	text := l.Text
	changed := false
	json := l.Type.Kind == pgvalue.JSON || l.Type.Kind == pgvalue.JSONB
	if json && f != nil && (f.keys != nil || f.elem != nil) {
		t, ok := maskJSONParts(text, f)
		if !ok {
			// A document it cannot walk (nested deeper than maxJSONDepth): the parts the
			// flow masks cannot be told from the rest, so all of it is masked.
			t = maskJSONWhole(opaqueMasker(rm.sm.rules()), text)
		}
		text, changed = t, true
	}
	out, null := rm.sm.detect(text, json, true)
	if !sameBytes(out, text) {
		text, changed = out, true
	}
	if null {
		return pgvalue.Edit{Null: true}
	}
	if !changed {
		return pgvalue.Edit{Keep: true}
	}
	switch l.Type.Kind {
	case pgvalue.Text, pgvalue.Enum, pgvalue.JSON, pgvalue.JSONB, pgvalue.Bytea:
		return pgvalue.Edit{Text: text}
	}
	// A number, an address… that held something a detector found: a stand-in of the
	// type, so the client can still decode the row.
	return standInLeaf(l)
}
