package classify

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/hoopgw/hoop/policy"
)

// The walk visits every message of a statement's tree through reflection over the
// generated structs (see plan), so no field is forgotten: a function call in a DEFAULT, an
// ORDER BY or a CTE is seen as surely as one in the SELECT list. Each node is one of:
//   - a statement (describe knows it): its own class is raised, then its children walked;
//   - a node with a rule of its own (a function call, a relation, a WITH);
//   - a plain part of the raw parse tree (parts): its children are walked;
//   - anything else (a node only found in analysed trees, a node type or field from a newer
//     parser, which protobuf keeps as an unknown field): admin, fail closed.

const unknownNode = "the parse tree has a node this classifier does not know"

// parts are the nodes of PostgreSQL's raw parse trees that are neither statements nor
// handled on their own: expressions, clauses and their pieces. They are harmless in
// themselves; what they contain is walked.
var parts = func() map[protoreflect.FullName]bool {
	ms := []proto.Message{
		(*pg_query.Alias)(nil), (*pg_query.IntoClause)(nil), (*pg_query.GroupingFunc)(nil),
		(*pg_query.MergeSupportFunc)(nil), (*pg_query.NamedArgExpr)(nil), (*pg_query.BoolExpr)(nil),
		(*pg_query.SubLink)(nil), (*pg_query.CaseExpr)(nil), (*pg_query.CaseWhen)(nil),
		(*pg_query.RowExpr)(nil), (*pg_query.CoalesceExpr)(nil), (*pg_query.MinMaxExpr)(nil),
		(*pg_query.SQLValueFunction)(nil), (*pg_query.XmlExpr)(nil), (*pg_query.JsonFormat)(nil),
		(*pg_query.JsonReturning)(nil), (*pg_query.JsonValueExpr)(nil), (*pg_query.JsonIsPredicate)(nil),
		(*pg_query.JsonBehavior)(nil), (*pg_query.NullTest)(nil), (*pg_query.BooleanTest)(nil),
		(*pg_query.SetToDefault)(nil), (*pg_query.CurrentOfExpr)(nil), (*pg_query.JoinExpr)(nil),
		(*pg_query.TypeName)(nil), (*pg_query.ParamRef)(nil), (*pg_query.A_Expr)(nil),
		(*pg_query.TypeCast)(nil), (*pg_query.CollateClause)(nil), (*pg_query.RoleSpec)(nil),
		(*pg_query.A_Star)(nil), (*pg_query.A_Indices)(nil), (*pg_query.A_ArrayExpr)(nil),
		(*pg_query.ResTarget)(nil), (*pg_query.MultiAssignRef)(nil), (*pg_query.SortBy)(nil),
		(*pg_query.WindowDef)(nil), (*pg_query.RangeSubselect)(nil), (*pg_query.RangeFunction)(nil),
		(*pg_query.RangeTableFunc)(nil), (*pg_query.RangeTableFuncCol)(nil),
		(*pg_query.RangeTableSample)(nil), (*pg_query.ColumnDef)(nil), (*pg_query.TableLikeClause)(nil),
		(*pg_query.IndexElem)(nil), (*pg_query.DefElem)(nil), (*pg_query.LockingClause)(nil),
		(*pg_query.XmlSerialize)(nil), (*pg_query.PartitionElem)(nil), (*pg_query.PartitionSpec)(nil),
		(*pg_query.PartitionBoundSpec)(nil), (*pg_query.PartitionRangeDatum)(nil),
		(*pg_query.SinglePartitionSpec)(nil), (*pg_query.PartitionCmd)(nil), (*pg_query.GroupingSet)(nil),
		(*pg_query.InferClause)(nil), (*pg_query.OnConflictClause)(nil), (*pg_query.CTESearchClause)(nil),
		(*pg_query.CTECycleClause)(nil), (*pg_query.CommonTableExpr)(nil), (*pg_query.MergeWhenClause)(nil),
		(*pg_query.TriggerTransition)(nil), (*pg_query.JsonOutput)(nil), (*pg_query.JsonArgument)(nil),
		(*pg_query.JsonFuncExpr)(nil), (*pg_query.JsonTablePathSpec)(nil), (*pg_query.JsonTable)(nil),
		(*pg_query.JsonTableColumn)(nil), (*pg_query.JsonKeyValue)(nil), (*pg_query.JsonParseExpr)(nil),
		(*pg_query.JsonScalarExpr)(nil), (*pg_query.JsonSerializeExpr)(nil),
		(*pg_query.JsonObjectConstructor)(nil), (*pg_query.JsonArrayConstructor)(nil),
		(*pg_query.JsonArrayQueryConstructor)(nil), (*pg_query.JsonAggConstructor)(nil),
		(*pg_query.JsonObjectAgg)(nil), (*pg_query.JsonArrayAgg)(nil), (*pg_query.AlterTableCmd)(nil),
		(*pg_query.ObjectWithArgs)(nil), (*pg_query.AccessPriv)(nil), (*pg_query.Constraint)(nil),
		(*pg_query.CreateOpClassItem)(nil), (*pg_query.FunctionParameter)(nil), (*pg_query.StatsElem)(nil),
		(*pg_query.VacuumRelation)(nil), (*pg_query.PublicationTable)(nil),
		(*pg_query.PublicationObjSpec)(nil), (*pg_query.Integer)(nil), (*pg_query.Float)(nil),
		(*pg_query.Boolean)(nil), (*pg_query.String)(nil), (*pg_query.BitString)(nil),
		(*pg_query.List)(nil), (*pg_query.A_Const)(nil),
	}
	set := make(map[protoreflect.FullName]bool, len(ms))
	for _, m := range ms {
		set[m.ProtoReflect().Descriptor().FullName()] = true
	}
	return set
}()

