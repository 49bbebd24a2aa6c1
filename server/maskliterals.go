package server

import (
	"slices"
	"strings"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/mask"
)

// A statement's text is kept by the gateway (the record, the log, reviews, audit events,
// notifications). A literal that flows into a masked column, or is compared with one,
// is that column's value, whatever the detectors make of it alone (`WHERE ssn =
// '123456789'`): it is masked in every text the gateway keeps, with the column's rule,
// and so are the bind parameters in those places.

// literals masks the literals of sql that flow into or are compared with a masked
// column, and returns the text and the bind parameters ($n, 1-based) in such places.
func (sm *sessionMasker) literals(sql string) (string, []int) {
	rules := sm.rules()
	names := sm.maskedNames(rules)
	if len(rules) == 0 || len(names) == 0 || !mentionsAny(sql, names) {
		return sql, nil
	}
	tree, err := native.Parse(sql)
	if err != nil {
		return sql, nil // not SQL the gateway can read: the detectors still run over it
	}
	masked := func(table, column string) bool { return sm.maskedName(rules, table, column) }
	var (
		spans  []classify.Span
		params []int
	)
	for i := range tree.Stmts {
		s, p := classify.SensitiveLiterals(sql, tree, i, masked)
		spans = append(spans, s...)
		params = append(params, p...)
	}
	if len(spans) == 0 {
		return sql, params
	}
	slices.SortFunc(spans, func(a, b classify.Span) int { return a.Start - b.Start })
	m := literalMasker(rules)
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		if sp.Start < prev || sp.End > len(sql) || sp.Start > sp.End {
			continue // overlapping or out of range: the outer one is masked
		}
		b.WriteString(sql[prev:sp.Start])
		b.WriteString(maskLiteral(sm, m, sql[sp.Start:sp.End]))
		prev = sp.End
	}
	b.WriteString(sql[prev:])
	return b.String(), params
}

// literalMasker is how a literal of a masked column is masked: as a column rule masks the
// column's values (partial keeps the last 4, as the results show them).
func literalMasker(rules []maskRule) *mask.Masker {
	for _, r := range rules {
		if len(r.columns) > 0 {
			return r.whole
		}
	}
	return rules[0].whole
}

// literalValue masks a bind parameter that goes into or is compared with a masked column.
func (sm *sessionMasker) literalValue(v string) string {
	rules := sm.rules()
	if len(rules) == 0 {
		return maskText(sm, v)
	}
	out, null := literalMasker(rules).MaskWhole(nil, []byte(v))
	if null {
		return "[REDACTED]"
	}
	return string(out)
}

// maskLiteral masks one literal's text, keeping it a literal of the same kind: a quoted
// string stays quoted.
func maskLiteral(sm *sessionMasker, m interface {
	MaskWhole(dst, src []byte) ([]byte, bool)
}, lit string) string {
	body, prefix, quote := lit, "", ""
	if i := strings.IndexByte(lit, '\''); i >= 0 && strings.HasSuffix(lit, "'") && len(lit) > i+1 {
		prefix, body, quote = lit[:i+1], lit[i+1:len(lit)-1], "'"
	} else if strings.HasPrefix(lit, "$") {
		if j := strings.IndexByte(lit[1:], '$'); j >= 0 {
			tag := lit[:j+2]
			if strings.HasSuffix(lit, tag) && len(lit) >= 2*len(tag) {
				prefix, body, quote = tag, lit[len(tag):len(lit)-len(tag)], tag
			}
		}
	}
	out, null := m.MaskWhole(nil, []byte(body))
	if null {
		out = []byte("[REDACTED]")
	}
	return prefix + strings.ReplaceAll(string(out), "'", "''") + quote
}

// maskedNames returns the names of the columns masked for the session: its column rules'
// and those in which the detectors were found to find values.
func (sm *sessionMasker) maskedNames(rules []maskRule) []string {
	var out []string
	for _, r := range rules {
		for _, c := range r.columns {
			out = append(out, c.Column)
		}
	}
	if sm.g != nil {
		out = append(out, sm.g.sensitivity.columnNames(sm.connection)...)
	}
	return out
}

// maskedName reports whether a column (of table, "" when the statement does not say) is
// masked for the session: by a column rule, or found to hold what the detectors find.
func (sm *sessionMasker) maskedName(rules []maskRule, table, column string) bool {
	for _, r := range rules {
		for _, c := range r.columns {
			if c.Column != column {
				continue
			}
			if table == "" || c.Table == "*" || c.Table == table || strings.HasSuffix(c.Table, "."+table) {
				return true
			}
		}
	}
	return sm.g != nil && sm.g.sensitivity.named(sm.connection, table, column)
}

// mentionsAny reports whether sql may put a literal into one of the columns: it names
// one (case-insensitively), or inserts or merges, where VALUES may fill columns it does
// not name.
func mentionsAny(sql string, names []string) bool {
	lower := strings.ToLower(sql)
	if strings.Contains(lower, "insert") || strings.Contains(lower, "merge") {
		return true
	}
	for _, n := range names {
		if strings.Contains(lower, strings.ToLower(n)) {
			return true
		}
	}
	return false
}
