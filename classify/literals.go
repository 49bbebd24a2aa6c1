package classify

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Span is a range of bytes of a statement's text: [Start, End).
type Span struct{ Start, End int }

// SensitiveLiterals returns the literals of statement i of tree (parsed from sql, the
// whole text: pg_query's locations are offsets into it) that flow into, or are compared
// with, a column for which masked(table, column) is true, as byte spans of sql in text
// order; and the numbers of the parameters ($n) found in those same places, so that
// the gateway can keep them out of the text it records, shows and logs.
//
// table is the relation's name as written (an alias resolved to its relation) when the
// column is qualified or the statement names exactly one relation; else "" (also for a
// column of a CTE or a subquery): masked("", column) should answer whether a column of
// that name is masked in any table, to fail closed.
//
// What counts, by class rather than by example:
//   - any operator, function call, CASE, COALESCE, ROW, ARRAY, subquery test (IN, ANY,
//     ALL, EXISTS, scalar subquery) whose operands hold a masked column: every literal
//     and parameter among its operands (WHERE ssn = '…', lower(email) LIKE '…',
//     ssn IN ('…'), BETWEEN, = ANY('{…}'), strpos(ssn, '…') > 0);
//   - a value given to a masked column by INSERT (VALUES, multi-row, or a SELECT's list,
//     by position; without a column list, every value), UPDATE SET (also (a, b) = (…)),
//     ON CONFLICT DO UPDATE SET, and MERGE's UPDATE SET and INSERT VALUES;
//   - every argument of EXECUTE and CALL, whose destination is not in the text.
//
// A literal compared with a column of a subquery or CTE that renames a masked column
// (WITH x AS (SELECT ssn AS s ...) ... WHERE s = '…') is not found, nor one compared
// with a view's column under the view's name: names are matched as written, without a
// Schema.
func SensitiveLiterals(sql string, tree *pg_query.ParseResult, i int, masked func(table, column string) bool) (spans []Span, params []int) {
	if tree == nil || i < 0 || i >= len(tree.Stmts) || masked == nil {
		return nil, nil
	}
	st := tree.Stmts[i].GetStmt()
	if st == nil {
		return nil, nil
	}
	s := &litScan{sql: sql, masked: masked, aliases: map[string]string{}, derived: map[string]bool{}}
	s.relations(st.ProtoReflect())
	if len(s.names) == 1 && !s.derived[s.names[0]] {
		s.single = s.names[0]
	}
	s.statement(st)
	s.scan(st.ProtoReflect())
	slices.SortFunc(s.spans, func(a, b Span) int { return a.Start - b.Start })
	slices.Sort(s.params)
	return s.spans, s.params
}

type litScan struct {
	sql     string
	masked  func(table, column string) bool
	aliases map[string]string // alias -> relation name as written
	derived map[string]bool   // names of CTEs, subqueries and functions in FROM: not tables
	names   []string          // distinct relation names the statement has
	single  string            // the one relation, when there is one
	spans   []Span
	params  []int
}

// lits is what a subtree holds.
type lits struct {
	consts []int32 // A_Const locations
	params []int32
	masked bool // it reads a masked column
}

func (l *lits) merge(o lits) {
	l.consts = append(l.consts, o.consts...)
	l.params = append(l.params, o.params...)
	l.masked = l.masked || o.masked
}

var (
	rangeVarName  = (&pg_query.RangeVar{}).ProtoReflect().Descriptor().FullName()
	aConstName    = (&pg_query.A_Const{}).ProtoReflect().Descriptor().FullName()
	paramRefName  = (&pg_query.ParamRef{}).ProtoReflect().Descriptor().FullName()
	columnRefName = (&pg_query.ColumnRef{}).ProtoReflect().Descriptor().FullName()
)

// combining are the nodes whose operands are compared with or flow into one another.
var combining = map[protoreflect.FullName]bool{}