// rank orders the classes: read 1 < write 2 < ddl 3 < admin 4.
func rank(c policy.Class) int {
	switch c {
	case policy.Read:
		return 1
	case policy.Write:
		return 2
	case policy.DDL:
		return 3
	case policy.Admin:
		return 4
	}
	return 0
}

// table is a relation the statement names, with its byte offset for ordering.
type table struct {
	name string
	loc  int32
}

// walker accumulates the class of one statement while it walks the statement's tree.
type walker struct {
	class    policy.Class
	reason   string   // the first reason given for class
	tables   []table  // relations named, in the order met
	scope    []string // names of the CTEs visible where the walk is
	inWith   int      // > 0 inside a CTE's query
	outer    []string // the enclosing statements' kinds, innermost last, for reasons
	executes string   // the prepared statement a top-level EXECUTE runs, when its arguments only read
	execWhy  string   // why a top-level EXECUTE's arguments need more than read
	refs     []Ref    // code of the database's own the statement runs, each once (Statement.Refs)
	refSet   map[Ref]bool
	// harmless are set_config calls whose setting the statement pins to a harmless one
	// (pg_dump's set_config(name, …) FROM pg_settings WHERE name = '…').
	harmless map[*pg_query.FuncCall]bool
}

// ref notes code of the database's own that the statement runs (see catalog.go).
func (w *walker) ref(r Ref) {
	if r.Name == "" {
		return
	}
	// A linear search while short; a set once long, so that a statement with many names
	// costs no more than its size.
	if w.refSet == nil {
		if slices.Contains(w.refs, r) {
			return
		}
		if len(w.refs) >= 16 {
			w.refSet = make(map[Ref]bool, 64)
			for _, x := range w.refs {
				w.refSet[x] = true
			}
		}
	} else if w.refSet[r] {
		return
	}
	if w.refSet != nil {
		w.refSet[r] = true
	}
	w.refs = append(w.refs, r)
}

func newWalker() *walker { return &walker{class: policy.Read} }

// raise lifts the class to at least c; the reason kept is the first one given for the
// highest class.
func (w *walker) raise(c policy.Class, reason string) {
	switch r := rank(c); {
	case r > rank(w.class):
		w.class, w.reason = c, reason
	case r == rank(w.class) && w.reason == "":
		w.reason = reason
	}
}

