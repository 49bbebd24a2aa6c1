package classify

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Lineage says, for each result column of a statement, which columns of which relations
// its values come from, read from the raw parse tree alone (plus the relations' column
// lists and views' queries that a Schema gives). The gateway masks a result column by the
// rules of every source column that flows into it: a pass-through keeps a rule's partial
// mode, anything computed is masked whole, and a column whose lineage cannot be proven
// (Opaque) is masked whole too: fail closed.
//
// What lineage does not cover: inference through WHERE, JOIN ON, GROUP BY, ORDER BY,
// LIMIT and EXISTS (a query can learn a masked value bit by bit by filtering on it; only
// values that flow into a result column count), and timing.
//
// The walk is a plain type switch over node kinds, not the reflection of walk.go: it runs
// on the gateway's hot path once per distinct statement text. A node kind it does not
// know makes the column that holds it Opaque, never "no sources".

// Source is a column of a table, view or other relation that values come from.
type Source struct {
	Schema string // "public", as the Schema resolved it; "" if unknown
	Table  string // "customers"
	Column string // "ssn"
}

func (s Source) String() string {
	if s.Schema == "" {
		return s.Table + "." + s.Column
	}
	return s.Schema + "." + s.Table + "." + s.Column
}

// Flow says where one result column's values come from. Sources always holds every
// source of the nested Fields, Elem and Keys too, so a caller that ignores the structure
// can mask by Sources alone. Flows share slices and maps: treat them as read-only.
type Flow struct {
	// Pass is set when the column is Sources[0] passed through untouched (renamed at
	// most, through subqueries and CTEs too): exactly one source, no transformation.
	Pass bool
	// Sources are every source column flowing into the value, through any expression.
	Sources []Source
	// Opaque is non-empty when lineage cannot be proven, with the reason ("function
	// public.f is not a built-in"): the caller masks the column whole.
	Opaque string
	// Fields are the per-field flows of a record built by ROW(...) or a whole-row
	// reference (SELECT c FROM customers c); nil when not known.
	Fields []Flow
	// Names are the names of Fields when known ("id", "ssn"; "f1", "f2" for ROW(...)).
	Names []string
	// Elem is the flow of an array's elements when the array is built by ARRAY[...],
	// array_agg(x), ARRAY(subquery), json_agg(x) or JSON_ARRAYAGG.
	Elem *Flow
	// Keys are the flows per key of a JSON object built with literal keys
	// (json_build_object('k', x), JSON_OBJECT('k': x), row_to_json(c) keyed by column).
	Keys map[string]Flow
}

// RelationDef is what a Schema knows of a relation.
type RelationDef struct {
	Schema  string   // "public"
	Name    string   // "customers"
	Columns []string // in attnum order, dropped columns left out
	// Query is the defining SELECT of a view or materialized view (pg_get_viewdef): its
	// columns' flows are that query's.
	Query string
	// Opaque is non-empty when the relation's contents cannot be traced (a foreign table,
	// a view that could not be read): every column of it is Opaque with this reason.
	Opaque string
}

// Schema resolves the names a statement uses. It must be safe for concurrent use when
// the Lineage is.
type Schema interface {
	// Relation resolves a relation name as written (schema "" = by search_path). An error
	// (ErrNoRelation or another) makes the flows that need it Opaque.
	Relation(schema, name string) (*RelationDef, error)
	// Transparent reports whether a function's result depends only on its arguments: a
	// built-in of pg_catalog that runs no SQL of its own. User functions, procedures and
	// anything unknown are not. schema is "" when the call is unqualified.
	Transparent(schema, name string) bool
}

// ErrNoRelation is what a Schema returns for a relation that does not exist.
var ErrNoRelation = errors.New("lineage: no such relation")

// IndirectError is returned for a statement whose rows come from another statement:
// EXECUTE name (Statement) and FETCH cursor (Cursor). The caller resolves the prepared
// statement's or the cursor's text and asks QueryFlows for it.
type IndirectError struct {
	Statement string // "get_user" for EXECUTE get_user
	Cursor    string // "c" for FETCH 10 FROM c
}

func (e *IndirectError) Error() string {
	if e.Cursor != "" {
		return fmt.Sprintf("lineage: FETCH returns the rows of cursor %q", e.Cursor)
	}
	return fmt.Sprintf("lineage: EXECUTE returns the rows of prepared statement %q", e.Statement)
}

// Lineage computes flows. Parse parses the views' queries that Schema gives.
type Lineage struct {
	Parse  Parser
	Schema Schema
}

// maxViewNesting bounds the nesting of views expanded within one another.
const maxViewNesting = 16

// maxDepth bounds the nesting of expressions and queries walked: beyond it a column is
// Opaque. (pg_query parses a chain of thousands of operators.)
const maxDepth = 10000

// Flows returns the flows of the result columns of statement i (0-based, counting every
// statement of the text) of tree, in result order; nil, nil for a statement that returns
// no rows (DECLARE, PREPARE and SELECT INTO included: see QueryFlows).
//
// The caller matches flows to RowDescription fields by position. When their numbers
// differ (a function in FROM whose columns are not known, CALL with OUT parameters, a
// star over a relation the Schema could not resolve) or rows come for a statement given
// nil, it must take every field as Opaque.
//
// EXECUTE and FETCH return an *IndirectError; MOVE returns no rows. Flows is safe for
// concurrent use when the Schema and Parse are; each call resolves a relation once.
func (l *Lineage) Flows(tree *pg_query.ParseResult, i int) ([]Flow, error) {
	st, err := stmtAt(tree, i)
	if err != nil {
		return nil, err
	}
	w := l.walker()
	return w.statement(st, false)
}