func init() {
	for _, m := range []protoreflect.ProtoMessage{
		&pg_query.A_Expr{}, &pg_query.FuncCall{}, &pg_query.SubLink{}, &pg_query.CaseExpr{},
		&pg_query.CoalesceExpr{}, &pg_query.MinMaxExpr{}, &pg_query.RowExpr{}, &pg_query.A_ArrayExpr{},
		&pg_query.NullTest{}, &pg_query.BooleanTest{}, &pg_query.XmlExpr{}, &pg_query.JsonFuncExpr{},
		&pg_query.JsonObjectConstructor{}, &pg_query.JsonArrayConstructor{}, &pg_query.JsonIsPredicate{},
		&pg_query.A_Indirection{}, &pg_query.JsonKeyValue{},
	} {
		combining[m.ProtoReflect().Descriptor().FullName()] = true
	}
}

// relations notes the relations the statement names and their aliases.
func (s *litScan) relations(m protoreflect.Message) {
	visit(m, func(m protoreflect.Message) {
		switch x := m.Interface().(type) {
		case *pg_query.CommonTableExpr:
			s.derived[x.Ctename] = true
		case *pg_query.RangeSubselect:
			if x.Alias != nil {
				s.derived[x.Alias.Aliasname] = true
			}
		case *pg_query.RangeFunction:
			if x.Alias != nil {
				s.derived[x.Alias.Aliasname] = true
			}
		}
		if m.Descriptor().FullName() != rangeVarName {
			return
		}
		rv := m.Interface().(*pg_query.RangeVar)
		if !slices.Contains(s.names, rv.Relname) {
			s.names = append(s.names, rv.Relname)
		}
		if rv.Alias != nil {
			s.aliases[rv.Alias.Aliasname] = rv.Relname
		}
	})
}

// visit calls fn on m and every message under it.
func visit(m protoreflect.Message, fn func(protoreflect.Message)) {
	fn(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for k := 0; k < l.Len(); k++ {
				visit(l.Get(k).Message(), fn)
			}
		case fd.Message() != nil && !fd.IsMap():
			visit(v.Message(), fn)
		}
		return true
	})
}

// scan walks a subtree: what it holds, having flagged the literals of every combining
// node that reads a masked column.
func (s *litScan) scan(m protoreflect.Message) lits {
	var out lits
	switch m.Descriptor().FullName() {
	case aConstName:
		c := m.Interface().(*pg_query.A_Const)
		if !c.Isnull {
			out.consts = append(out.consts, c.Location)
		}
		return out
	case paramRefName:
		out.params = append(out.params, m.Interface().(*pg_query.ParamRef).Number)
		return out
	case columnRefName:
		out.masked = s.columnMasked(m.Interface().(*pg_query.ColumnRef))
		return out
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for k := 0; k < l.Len(); k++ {
				out.merge(s.scan(l.Get(k).Message()))
			}
		case fd.Message() != nil && !fd.IsMap():
			out.merge(s.scan(v.Message()))
		}
		return true
	})
	if out.masked && combining[m.Descriptor().FullName()] {
		s.flag(out)
	}
	return out
}

func (s *litScan) columnMasked(cr *pg_query.ColumnRef) bool {
	var names []string
	for _, f := range cr.Fields {
		if str := f.GetString_(); str != nil {
			names = append(names, str.Sval)
		}
	}
	switch len(names) {
	case 0:
		return false
	case 1:
		// An unqualified name may also be a whole-row reference: ROW(c) = ... with c an
		// alias of a relation with masked columns is not traced (rare).
		return s.masked(s.single, names[0])
	}
	q := names[len(names)-2]
	if t, ok := s.aliases[q]; ok {
		q = t
	}
	if s.derived[q] {
		// A CTE's or a subquery's column may be a masked column renamed or not: ask
		// for the column in any table.
		q = ""
	}
	return s.masked(q, names[len(names)-1])
}