// classifyRaw classifies one statement of the parse result.
func classifyRaw(sql string, raw *pg_query.RawStmt) Statement {
	st := Statement{Text: stmtText(sql, raw), Kind: "UNKNOWN"}
	inner := nodeMessage(raw.GetStmt())
	in, ok := info{}, false
	if inner != nil {
		in, ok = describe(inner)
	}
	if !ok || len(raw.ProtoReflect().GetUnknown()) != 0 {
		st.Class, st.Reason = policy.Admin, unknownNode
		return st
	}
	w := newWalker()
	w.message(raw.GetStmt())
	st.Kind, st.Class, st.Reason = in.kind, w.class, w.reason
	if w.class == in.class {
		st.Reason = in.reason // the statement's own class: its own reason, not a part's
	}
	st.Always = in.always && st.Class == policy.Read
	st.Tables = w.tableNames()
	st.Refs = w.refs
	switch x := inner.(type) {
	case *pg_query.PrepareStmt:
		st.Prepares = x.GetName()
	case *pg_query.DeallocateStmt:
		if x.GetIsall() || x.GetName() == "" {
			st.DeallocatesAll = true
		} else {
			st.Deallocates = x.GetName()
		}
	case *pg_query.DeclareCursorStmt:
		st.Declares, st.Hold = x.GetPortalname(), x.GetOptions()&cursorOptHold != 0
	case *pg_query.FetchStmt:
		// FETCH and MOVE run more of the cursor's query, which may write (a volatile
		// function in its target list runs at FETCH time, not at DECLARE).
		st.Fetches = x.GetPortalname()
		st.Class = policy.Admin
		st.Reason = st.Kind + " runs more of cursor " + x.GetPortalname() + ": its class is the one DECLARE recorded"
	case *pg_query.ClosePortalStmt:
		if x.GetPortalname() == "" {
			st.ClosesAll = true
		} else {
			st.Closes = x.GetPortalname()
		}
	case *pg_query.DiscardStmt:
		if x.GetTarget() == pg_query.DiscardMode_DISCARD_ALL {
			st.DeallocatesAll, st.ClosesAll = true, true
		}
	}
	if x, ok := inner.(*pg_query.ExecuteStmt); ok {
		if w.executes != "" {
			st.Executes = w.executes
			st.Reason = "EXECUTE runs prepared statement " + x.GetName() + ": its class is the one PREPARE recorded"
		} else if w.execWhy != "" {
			st.Reason = "EXECUTE's arguments: " + w.execWhy
		}
	}
	return st
}

// cursorOptHold is PostgreSQL's CURSOR_OPT_HOLD, DECLARE's WITH HOLD.
const cursorOptHold = 0x0020

// nodeMessage returns the message inside a Node's oneof, nil when it holds none.
func nodeMessage(n *pg_query.Node) proto.Message {
	if n == nil {
		return nil
	}
	m := n.ProtoReflect()
	fd := m.WhichOneof(nodeOneof)
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface()
}

var nodeOneof = (*pg_query.Node)(nil).ProtoReflect().Descriptor().Oneofs().ByName("node")

// message walks m and everything in it. m is a pointer to a generated message struct.
func (w *walker) message(m proto.Message) {
	if m == nil || reflect.ValueOf(m).IsNil() {
		return
	}
	if len(m.ProtoReflect().GetUnknown()) != 0 {
		w.raise(policy.Admin, unknownNode)
	}
	if sel, ok := m.(*pg_query.SelectStmt); ok {
		w.notePinnedSetConfig(sel)
	}
	switch x := m.(type) {
	case *pg_query.Node:
		// An empty Node is a NULL in a list (SELECT DISTINCT's distinctClause is a list of
		// one NULL). A node type from a newer parser would be an unknown field, caught above.
		w.children(m, "")
		return
	case *pg_query.String, *pg_query.Integer, *pg_query.Float, *pg_query.Boolean,
		*pg_query.A_Const, *pg_query.ParamRef, *pg_query.A_Star:
		return // leaves
	case *pg_query.FuncCall:
		w.funcCall(x)
		w.children(m, "")
		return
	case *pg_query.ColumnRef:
		// t.f is f(t) when t is a row and f a function ("attribute notation").
		if f := x.GetFields(); len(f) >= 2 {
			w.attribute(f[len(f)-1])
		}
		w.children(m, "")
		return
	case *pg_query.A_Indirection:
		for _, n := range x.GetIndirection() {
			w.attribute(n)
		}
		w.children(m, "")
		return
	case *pg_query.RangeVar:
		if x.GetSchemaname() == "" && x.GetCatalogname() == "" && w.inScope(x.GetRelname()) {
			return // a CTE, not a relation
		}
		w.addTable(x)
		return
	case *pg_query.WithClause:
		// Met here only where a WITH is not a statement's (those go through with).
		w.with(x)
		return
	case *pg_query.A_Expr:
		w.operator(x)
		w.children(m, "")
		return
	case *pg_query.SubLink:
		if t := x.GetSubLinkType(); t == pg_query.SubLinkType_ANY_SUBLINK || t == pg_query.SubLinkType_ALL_SUBLINK ||
			t == pg_query.SubLinkType_ROWCOMPARE_SUBLINK {
			if len(x.GetOperName()) == 0 {
				w.ref(Ref{Kind: RefOperator, Name: "=", Args: 2}) // IN (SELECT ...)
			} else {
				w.operatorName(x.GetOperName(), 2)
			}
		}
		w.children(m, "")
		return
	case *pg_query.SortBy:
		w.operatorName(x.GetUseOp(), 2) // ORDER BY x USING <<<
		w.children(m, "")
		return
	case *pg_query.TypeCast:
		if s, n := qualified(x.GetTypeName().GetNames()); n != "" {
			w.ref(Ref{Kind: RefCast, Schema: s, Name: n})
		}
		w.children(m, "")
		return
	}
	if in, ok := describe(m); ok {
		w.statement(m, in)
		return
	}
	if p := planFor(reflect.TypeOf(m)); !p.part {
		w.raise(policy.Admin, unknownNode+": "+p.name)
		return
	}
	w.children(m, "")
}