// QueryFlows returns the flows of the rows that statement i makes another statement
// return: the query of DECLARE c CURSOR FOR q (which each FETCH of c returns) or of
// PREPARE name AS q (which EXECUTE name returns). For any other statement it is Flows.
func (l *Lineage) QueryFlows(tree *pg_query.ParseResult, i int) ([]Flow, error) {
	st, err := stmtAt(tree, i)
	if err != nil {
		return nil, err
	}
	w := l.walker()
	return w.statement(st, true)
}

func stmtAt(tree *pg_query.ParseResult, i int) (*pg_query.Node, error) {
	if tree == nil || i < 0 || i >= len(tree.Stmts) {
		return nil, fmt.Errorf("lineage: no statement %d", i)
	}
	st := tree.Stmts[i].GetStmt()
	if st == nil {
		return nil, fmt.Errorf("lineage: statement %d is empty", i)
	}
	return st, nil
}

func (l *Lineage) walker() *lwalk {
	return &lwalk{l: l}
}

// lwalk is the state of one Flows call.
type lwalk struct {
	l     *Lineage
	rels  map[string]*rel // relations resolved, by schema "." name as written
	views []string        // views being expanded, outermost first: a cycle is Opaque
	depth int
	// windows are the WINDOW clause of the query level whose target list is walked, for
	// OVER w.
	windows []*pg_query.Node
}

// rel is a relation in a FROM scope: a table, view, subquery, CTE, function or join.
type rel struct {
	name   string // the name it is referred to by: its alias, else the relation's name; "" for an unaliased join
	schema string // the schema written before its name, for s.t.c; "" when aliased
	cols   []string
	flows  []Flow
	opaque string // non-empty: its columns are not known; any of them is Opaque with this reason
	table  bool   // a table, which has system columns (ctid, xmin, ...)
}

// flow is the flow of r's column k; Opaque if r's columns are not known.
func (r *rel) flow(k int) Flow {
	if r.opaque != "" {
		return Flow{Opaque: r.opaque}
	}
	if k >= len(r.flows) {
		return opaque("column %d of a relation whose columns are not all known", k+1)
	}
	return r.flows[k]
}

// systemColumn reports whether name is a system column of every table: it holds no data
// of the table's own (tools such as DBeaver read ctid to edit rows).
func systemColumn(name string) bool {
	switch name {
	case "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid":
		return true
	}
	return false
}

// scope is one query level's FROM namespace.
type scope struct {
	parent *scope
	items  []*rel // top-level FROM items in order (a join as its merged columns): * and unqualified names
	named  []*rel // relations referable by name, at any join depth
	ctes   *cteScope
}

type cte struct {
	name  string
	cols  []string
	flows []Flow
	// pending is set while a CTE's own query is walked: a reference to it from there is
	// recursion (WITH RECURSIVE), resolved by iteration.
	pending bool
	opaque  string
}

type cteScope struct {
	parent *cteScope
	ctes   []*cte
}

func (c *cteScope) find(name string) *cte {
	for s := c; s != nil; s = s.parent {
		for i := len(s.ctes) - 1; i >= 0; i-- {
			if s.ctes[i].name == name {
				return s.ctes[i]
			}
		}
	}
	return nil
}

func opaque(format string, args ...any) Flow {
	return Flow{Opaque: fmt.Sprintf(format, args...)}
}

// add merges g's sources and opacity into f (not Pass, no structure).
func (f *Flow) add(g Flow) {
	if f.Opaque == "" && g.Opaque != "" {
		f.Opaque = g.Opaque
	}
	clipped := false
	for _, s := range g.Sources {
		if !containsSource(f.Sources, s) {
			if !clipped {
				// Flows share their Sources' arrays (a column's flow is copied into every
				// expression over it): append to a copy, never into a shared array, or
				// two flows would overwrite each other's sources.
				f.Sources = slices.Clip(f.Sources)
				clipped = true
			}
			f.Sources = append(f.Sources, s)
		}
	}
}

func containsSource(ss []Source, s Source) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// computed returns f as a value computed from it: its sources, no pass, no structure.
func computed(f Flow) Flow {
	return Flow{Sources: f.Sources, Opaque: f.Opaque}
}

// union is the flow of a value computed from all of fs.
func union(fs ...Flow) Flow {
	var out Flow
	for _, f := range fs {
		out.add(f)
	}
	return out
}

// record is the flow of a record whose fields are fs.
func record(names []string, fs []Flow) Flow {
	out := union(fs...)
	out.Fields = fs
	out.Names = names
	return out
}