// flag records every literal and parameter of l.
func (s *litScan) flag(l lits) {
	for _, loc := range l.consts {
		start := int(loc)
		if start < 0 || start >= len(s.sql) {
			continue
		}
		sp := Span{start, literalEnd(s.sql, start)}
		if !slices.Contains(s.spans, sp) {
			s.spans = append(s.spans, sp)
		}
	}
	for _, p := range l.params {
		if !slices.Contains(s.params, int(p)) {
			s.params = append(s.params, int(p))
		}
	}
}

func (s *litScan) flagAll(n *pg_query.Node) {
	if n == nil {
		return
	}
	l := s.scan(n.ProtoReflect())
	s.flag(l)
}

// statement applies the positional rules: values given to masked columns.
func (s *litScan) statement(st *pg_query.Node) {
	switch x := st.Node.(type) {
	case *pg_query.Node_InsertStmt:
		ins := x.InsertStmt
		table := ins.GetRelation().GetRelname()
		var cols []string
		for _, c := range ins.Cols {
			if rt := c.GetResTarget(); rt != nil {
				cols = append(cols, rt.Name)
			}
		}
		s.positional(ins.SelectStmt.GetSelectStmt(), table, cols)
		if oc := ins.OnConflictClause; oc != nil {
			s.assignments(table, oc.TargetList)
		}
	case *pg_query.Node_UpdateStmt:
		s.assignments(x.UpdateStmt.GetRelation().GetRelname(), x.UpdateStmt.TargetList)
	case *pg_query.Node_MergeStmt:
		m := x.MergeStmt
		table := m.GetRelation().GetRelname()
		for _, n := range m.MergeWhenClauses {
			wc := n.GetMergeWhenClause()
			if wc == nil {
				continue
			}
			switch wc.CommandType {
			case pg_query.CmdType_CMD_UPDATE:
				s.assignments(table, wc.TargetList)
			case pg_query.CmdType_CMD_INSERT:
				var cols []string
				for _, c := range wc.TargetList {
					if rt := c.GetResTarget(); rt != nil {
						cols = append(cols, rt.Name)
					}
				}
				s.values(wc.Values, table, cols)
			}
		}
	case *pg_query.Node_ExecuteStmt:
		// EXECUTE p('…'): which parameters of p reach a masked column is in p's text,
		// not here; fail closed.
		for _, a := range x.ExecuteStmt.Params {
			s.flagAll(a)
		}
	case *pg_query.Node_CallStmt:
		// CALL p('…'): the procedure may store its arguments anywhere; fail closed.
		if fc := x.CallStmt.Funccall; fc != nil {
			for _, a := range fc.Args {
				s.flagAll(a)
			}
		}
	case *pg_query.Node_PrepareStmt:
		if x.PrepareStmt.Query != nil {
			s.statement(x.PrepareStmt.Query)
		}
	case *pg_query.Node_ExplainStmt:
		if x.ExplainStmt.Query != nil {
			s.statement(x.ExplainStmt.Query)
		}
	}
}

// positional flags the values of an INSERT's source given to masked columns.
func (s *litScan) positional(sel *pg_query.SelectStmt, table string, cols []string) {
	if sel == nil {
		return
	}
	if sel.Larg != nil || sel.Rarg != nil {
		s.positional(sel.Larg, table, cols)
		s.positional(sel.Rarg, table, cols)
		return
	}
	for _, row := range sel.ValuesLists {
		s.values(row.GetList().GetItems(), table, cols)
	}
	var vals []*pg_query.Node
	for _, t := range sel.TargetList {
		if rt := t.GetResTarget(); rt != nil {
			vals = append(vals, rt.Val)
		}
	}
	s.values(vals, table, cols)
}

// values flags vals[j] when cols[j] is masked; every value when cols is empty (the
// table's columns in order, which the text does not name).
func (s *litScan) values(vals []*pg_query.Node, table string, cols []string) {
	for j, v := range vals {
		if len(cols) == 0 || j >= len(cols) || s.masked(table, cols[j]) {
			s.flagAll(v)
		}
	}
}