// children walks every message field of m but the one named skip ("WithClause").
func (w *walker) children(m proto.Message, skip string) {
	v := reflect.ValueOf(m).Elem()
	for _, f := range planFor(reflect.TypeOf(m)).fields {
		if f.name == skip {
			continue
		}
		fv := v.Field(f.index)
		switch f.kind {
		case fieldMessage:
			if !fv.IsNil() {
				w.message(fv.Interface().(proto.Message))
			}
		case fieldList:
			for i := 0; i < fv.Len(); i++ {
				if e := fv.Index(i); !e.IsNil() {
					w.message(e.Interface().(proto.Message))
				}
			}
		case fieldOneof:
			// The interface holds a pointer to a wrapper struct whose one field is the value.
			if fv.IsNil() {
				continue
			}
			inner := fv.Elem().Elem().Field(0)
			if inner.Kind() == reflect.Pointer && !inner.IsNil() {
				if im, ok := inner.Interface().(proto.Message); ok {
					w.message(im)
				}
			}
		}
	}
}

// A plan is what the walk needs to know of one generated struct type: which of its fields
// hold messages. Plans are made once per type, from the struct itself, so a field added
// by a newer pg_query_go is walked without a change here.
type plan struct {
	name   string // "SelectStmt"
	part   bool   // in parts
	fields []fieldPlan
}

type fieldPlan struct {
	index int    // in the struct
	name  string // Go field name: "WithClause"
	kind  fieldKind
}

type fieldKind uint8

const (
	fieldMessage fieldKind = iota // *Msg
	fieldList                     // []*Msg
	fieldOneof                    // a oneof: an interface holding *Wrapper{Value *Msg}
)

var (
	plans       sync.Map // reflect.Type (pointer to struct) → *plan
	messageType = reflect.TypeOf((*proto.Message)(nil)).Elem()
)

func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	desc := reflect.Zero(t).Interface().(proto.Message).ProtoReflect().Descriptor()
	p := &plan{name: string(desc.Name()), part: parts[desc.FullName()]}
	st := t.Elem()
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.IsExported() {
			continue // protobuf's own state, size cache and unknown fields
		}
		switch ft := f.Type; {
		case ft.Kind() == reflect.Pointer && ft.Implements(messageType):
			p.fields = append(p.fields, fieldPlan{i, f.Name, fieldMessage})
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Implements(messageType):
			p.fields = append(p.fields, fieldPlan{i, f.Name, fieldList})
		case ft.Kind() == reflect.Interface && f.Tag.Get("protobuf_oneof") != "":
			p.fields = append(p.fields, fieldPlan{i, f.Name, fieldOneof})
		}
	}
	plans.Store(t, p)
	return p
}