// statement returns the rows statement st returns.
func (w *lwalk) statement(st *pg_query.Node, inner bool) ([]Flow, error) {
	switch n := st.Node.(type) {
	case *pg_query.Node_SelectStmt:
		if n.SelectStmt.IntoClause != nil {
			return nil, nil
		}
		_, flows := w.query(st, nil, nil)
		return flows, nil
	case *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt, *pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
		if !returns(st) {
			return nil, nil
		}
		_, flows := w.dmlQuery(st, nil, nil)
		return flows, nil
	case *pg_query.Node_CopyStmt:
		s := n.CopyStmt
		if s.IsFrom {
			return nil, nil
		}
		if s.Query != nil {
			return w.statement(s.Query, false)
		}
		sc := &scope{}
		r := w.relation(s.Relation, nil)
		sc.items, sc.named = []*rel{r}, []*rel{r}
		if len(s.Attlist) == 0 {
			return w.star(sc, r), nil
		}
		out := make([]Flow, 0, len(s.Attlist))
		for _, a := range s.Attlist {
			out = append(out, w.column(sc, []string{strVal(a)}))
		}
		return out, nil
	case *pg_query.Node_ExplainStmt:
		// The plan is text (or json, xml, yaml) about the query, not its rows; with
		// VERBOSE it shows expressions as written, never values read.
		return []Flow{{}}, nil
	case *pg_query.Node_VariableShowStmt:
		if strings.EqualFold(n.VariableShowStmt.Name, "all") {
			return []Flow{{}, {}, {}}, nil // name, setting, description
		}
		return []Flow{{}}, nil
	case *pg_query.Node_CallStmt:
		return []Flow{opaque("CALL returns what the procedure makes")}, nil
	case *pg_query.Node_ExecuteStmt:
		return nil, &IndirectError{Statement: n.ExecuteStmt.Name}
	case *pg_query.Node_FetchStmt:
		if n.FetchStmt.Ismove {
			return nil, nil // MOVE returns no rows
		}
		return nil, &IndirectError{Cursor: n.FetchStmt.Portalname}
	case *pg_query.Node_DeclareCursorStmt:
		if inner && n.DeclareCursorStmt.Query != nil {
			return w.statement(n.DeclareCursorStmt.Query, false)
		}
		return nil, nil
	case *pg_query.Node_PrepareStmt:
		if inner && n.PrepareStmt.Query != nil {
			return w.statement(n.PrepareStmt.Query, false)
		}
		return nil, nil
	}
	return nil, nil
}

// target puts the target table of INSERT, UPDATE, DELETE or MERGE in scope, its flows
// its own (assignments change them).
func (w *lwalk) target(sc *scope, rv *pg_query.RangeVar) *rel {
	if rv == nil {
		return &rel{opaque: "a statement without a target"}
	}
	r := w.relation(rv, nil) // a DML target is never a CTE
	r.flows = append([]Flow(nil), r.flows...)
	sc.items = append(sc.items, r)
	sc.named = append(sc.named, r)
	return r
}

// returns reports whether a data-modifying statement has RETURNING.
func returns(n *pg_query.Node) bool {
	switch x := n.Node.(type) {
	case *pg_query.Node_InsertStmt:
		return len(x.InsertStmt.ReturningList) > 0
	case *pg_query.Node_UpdateStmt:
		return len(x.UpdateStmt.ReturningList) > 0
	case *pg_query.Node_DeleteStmt:
		return len(x.DeleteStmt.ReturningList) > 0
	case *pg_query.Node_MergeStmt:
		return len(x.MergeStmt.ReturningList) > 0
	}
	return false
}

// assign notes that column col of the target t is given a value of flow f: what
// RETURNING col returns then comes from f too (UPDATE items SET note = c.ssn ...
// RETURNING note). A column default, a generated column or a trigger that writes the
// row is not traced (they are the database's code, like a view's).
func assign(t *rel, col string, f Flow) {
	if t.opaque != "" || len(f.Sources) == 0 && f.Opaque == "" {
		return
	}
	for k, c := range t.cols {
		if c == col {
			if f.Pass && t.flows[k].Pass && f.Sources[0] == t.flows[k].Sources[0] {
				return // SET name = name
			}
			t.flows[k] = union(t.flows[k], f)
			return
		}
	}
	// An unknown column: the server refuses the statement; fail closed all the same.
	for k := range t.flows {
		t.flows[k] = union(t.flows[k], opaque("assignment to unknown column %s", col))
	}
}

// assignments applies SET col = expr, (a, b) = (x, y) and (a, b) = (SELECT ...).
func (w *lwalk) assignments(sc *scope, t *rel, list []*pg_query.Node) {
	var multi []Flow // the flows of the current (a, b) = (SELECT ...)
	var multiSrc *pg_query.Node
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			continue
		}
		var f Flow
		if ma := rt.Val.GetMultiAssignRef(); ma != nil {
			k := int(ma.Colno) - 1
			switch {
			case ma.Source.GetRowExpr() != nil && k >= 0 && k < len(ma.Source.GetRowExpr().Args):
				f = w.expr(sc, ma.Source.GetRowExpr().Args[k])
			case ma.Source.GetSubLink() != nil:
				if multiSrc != ma.Source {
					_, multi = w.query(ma.Source.GetSubLink().Subselect, sc, sc.ctes)
					multiSrc = ma.Source
				}
				if k >= 0 && k < len(multi) {
					f = multi[k]
				} else {
					f = first(multi)
				}
			default:
				f = w.expr(sc, ma.Source)
			}
		} else {
			f = w.expr(sc, rt.Val)
		}
		if len(rt.Indirection) > 0 {
			f = computed(f) // SET a[1] = x, SET r.f = x: part of the column
		}
		assign(t, rt.Name, f)
	}
}

// inserts applies the values an INSERT (or MERGE's INSERT) gives, by position.
func inserts(t *rel, cols []*pg_query.Node, vals []Flow) {
	width := len(cols)
	if width == 0 {
		width = len(t.cols)
	}
	someOpaque := false
	for _, f := range vals {
		someOpaque = someOpaque || f.Opaque != ""
	}
	if len(vals) != width && someOpaque {
		// INSERT ... SELECT * FROM a relation whose columns are not known: which value
		// goes where is not known either; every column may hold any of them. (Fewer
		// known values than columns is fine: the rest get their defaults.)
		all := union(vals...)
		all.add(opaque("the values of an INSERT do not match its columns"))
		for k := range t.cols {
			assign(t, t.cols[k], all)
		}
		return
	}
	for j, f := range vals {
		if len(cols) > 0 {
			if j < len(cols) {
				if rt := cols[j].GetResTarget(); rt != nil {
					assign(t, rt.Name, f)
				}
			}
		} else if j < len(t.cols) {
			assign(t, t.cols[j], f)
		}
	}
}