// assignments flags SET col = value for masked columns, (a, b) = (…) included.
func (s *litScan) assignments(table string, list []*pg_query.Node) {
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil || !s.masked(table, rt.Name) {
			continue
		}
		if ma := rt.Val.GetMultiAssignRef(); ma != nil {
			if row := ma.Source.GetRowExpr(); row != nil && int(ma.Colno) >= 1 && int(ma.Colno) <= len(row.Args) {
				s.flagAll(row.Args[ma.Colno-1])
			} else {
				s.flagAll(ma.Source)
			}
			continue
		}
		s.flagAll(rt.Val)
	}
}

// literalEnd returns the end of the literal token that starts at start: a string
// ('…', E'…', U&'…', B'…', X'…', N'…', $tag$…$tag$, with '…' '…' continued across a
// newline), a number (with a sign that the parser folded in), or a word (TRUE).
func literalEnd(sql string, start int) int {
	i := start
	n := len(sql)
	if sql[i] == '-' || sql[i] == '+' {
		i++
		for i < n && isSpace(sql[i]) {
			i++
		}
	}
	if i >= n {
		return n
	}
	c := sql[i]
	switch {
	case c == '\'':
		return stringEnd(sql, i, false)
	case (c == 'E' || c == 'e') && i+1 < n && sql[i+1] == '\'':
		return stringEnd(sql, i+1, true)
	case (c == 'B' || c == 'b' || c == 'X' || c == 'x' || c == 'N' || c == 'n') && i+1 < n && sql[i+1] == '\'':
		return stringEnd(sql, i+1, false)
	case (c == 'U' || c == 'u') && i+2 < n && sql[i+1] == '&' && sql[i+2] == '\'':
		end := stringEnd(sql, i+2, false)
		// UESCAPE '!' belongs to the literal.
		j := end
		for j < n && isSpace(sql[j]) {
			j++
		}
		if j+7 <= n && strings.EqualFold(sql[j:j+7], "uescape") {
			j += 7
			for j < n && isSpace(sql[j]) {
				j++
			}
			if j < n && sql[j] == '\'' {
				return stringEnd(sql, j, false)
			}
		}
		return end
	case c == '$':
		j := i + 1
		for j < n && (isWord(sql[j])) && sql[j] != '$' {
			j++
		}
		if j < n && sql[j] == '$' {
			tag := sql[i : j+1]
			if k := strings.Index(sql[j+1:], tag); k >= 0 {
				return j + 1 + k + len(tag)
			}
		}
		return n
	case c >= '0' && c <= '9' || c == '.':
		j := i
		for j < n {
			d := sql[j]
			if isWord(d) || d == '.' {
				j++
				continue
			}
			if (d == '+' || d == '-') && j > i && (sql[j-1] == 'e' || sql[j-1] == 'E') && !strings.HasPrefix(strings.ToLower(sql[i:j]), "0x") {
				j++
				continue
			}
			break
		}
		return j
	case isWord(c):
		j := i
		for j < n && isWord(sql[j]) {
			j++
		}
		return j
	}
	return i + 1
}

// stringEnd returns the end of a quoted string starting at the quote q, with SQL's
// continuation of '…' followed by whitespace holding a newline and another '…'.
func stringEnd(sql string, q int, backslash bool) int {
	n := len(sql)
	i := q + 1
	for i < n {
		switch sql[i] {
		case '\\':
			if backslash {
				i += 2
				continue
			}
		case '\'':
			if i+1 < n && sql[i+1] == '\'' {
				i += 2
				continue
			}
			end := i + 1
			j, newline := end, false
			for j < n && isSpace(sql[j]) {
				if sql[j] == '\n' || sql[j] == '\r' {
					newline = true
				}
				j++
			}
			if newline && j < n && sql[j] == '\'' {
				i = j + 1
				continue
			}
			return end
		}
		i++
	}
	return n
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