// statement walks a statement node, nested or not.
func (w *walker) statement(m proto.Message, in info) {
	reason := in.reason
	if len(w.outer) > 0 && reason == "" && in.class != policy.Read {
		reason = w.nested(in.kind)
	}
	w.raise(in.class, reason)
	label := in.kind
	defer func(n int) { w.outer = w.outer[:n] }(len(w.outer))

	var with *pg_query.WithClause
	switch x := m.(type) {
	case *pg_query.SelectStmt:
		with = x.GetWithClause()
	case *pg_query.InsertStmt:
		with = x.GetWithClause()
		w.addTable(x.GetRelation()) // a target is a relation even when a CTE has its name
	case *pg_query.UpdateStmt:
		with = x.GetWithClause()
		w.addTable(x.GetRelation())
	case *pg_query.DeleteStmt:
		with = x.GetWithClause()
		w.addTable(x.GetRelation())
	case *pg_query.MergeStmt:
		with = x.GetWithClause()
		w.addTable(x.GetRelation())
	case *pg_query.ExplainStmt:
		if !explainAnalyze(x.GetOptions()) {
			w.explain(x)
			return
		}
		label = "EXPLAIN ANALYZE"
	case *pg_query.ExecuteStmt:
		w.execute(x)
		return
	case *pg_query.DropStmt:
		w.dropped(x)
	}
	w.outer = append(w.outer, label)
	if with == nil {
		w.children(m, "")
		return
	}
	defer func(n int) { w.scope = w.scope[:n] }(len(w.scope))
	w.with(with)
	w.children(m, "WithClause")
}

// with walks the CTEs of a WITH clause and leaves their names in scope for the rest of the
// statement. In a plain WITH a CTE sees only those before it; in WITH RECURSIVE, all.
func (w *walker) with(x *pg_query.WithClause) {
	if len(x.ProtoReflect().GetUnknown()) != 0 {
		w.raise(policy.Admin, unknownNode)
	}
	ctes := x.GetCtes()
	if x.GetRecursive() {
		for _, c := range ctes {
			w.scope = append(w.scope, c.GetCommonTableExpr().GetCtename())
		}
	}
	for _, c := range ctes {
		w.inWith++
		w.message(c)
		w.inWith--
		if !x.GetRecursive() {
			w.scope = append(w.scope, c.GetCommonTableExpr().GetCtename())
		}
	}
}

func (w *walker) inScope(name string) bool {
	for _, s := range w.scope {
		if s == name {
			return true
		}
	}
	return false
}

// nested explains why a statement inside another raised the class: "DELETE inside a WITH".
func (w *walker) nested(kind string) string {
	switch parent := w.outer[len(w.outer)-1]; {
	case w.inWith > 0:
		return kind + " inside a WITH"
	case parent == "EXPLAIN ANALYZE":
		return "EXPLAIN ANALYZE runs the " + kind
	default:
		return kind + " inside " + parent
	}
}

// explain walks EXPLAIN without ANALYZE: the statement is planned, not run, so its class
// does not count; its relations do. EXPLAIN EXECUTE is the exception: it evaluates
// EXECUTE's arguments.
func (w *walker) explain(x *pg_query.ExplainStmt) {
	sub := newWalker()
	sub.message(x.GetQuery())
	w.tables = append(w.tables, sub.tables...)
	w.outer = append(w.outer, "EXPLAIN")
	if e := x.GetQuery().GetExecuteStmt(); e != nil {
		for _, p := range e.GetParams() {
			w.message(p)
		}
	}
	// Without ANALYZE the statement is planned, not run, but the planner calls functions
	// that are not VOLATILE to fold constants and estimate selectivity, and a C or plperl
	// function marked IMMUTABLE may write: the refs count (strict for VOLATILE ones).
	for _, r := range sub.refs {
		w.ref(r)
	}
	for _, o := range x.GetOptions() {
		w.message(o)
	}
}

// execute walks EXECUTE's arguments. At the top level, when they only read, the engine may
// swap EXECUTE's admin class for the one PREPARE recorded (Statement.Executes).
func (w *walker) execute(x *pg_query.ExecuteStmt) {
	sub := newWalker()
	sub.outer = append(sub.outer, "EXECUTE")
	for _, p := range x.GetParams() {
		sub.message(p)
	}
	w.tables = append(w.tables, sub.tables...)
	for _, r := range sub.refs {
		w.ref(r)
	}
	w.raise(sub.class, sub.reason)
	if len(w.outer) > 0 {
		return
	}
	if sub.class == policy.Read {
		w.executes = x.GetName()
	} else {
		w.execWhy = sub.reason
	}
}