// query returns the output column names and flows of a query (SELECT, VALUES, set
// operation) walked with outer as the enclosing query level.
func (w *lwalk) query(n *pg_query.Node, outer *scope, ctes *cteScope) ([]string, []Flow) {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > maxDepth {
		return nil, []Flow{opaque("the query is nested too deep")}
	}
	s := n.GetSelectStmt()
	if s == nil {
		// A DML with RETURNING in a WITH (WITH d AS (DELETE ... RETURNING ...)).
		return w.dmlQuery(n, outer, ctes)
	}
	ctes = w.with(s.WithClause, outer, ctes)
	switch s.Op {
	case pg_query.SetOperation_SETOP_UNION, pg_query.SetOperation_SETOP_INTERSECT, pg_query.SetOperation_SETOP_EXCEPT:
		names, left := w.query(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s.Larg}}, outer, ctes)
		_, right := w.query(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s.Rarg}}, outer, ctes)
		return names, setop(left, right)
	}
	if len(s.ValuesLists) > 0 {
		var flows []Flow
		sc := &scope{parent: outer, ctes: ctes}
		for _, row := range s.ValuesLists {
			items := row.GetList().GetItems()
			if flows == nil {
				flows = make([]Flow, len(items))
			}
			for j, it := range items {
				if j < len(flows) {
					flows[j].add(w.expr(sc, it))
				}
			}
		}
		names := make([]string, len(flows))
		for j := range names {
			names[j] = "column" + strconv.Itoa(j+1)
		}
		if len(s.ValuesLists) == 1 {
			// One row: keep each value's structure (VALUES (ROW(a, b))).
			items := s.ValuesLists[0].GetList().GetItems()
			for j, it := range items {
				flows[j] = w.expr(sc, it)
				flows[j].Pass = false
			}
		}
		return names, flows
	}
	sc := &scope{parent: outer, ctes: ctes}
	w.from(sc, s.FromClause)
	windows := s.WindowClause
	saved := w.windows
	w.windows = windows
	names, flows := w.targetList(sc, s.TargetList)
	w.windows = saved
	return names, flows
}

// setop is the flow of each column of a UNION, INTERSECT or EXCEPT: either arm's values,
// never a pass-through (PostgreSQL reports no table for it either).
func setop(left, right []Flow) []Flow {
	out := make([]Flow, len(left))
	for j := range left {
		if j < len(right) {
			out[j] = union(left[j], right[j])
		} else {
			out[j] = union(left[j], opaque("the arms of a set operation differ in width"))
		}
	}
	return out
}

// dmlQuery is the output of a data-modifying statement's RETURNING, at the top or in a
// WITH.
func (w *lwalk) dmlQuery(n *pg_query.Node, outer *scope, ctes *cteScope) ([]string, []Flow) {
	switch x := n.Node.(type) {
	case *pg_query.Node_InsertStmt:
		s := x.InsertStmt
		sc := &scope{parent: outer, ctes: w.with(s.WithClause, outer, ctes)}
		t := w.target(sc, s.Relation)
		if s.SelectStmt != nil {
			// The source query cannot see the target.
			_, vals := w.query(s.SelectStmt, outer, sc.ctes)
			inserts(t, s.Cols, vals)
		}
		if oc := s.OnConflictClause; oc != nil && len(oc.TargetList) > 0 {
			excluded := &rel{name: "excluded", cols: t.cols, flows: append([]Flow(nil), t.flows...), opaque: t.opaque}
			osc := &scope{parent: outer, items: []*rel{t}, named: []*rel{t, excluded}, ctes: sc.ctes}
			w.assignments(osc, t, oc.TargetList)
		}
		return w.targetList(sc, s.ReturningList)
	case *pg_query.Node_UpdateStmt:
		s := x.UpdateStmt
		sc := &scope{parent: outer, ctes: w.with(s.WithClause, outer, ctes)}
		t := w.target(sc, s.Relation)
		w.from(sc, s.FromClause)
		w.assignments(sc, t, s.TargetList)
		return w.targetList(sc, s.ReturningList)
	case *pg_query.Node_DeleteStmt:
		s := x.DeleteStmt
		sc := &scope{parent: outer, ctes: w.with(s.WithClause, outer, ctes)}
		w.target(sc, s.Relation)
		w.from(sc, s.UsingClause)
		return w.targetList(sc, s.ReturningList)
	case *pg_query.Node_MergeStmt:
		s := x.MergeStmt
		sc := &scope{parent: outer, ctes: w.with(s.WithClause, outer, ctes)}
		t := w.target(sc, s.Relation)
		if s.SourceRelation != nil {
			w.from(sc, []*pg_query.Node{s.SourceRelation})
		}
		for _, c := range s.MergeWhenClauses {
			wc := c.GetMergeWhenClause()
			if wc == nil {
				continue
			}
			switch wc.CommandType {
			case pg_query.CmdType_CMD_UPDATE:
				w.assignments(sc, t, wc.TargetList)
			case pg_query.CmdType_CMD_INSERT:
				vals := make([]Flow, len(wc.Values))
				for j, v := range wc.Values {
					vals[j] = w.expr(sc, v)
				}
				inserts(t, wc.TargetList, vals)
			}
		}
		return w.targetList(sc, s.ReturningList)
	}
	return nil, []Flow{opaque("a query of kind %s is not understood", nodeKind(n))}
}

// with walks a WITH clause: each CTE is visible to the ones after it (and, when
// recursive, to itself) and to the query.
func (w *lwalk) with(wc *pg_query.WithClause, outer *scope, ctes *cteScope) *cteScope {
	if wc == nil {
		return ctes
	}
	cs := &cteScope{parent: ctes}
	for _, n := range wc.Ctes {
		c := n.GetCommonTableExpr()
		if c == nil {
			continue
		}
		def := &cte{name: c.Ctename}
		var alias []string
		for _, a := range c.Aliascolnames {
			alias = append(alias, strVal(a))
		}
		if wc.Recursive {
			w.recursiveCTE(def, c, alias, outer, cs)
		} else {
			def.cols, def.flows = w.query(c.Ctequery, outer, cs)
		}
		def.cols = rename(def.cols, alias)
		searchCycle(def, c)
		cs.ctes = append(cs.ctes, def)
	}
	return cs
}

// searchCycle adds the columns that SEARCH and CYCLE add to a recursive CTE: each is made
// of the values of the columns it lists (the path is an array of them).
func searchCycle(def *cte, c *pg_query.CommonTableExpr) {
	listed := func(ns []*pg_query.Node) Flow {
		var f Flow
		for _, n := range ns {
			f.add(colFlow(&rel{cols: def.cols, flows: def.flows}, strVal(n)))
		}
		return f
	}
	if sc := c.SearchClause; sc != nil {
		def.cols = append(def.cols, sc.SearchSeqColumn)
		def.flows = append(def.flows, listed(sc.SearchColList))
	}
	if cc := c.CycleClause; cc != nil {
		f := listed(cc.CycleColList)
		def.cols = append(def.cols, cc.CycleMarkColumn, cc.CyclePathColumn)
		def.flows = append(def.flows, f, f)
	}
}

// recursiveCTE resolves a WITH RECURSIVE member: its non-recursive arm first, then the
// recursive arm over what is known so far, until the sources stop growing.
func (w *lwalk) recursiveCTE(def *cte, c *pg_query.CommonTableExpr, alias []string, outer *scope, cs *cteScope) {
	s := c.Ctequery.GetSelectStmt()
	if s == nil || s.Op != pg_query.SetOperation_SETOP_UNION || s.Larg == nil {
		def.pending = true
		cs.ctes = append(cs.ctes, def)
		def.cols, def.flows = w.query(c.Ctequery, outer, cs)
		cs.ctes = cs.ctes[:len(cs.ctes)-1]
		def.pending = false
		if def.opaque != "" {
			for j := range def.flows {
				def.flows[j].add(Flow{Opaque: def.opaque})
			}
		}
		return
	}
	cs.ctes = append(cs.ctes, def)
	defer func() { cs.ctes = cs.ctes[:len(cs.ctes)-1] }()
	inner := w.with(s.WithClause, outer, cs)
	names, flows := w.query(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s.Larg}}, outer, inner)
	def.cols = rename(names, alias)
	def.flows = flows
	for round := 0; round < 64; round++ {
		_, rec := w.query(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s.Rarg}}, outer, inner)
		next := setop(def.flows, rec)
		if sameSources(def.flows, next) {
			def.flows = next
			return
		}
		def.flows = next
	}
	for j := range def.flows {
		def.flows[j].add(opaque("recursive query %s did not settle", c.Ctename))
	}
}

func sameSources(a, b []Flow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Sources) != len(b[i].Sources) || a[i].Opaque != b[i].Opaque || a[i].Pass != b[i].Pass {
			return false
		}
	}
	return true
}

// rename applies an alias's column names to the first columns.
func rename(cols, alias []string) []string {
	if len(alias) == 0 {
		return cols
	}
	out := make([]string, len(cols))
	copy(out, cols)
	for j, a := range alias {
		if j < len(out) {
			out[j] = a
		}
	}
	return out
}

// from walks a FROM list into sc.
func (w *lwalk) from(sc *scope, list []*pg_query.Node) {
	for _, n := range list {
		r := w.fromItem(sc, n)
		sc.items = append(sc.items, r)
	}
}

// fromItem walks one FROM item; named relations are added to sc.named as met, so that a
// LATERAL item sees the ones before it.
func (w *lwalk) fromItem(sc *scope, n *pg_query.Node) *rel {
	switch x := n.Node.(type) {
	case *pg_query.Node_RangeVar:
		r := w.relation(x.RangeVar, sc.ctes)
		sc.named = append(sc.named, r)
		return r
	case *pg_query.Node_RangeSubselect:
		q := x.RangeSubselect
		outer := sc.parent
		if q.Lateral {
			outer = lateral(sc)
		}
		cols, flows := w.query(q.Subquery, outer, sc.ctes)
		r := &rel{cols: cols, flows: flows}
		w.alias(r, q.Alias)
		sc.named = append(sc.named, r)
		return r
	case *pg_query.Node_RangeFunction:
		r := w.rangeFunction(lateral(sc), x.RangeFunction)
		sc.named = append(sc.named, r)
		return r
	case *pg_query.Node_RangeTableSample:
		return w.fromItem(sc, x.RangeTableSample.Relation)
	case *pg_query.Node_RangeTableFunc:
		t := x.RangeTableFunc
		ls := lateral(sc)
		f := union(w.expr(ls, t.Docexpr), w.expr(ls, t.Rowexpr))
		r := &rel{}
		for _, c := range t.Columns {
			col := c.GetRangeTableFuncCol()
			if col == nil {
				continue
			}
			cf := computed(f)
			if col.Colexpr != nil {
				cf.add(w.expr(ls, col.Colexpr))
			}
			if col.ForOrdinality {
				cf = Flow{}
			}
			r.cols = append(r.cols, col.Colname)
			r.flows = append(r.flows, cf)
		}
		w.alias(r, t.Alias)
		sc.named = append(sc.named, r)
		return r
	case *pg_query.Node_JsonTable:
		t := x.JsonTable
		ls := lateral(sc)
		f := computed(w.jsonValue(ls, t.ContextItem))
		for _, p := range t.Passing {
			f.add(w.expr(ls, p))
		}
		r := &rel{}
		jsonTableColumns(r, t.Columns, f)
		w.alias(r, t.Alias)
		sc.named = append(sc.named, r)
		return r
	case *pg_query.Node_JoinExpr:
		return w.join(sc, x.JoinExpr)
	}
	r := &rel{opaque: fmt.Sprintf("a FROM item of kind %s is not understood", nodeKind(n))}
	sc.named = append(sc.named, r)
	return r
}