// explainAnalyze reports whether EXPLAIN's options run the statement. ANALYZE with a value
// that is not clearly false counts as ANALYZE.
func explainAnalyze(opts []*pg_query.Node) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.GetDefname(), "analyze") {
			continue
		}
		if d.GetArg() == nil || !isFalse(d.GetArg()) {
			return true
		}
	}
	return false
}

// isFalse reports whether an EXPLAIN option's value is boolean false: false, off, no, 0 and
// the prefixes PostgreSQL accepts (f, fa, n, of).
func isFalse(n *pg_query.Node) bool {
	var s string
	switch {
	case n.GetString_() != nil:
		s = n.GetString_().GetSval()
	case n.GetInteger() != nil:
		return n.GetInteger().GetIval() == 0
	case n.GetBoolean() != nil:
		return !n.GetBoolean().GetBoolval()
	case n.GetAConst() != nil:
		return isFalse(constNode(n.GetAConst()))
	default:
		return false
	}
	s = strings.ToLower(strings.TrimSpace(s))
	return s != "" && (strings.HasPrefix("false", s) || strings.HasPrefix("no", s) || s == "of" || s == "off" || s == "0")
}

// constNode turns an A_Const into the plain value node it holds.
func constNode(c *pg_query.A_Const) *pg_query.Node {
	switch v := c.GetVal().(type) {
	case *pg_query.A_Const_Sval:
		return &pg_query.Node{Node: &pg_query.Node_String_{String_: v.Sval}}
	case *pg_query.A_Const_Ival:
		return &pg_query.Node{Node: &pg_query.Node_Integer{Integer: v.Ival}}
	case *pg_query.A_Const_Boolval:
		return &pg_query.Node{Node: &pg_query.Node_Boolean{Boolean: v.Boolval}}
	}
	return &pg_query.Node{}
}

// funcCall raises the class for a call of a function that writes or reaches outside.
func (w *walker) funcCall(x *pg_query.FuncCall) {
	names := x.GetFuncname()
	if len(names) == 0 {
		return
	}
	name := names[len(names)-1].GetString_().GetSval()
	if schema, _ := qualified(names); strings.EqualFold(name, "set_config") && (schema == "" || schema == "pg_catalog") &&
		(harmlessSetConfig(x.GetArgs()) || w.harmless[x]) {
		w.ref(Ref{Kind: RefFunction, Schema: schema, Name: name, Args: len(x.GetArgs()), Harmless: true})
		return
	}
	if c, ok := funcClass(name, len(x.GetArgs())); ok {
		w.raise(c, "calls "+name)
		return
	}
	n := len(x.GetArgs())
	if x.GetAggWithinGroup() {
		n += len(x.GetAggOrder()) // percentile_cont(0.5) WITHIN GROUP (ORDER BY x): two arguments
	}
	schema, name := qualified(names)
	w.ref(Ref{Kind: RefFunction, Schema: schema, Name: name, Args: n})
}

// qualified returns the schema and name of a possibly qualified name list ([name],
// [schema, name] or [catalog, schema, name]).
func qualified(names []*pg_query.Node) (schema, name string) {
	switch len(names) {
	case 0:
		return "", ""
	case 1:
		return "", names[0].GetString_().GetSval()
	}
	return names[len(names)-2].GetString_().GetSval(), names[len(names)-1].GetString_().GetSval()
}

// operator notes the operators an expression uses.
func (w *walker) operator(x *pg_query.A_Expr) {
	args := 2
	if x.GetLexpr() == nil {
		args = 1
	}
	switch x.GetKind() {
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		w.ref(Ref{Kind: RefOperator, Name: ">=", Args: 2})
		w.ref(Ref{Kind: RefOperator, Name: "<=", Args: 2})
		return
	}
	w.operatorName(x.GetName(), args)
}

func (w *walker) operatorName(names []*pg_query.Node, args int) {
	if schema, name := qualified(names); name != "" {
		w.ref(Ref{Kind: RefOperator, Schema: schema, Name: name, Args: args})
	}
}