func jsonTableColumns(r *rel, cols []*pg_query.Node, f Flow) {
	for _, c := range cols {
		col := c.GetJsonTableColumn()
		if col == nil {
			continue
		}
		if col.Coltype == pg_query.JsonTableColumnType_JTC_NESTED {
			jsonTableColumns(r, col.Columns, f)
			continue
		}
		cf := computed(f)
		if col.Coltype == pg_query.JsonTableColumnType_JTC_FOR_ORDINALITY {
			cf = Flow{}
		}
		r.cols = append(r.cols, col.Name)
		r.flows = append(r.flows, cf)
	}
}

// lateral is the scope a LATERAL item (or a function in FROM) sees: the items before it
// at this level, and the enclosing levels.
func lateral(sc *scope) *scope {
	return &scope{parent: sc.parent, items: sc.named, named: sc.named, ctes: sc.ctes}
}

// alias names r by an alias and renames its columns.
func (w *lwalk) alias(r *rel, a *pg_query.Alias) {
	if a == nil {
		return
	}
	r.name, r.schema = a.Aliasname, ""
	var names []string
	for _, c := range a.Colnames {
		names = append(names, strVal(c))
	}
	r.cols = rename(r.cols, names)
}

// relation resolves a relation in FROM: a CTE when unqualified and one is in scope, else
// the Schema's relation; a view's columns are its query's flows.
func (w *lwalk) relation(rv *pg_query.RangeVar, ctes *cteScope) *rel {
	r := &rel{name: rv.Relname, schema: rv.Schemaname}
	if rv.Schemaname == "" {
		if c := ctes.find(rv.Relname); c != nil {
			if c.pending {
				// A recursive reference before the CTE is known: its flows come from the
				// iteration (recursiveCTE); as a plain reference it is opaque.
				c.opaque = "recursive query " + c.name + " refers to itself"
				r.opaque = c.opaque
				return w.aliased(r, rv)
			}
			r.cols, r.flows = c.cols, c.flows
			return w.aliased(r, rv)
		}
	}
	base := w.base(rv.Schemaname, rv.Relname)
	r.cols, r.flows, r.opaque, r.table = base.cols, base.flows, base.opaque, base.table
	return w.aliased(r, rv)
}

func (w *lwalk) aliased(r *rel, rv *pg_query.RangeVar) *rel {
	w.alias(r, rv.Alias)
	return r
}

// base resolves a table or view through the Schema, once per Flows call.
func (w *lwalk) base(schema, name string) *rel {
	key := schema + "." + name
	if r, ok := w.rels[key]; ok {
		return r
	}
	r := w.resolve(schema, name)
	if w.rels == nil {
		w.rels = make(map[string]*rel)
	}
	w.rels[key] = r
	return r
}

func (w *lwalk) resolve(schema, name string) *rel {
	full := name
	if schema != "" {
		full = schema + "." + name
	}
	if w.l.Schema == nil {
		return &rel{opaque: "relation " + full + " could not be resolved: no schema"}
	}
	rd, err := w.l.Schema.Relation(schema, name)
	if err != nil || rd == nil {
		return &rel{opaque: fmt.Sprintf("unknown relation %s", full)}
	}
	r := &rel{cols: rd.Columns}
	if rd.Opaque != "" {
		r.opaque = rd.Opaque
		return r
	}
	r.flows = make([]Flow, len(rd.Columns))
	if rd.Query == "" {
		r.table = true
		for j, c := range rd.Columns {
			r.flows[j] = Flow{Pass: true, Sources: []Source{{Schema: rd.Schema, Table: rd.Name, Column: c}}}
		}
		return r
	}
	vname := rd.Schema + "." + rd.Name
	for _, v := range w.views {
		if v == vname {
			r.opaque = "view " + vname + " refers to itself"
			return r
		}
	}
	if len(w.views) >= maxViewNesting {
		r.opaque = "view " + vname + " is nested too deep"
		return r
	}
	if w.l.Parse == nil {
		r.opaque = "view " + vname + " could not be read: no parser"
		return r
	}
	tree, err := w.l.Parse(rd.Query)
	if err != nil || len(tree.GetStmts()) != 1 {
		r.opaque = "view " + vname + " could not be read"
		return r
	}
	w.views = append(w.views, vname)
	savedWin, savedDepth := w.windows, w.depth
	w.windows = nil
	_, flows := w.query(tree.Stmts[0].Stmt, nil, nil)
	w.windows, w.depth = savedWin, savedDepth
	w.views = w.views[:len(w.views)-1]
	if len(flows) != len(rd.Columns) {
		r.opaque = "view " + vname + " has " + strconv.Itoa(len(rd.Columns)) + " columns but its query " + strconv.Itoa(len(flows))
		return r
	}
	r.flows = flows
	return r
}

// join walks a JOIN: its columns are the USING (or NATURAL) columns merged, then the
// left's others, then the right's, as PostgreSQL expands *.
func (w *lwalk) join(sc *scope, j *pg_query.JoinExpr) *rel {
	before := len(sc.named)
	l := w.fromItem(sc, j.Larg)
	r := w.fromItem(sc, j.Rarg)
	out := &rel{}
	if l.opaque != "" || r.opaque != "" {
		out.opaque = l.opaque
		if out.opaque == "" {
			out.opaque = r.opaque
		}
	}
	var using []string
	if j.IsNatural {
		for _, c := range l.cols {
			if contains(r.cols, c) {
				using = append(using, c)
			}
		}
	} else {
		for _, u := range j.UsingClause {
			using = append(using, strVal(u))
		}
	}
	var merged []Flow
	for _, u := range using {
		lf, rf := colFlow(l, u), colFlow(r, u)
		var f Flow
		switch j.Jointype {
		case pg_query.JoinType_JOIN_RIGHT:
			f = rf
		case pg_query.JoinType_JOIN_FULL:
			f = union(lf, rf) // COALESCE(l.u, r.u)
		default:
			f = lf
		}
		out.cols = append(out.cols, u)
		merged = append(merged, f)
	}
	out.flows = append(out.flows, merged...)
	for _, side := range []*rel{l, r} {
		for k, c := range side.cols {
			if contains(using, c) {
				continue
			}
			out.cols = append(out.cols, c)
			out.flows = append(out.flows, side.flow(k))
		}
	}
	if j.JoinUsingAlias != nil {
		// JOIN ... USING (id) AS x: x.id names the merged columns.
		ua := &rel{name: j.JoinUsingAlias.Aliasname, cols: using, flows: merged}
		sc.named = append(sc.named, ua)
	}
	if j.Alias != nil {
		// An aliased join hides the names inside it.
		sc.named = sc.named[:before]
		w.alias(out, j.Alias)
		sc.named = append(sc.named, out)
	}
	return out
}

func colFlow(r *rel, c string) Flow {
	if r.opaque != "" {
		return Flow{Opaque: r.opaque}
	}
	for k, x := range r.cols {
		if x == c {
			return r.flow(k)
		}
	}
	return opaque("column %s is not in the joined relation", c)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// targetList returns the names and flows of a SELECT list or RETURNING list, * expanded.
func (w *lwalk) targetList(sc *scope, list []*pg_query.Node) ([]string, []Flow) {
	names := make([]string, 0, len(list))
	flows := make([]Flow, 0, len(list))
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			names = append(names, "?column?")
			flows = append(flows, opaque("a target of kind %s is not understood", nodeKind(n)))
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			ns, fs := w.expandStar(sc, cr)
			names = append(names, ns...)
			flows = append(flows, fs...)
			continue
		}
		if ind := rt.Val.GetAIndirection(); ind != nil && len(ind.Indirection) > 0 && ind.Indirection[len(ind.Indirection)-1].GetAStar() != nil {
			ns, fs := w.expandRecord(sc, ind)
			names = append(names, ns...)
			flows = append(flows, fs...)
			continue
		}
		f := w.expr(sc, rt.Val)
		name := rt.Name
		if name == "" {
			name = exprName(rt.Val)
		}
		names = append(names, name)
		flows = append(flows, f)
	}
	return names, flows
}

// expandRecord expands (rec).* in a target list into the record's fields.
func (w *lwalk) expandRecord(sc *scope, ind *pg_query.A_Indirection) ([]string, []Flow) {
	f := w.indirection(sc, &pg_query.A_Indirection{Arg: ind.Arg, Indirection: ind.Indirection[:len(ind.Indirection)-1]})
	if f.Fields == nil || len(f.Names) != len(f.Fields) {
		return []string{"?column?"}, []Flow{union(f, opaque("the fields of a record of unknown type"))}
	}
	fs := make([]Flow, len(f.Fields))
	copy(fs, f.Fields)
	if ind.Arg.GetColumnRef() == nil || len(ind.Indirection) > 1 {
		// (ROW(a, b)).* is FieldSelects; only a whole-row reference's are its columns.
		for k := range fs {
			fs[k].Pass = false
		}
	}
	return f.Names, fs
}

// exprName is the name PostgreSQL gives an unnamed output column, as far as subqueries'
// column references need it.
func exprName(n *pg_query.Node) string {
	switch x := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		fs := x.ColumnRef.Fields
		if len(fs) > 0 {
			if s := fs[len(fs)-1].GetString_(); s != nil {
				return s.Sval
			}
		}
	case *pg_query.Node_FuncCall:
		fs := x.FuncCall.Funcname
		if len(fs) > 0 {
			return strVal(fs[len(fs)-1])
		}
	case *pg_query.Node_TypeCast:
		if name := exprName(x.TypeCast.Arg); name != "?column?" {
			return name
		}
		if tn := x.TypeCast.TypeName; tn != nil && len(tn.Names) > 0 {
			return strVal(tn.Names[len(tn.Names)-1])
		}
	case *pg_query.Node_AIndirection:
		ind := x.AIndirection.Indirection
		if len(ind) > 0 {
			if s := ind[len(ind)-1].GetString_(); s != nil {
				return s.Sval
			}
		}
		return exprName(x.AIndirection.Arg)
	case *pg_query.Node_CaseExpr:
		return "case"
	case *pg_query.Node_AArrayExpr:
		return "array"
	case *pg_query.Node_RowExpr:
		return "row"
	case *pg_query.Node_CoalesceExpr:
		return "coalesce"
	case *pg_query.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if s := x.SubLink.Subselect.GetSelectStmt(); s != nil && len(s.TargetList) == 1 {
				if rt := s.TargetList[0].GetResTarget(); rt != nil {
					if rt.Name != "" {
						return rt.Name
					}
					return exprName(rt.Val)
				}
			}
		}
	}
	return "?column?"
}