// attribute checks a name used as a field, which PostgreSQL may read as a function call.
func (w *walker) attribute(n *pg_query.Node) {
	name := n.GetString_().GetSval()
	if name == "" {
		return
	}
	if c, ok := funcClass(name, 1); ok {
		w.raise(c, "calls "+name)
		return
	}
	w.ref(Ref{Kind: RefAttribute, Name: name, Args: 1})
}

// relationTypes are the object types whose DROP names relations.
var relationTypes = map[pg_query.ObjectType]bool{
	pg_query.ObjectType_OBJECT_TABLE: true, pg_query.ObjectType_OBJECT_VIEW: true,
	pg_query.ObjectType_OBJECT_MATVIEW: true, pg_query.ObjectType_OBJECT_FOREIGN_TABLE: true,
	pg_query.ObjectType_OBJECT_SEQUENCE: true, pg_query.ObjectType_OBJECT_INDEX: true,
}

// dropped adds the relations a DROP names (as lists of names, not RangeVars).
func (w *walker) dropped(x *pg_query.DropStmt) {
	if !relationTypes[x.GetRemoveType()] {
		return
	}
	for _, o := range x.GetObjects() {
		var parts []string
		for _, p := range o.GetList().GetItems() {
			parts = append(parts, p.GetString_().GetSval())
		}
		if len(parts) > 0 {
			w.tables = append(w.tables, table{name: strings.Join(parts, "."), loc: -1})
		}
	}
}

func (w *walker) addTable(r *pg_query.RangeVar) {
	if r == nil || r.GetRelname() == "" {
		return
	}
	name := r.GetRelname()
	if s := r.GetSchemaname(); s != "" {
		name = s + "." + name
	}
	if c := r.GetCatalogname(); c != "" {
		name = c + "." + name
	}
	w.tables = append(w.tables, table{name: name, loc: r.GetLocation()})
	w.ref(Ref{Kind: RefRelation, Schema: r.GetSchemaname(), Name: r.GetRelname()})
}

// tableNames returns the relations in the order they appear in the text, each once.
func (w *walker) tableNames() []string {
	if len(w.tables) == 0 {
		return nil
	}
	sort.SliceStable(w.tables, func(i, j int) bool { return w.tables[i].loc < w.tables[j].loc })
	names := make([]string, 0, len(w.tables))
	for _, t := range w.tables {
		dup := false
		for _, n := range names {
			if n == t.name {
				dup = true
				break
			}
		}
		if !dup {
			names = append(names, t.name)
		}
	}
	return names
}

// harmlessSetConfig reports whether set_config's arguments name, by a constant, a setting
// anyone may SET: set_config('search_path', …, false), as pg_dump sends.
func harmlessSetConfig(args []*pg_query.Node) bool {
	if len(args) != 3 {
		return false
	}
	name, ok := args[0].GetAConst().GetVal().(*pg_query.A_Const_Sval)
	return ok && harmlessSetting(name.Sval.GetSval())
}

// notePinnedSetConfig notes the set_config call of a SELECT that pins its setting's name
// to a harmless one by its WHERE, as pg_dump sends: SELECT set_config(name, 'view,
// foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'.
// Whatever relation "pg_settings" is, the rows it sets from have that name.
func (w *walker) notePinnedSetConfig(sel *pg_query.SelectStmt) {
	if len(sel.GetTargetList()) != 1 || len(sel.GetFromClause()) != 1 {
		return
	}
	fc := sel.GetTargetList()[0].GetResTarget().GetVal().GetFuncCall()
	if fc == nil || len(fc.GetArgs()) != 3 || !isColumn(fc.GetArgs()[0], "name") {
		return
	}
	e := sel.GetWhereClause().GetAExpr()
	if e == nil || e.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || len(e.GetName()) != 1 ||
		e.GetName()[0].GetString_().GetSval() != "=" || !isColumn(e.GetLexpr(), "name") {
		return
	}
	v, ok := e.GetRexpr().GetAConst().GetVal().(*pg_query.A_Const_Sval)
	if !ok || !harmlessSetting(v.Sval.GetSval()) {
		return
	}
	if w.harmless == nil {
		w.harmless = make(map[*pg_query.FuncCall]bool)
	}
	w.harmless[fc] = true
}

// isColumn reports whether n is an unqualified reference to column name.
func isColumn(n *pg_query.Node, name string) bool {
	f := n.GetColumnRef().GetFields()
	return len(f) == 1 && f[0].GetString_().GetSval() == name
}