// expandStar expands *, t.* or s.t.* in a target list.
func (w *lwalk) expandStar(sc *scope, cr *pg_query.ColumnRef) ([]string, []Flow) {
	if len(cr.Fields) == 1 {
		var names []string
		var flows []Flow
		for _, r := range sc.items {
			fs := w.star(sc, r)
			names = append(names, starNames(r, len(fs))...)
			flows = append(flows, fs...)
		}
		if len(sc.items) == 0 {
			return []string{"?column?"}, []Flow{opaque("SELECT * without FROM")}
		}
		return names, flows
	}
	quals := make([]string, len(cr.Fields)-1)
	for k := range quals {
		quals[k] = strVal(cr.Fields[k])
	}
	r := findRel(sc, quals)
	if r == nil {
		return []string{"?column?"}, []Flow{opaque("unknown relation %s", strings.Join(quals, "."))}
	}
	fs := w.star(sc, r)
	return starNames(r, len(fs)), fs
}

// star is the flows of r's columns: each Opaque when r's contents are not known (one
// when even its columns are not).
func (w *lwalk) star(_ *scope, r *rel) []Flow {
	if r.opaque != "" {
		n := max(len(r.cols), 1)
		out := make([]Flow, n)
		for k := range out {
			out[k] = Flow{Opaque: r.opaque}
		}
		return out
	}
	out := make([]Flow, len(r.cols))
	for k := range out {
		out[k] = r.flow(k)
	}
	return out
}

// starNames are the names of n flows of r's columns.
func starNames(r *rel, n int) []string {
	if len(r.cols) == n {
		return r.cols
	}
	names := make([]string, n)
	for k := range names {
		names[k] = "?column?"
	}
	return names
}

// findRel finds a relation by qualified name ("c", or "public", "customers") in the
// innermost scope that has it.
func findRel(sc *scope, quals []string) *rel {
	for s := sc; s != nil; s = s.parent {
		for i := len(s.named) - 1; i >= 0; i-- {
			r := s.named[i]
			switch len(quals) {
			case 1:
				if r.name == quals[0] {
					return r
				}
			case 2:
				if r.name == quals[1] && r.schema == quals[0] {
					return r
				}
			case 3: // db.schema.table
				if r.name == quals[2] && r.schema == quals[1] {
					return r
				}
			}
		}
	}
	return nil
}

// column resolves a column reference (without *).
func (w *lwalk) column(sc *scope, fields []string) Flow {
	if len(fields) == 1 {
		name := fields[0]
		for s := sc; s != nil; s = s.parent {
			found, f, ok := lookup(s, name)
			if found {
				return f
			}
			if !ok {
				return f
			}
		}
		// Not a column: a whole-row reference to a relation of that name.
		if r := findRel(sc, fields); r != nil {
			return w.wholeRow(r)
		}
		if systemColumn(name) {
			tables := 0
			for _, r := range sc.items {
				if r.table {
					tables++
				}
			}
			if tables == 1 && len(sc.items) == 1 {
				return Flow{}
			}
		}
		return opaque("unknown column %s", name)
	}
	quals, col := fields[:len(fields)-1], fields[len(fields)-1]
	r := findRel(sc, quals)
	if r == nil {
		if len(fields) == 2 {
			// (rec).field written without parentheses is not SQL; a.b with no relation a
			// may be a column a of a composite type in a newer syntax: unknown.
			return opaque("unknown relation %s", quals[0])
		}
		return opaque("unknown relation %s", strings.Join(quals, "."))
	}
	if r.opaque != "" {
		return Flow{Opaque: r.opaque}
	}
	for k, c := range r.cols {
		if c == col {
			return r.flow(k)
		}
	}
	if r.table && systemColumn(col) {
		return Flow{}
	}
	// t.f with no column f is the call f(t) (attribute notation).
	return opaque("%s.%s is not a column: a function call f(t) is not traced", strings.Join(quals, "."), col)
}

// lookup finds an unqualified column at one query level. found: exactly one match;
// !ok: the answer is an Opaque flow (ambiguous, or a relation whose columns are unknown).
func lookup(s *scope, name string) (found bool, f Flow, ok bool) {
	n := 0
	unknown := ""
	for _, r := range s.items {
		if r.opaque != "" {
			unknown = r.opaque
			continue
		}
		for k, c := range r.cols {
			if c == name {
				n++
				f = r.flow(k)
			}
		}
	}
	switch {
	case n > 1:
		return false, opaque("column reference %s is ambiguous", name), false
	case unknown != "":
		return false, Flow{Opaque: unknown}, false
	case n == 1:
		return true, f, true
	}
	return false, Flow{}, true
}

// wholeRow is the flow of a whole-row reference: a record of r's columns.
func (w *lwalk) wholeRow(r *rel) Flow {
	if r.opaque != "" {
		return Flow{Opaque: r.opaque}
	}
	fs := make([]Flow, len(r.cols))
	for k := range fs {
		fs[k] = r.flow(k)
	}
	return record(r.cols, fs)
}

func strVal(n *pg_query.Node) string {
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

func nodeKind(n *pg_query.Node) string {
	if n == nil || n.Node == nil {
		return "nil"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_")
}
