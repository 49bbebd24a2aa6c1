//go:build cgo

package native

import "strings"

// maxChain is the longest chain of operators operatorChain lets through. A chain of n
// binary operators (1+1+...+1, 'a'||'a'||..., x->'a'->'a'..., 1::int::int...) is a tree
// n levels deep, and libpg_query's C code takes time in the square of the depth to hand
// a tree over (protobuf-c sizes every level's subtree again): 30,000 levels take a
// second, the 500,000 of a 1 MB text minutes. Trees deeper than 5,000 such levels are
// refused anyway (classify.TooDeep: 10,000 protobuf messages, two per level), so a chain
// four times that long is refused before the parser spends that time on it.
const maxChain = 20000

// operatorChain returns the longest run of operators in sql that the grammar may nest:
// symbolic operators, :: casts and the keywords that build left-deep trees (IS, COLLATE,
// AT, UNION, INTERSECT, EXCEPT, JOIN, OPERATOR(...)), counted along the brackets that
// enclose them. Commas, semicolons, AND, OR, WHEN, THEN and ELSE end a run, since what
// they separate are siblings (AND and OR lists are flat), not a chain. It is a cost guard,
// not a parser: it skips literals, quoted names and comments, and may count a few
// operators that do not nest (a unary minus, a star), well within maxChain's margin.
func operatorChain(sql string) int {
	var bases []int // the count where each enclosing bracket opened
	base, cur, longest := 0, 0, 0
	step := func() {
		cur++
		longest = max(longest, cur)
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			i = skipComment(sql, i)
		case c == '\'':
			escapes := i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !isIdent(sql[i-2]))
			i = skipQuoted(sql, i, '\'', escapes)
		case c == '"':
			i = skipQuoted(sql, i, '"', false)
		case c == '$' && (i == 0 || !isIdent(sql[i-1])):
			i = skipDollar(sql, i)
		case c == '(' || c == '[':
			bases = append(bases, base)
			base = cur
			i++
		case c == ')' || c == ']':
			cur = base
			if n := len(bases); n > 0 {
				base = bases[n-1]
				bases = bases[:n-1]
			}
			i++
		case c == ',' || c == ';':
			cur = base
			i++
		case c == ':' && i+1 < len(sql) && sql[i+1] == ':':
			step()
			i += 2
		case strings.IndexByte("+-*/<>=~!@#%^&|`?", c) >= 0:
			for i < len(sql) && strings.IndexByte("+-*/<>=~!@#%^&|`?", sql[i]) >= 0 {
				if (sql[i] == '-' || sql[i] == '/') && i+1 < len(sql) && (sql[i+1] == '-' || sql[i+1] == '*') && (sql[i] == '-') == (sql[i+1] == '-') {
					break // a comment starts inside the operator
				}
				i++
			}
			step()
		case c >= '0' && c <= '9', c == '.':
			i++
			for i < len(sql) && (sql[i] >= '0' && sql[i] <= '9' || sql[i] == '.' || sql[i] == '_' ||
				(sql[i] == 'e' || sql[i] == 'E') && i+1 < len(sql) && (sql[i+1] == '+' || sql[i+1] == '-' || sql[i+1] >= '0' && sql[i+1] <= '9')) {
				if sql[i] == 'e' || sql[i] == 'E' {
					i++ // the exponent's sign is part of the number
				}
				i++
			}
		case isIdent(c):
			j := i
			for j < len(sql) && (isIdent(sql[j]) || sql[j] >= '0' && sql[j] <= '9' || sql[j] == '$') {
				j++
			}
			switch w := strings.ToUpper(sql[i:j]); w {
			case "AND", "OR", "WHEN", "THEN", "ELSE":
				cur = base
			case "IS", "COLLATE", "AT", "UNION", "INTERSECT", "EXCEPT", "JOIN", "OPERATOR":
				step()
			}
			i = j
		default:
			i++
		}
	}
	return longest
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// skipComment returns the index after the /* comment */ at i; they nest.
func skipComment(sql string, i int) int {
	depth := 0
	for i < len(sql) {
		switch {
		case strings.HasPrefix(sql[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(sql[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipQuoted returns the index after the literal or name quoted by q at i; a doubled q is
// one q, and with escapes a backslash escapes the next byte.
func skipQuoted(sql string, i int, q byte, escapes bool) int {
	for i++; i < len(sql); i++ {
		switch {
		case escapes && sql[i] == '\\':
			i++
		case sql[i] == q && i+1 < len(sql) && sql[i+1] == q:
			i++
		case sql[i] == q:
			return i + 1
		}
	}
	return i
}

// skipDollar returns the index after the $tag$...$tag$ literal at i, or after the $ when
// it starts none ($1 is a parameter).
func skipDollar(sql string, i int) int {
	j := i + 1
	for j < len(sql) && (isIdent(sql[j]) || j > i+1 && sql[j] >= '0' && sql[j] <= '9') {
		j++
	}
	if j >= len(sql) || sql[j] != '$' {
		return i + 1
	}
	tag := sql[i : j+1]
	if end := strings.Index(sql[j+1:], tag); end >= 0 {
		return j + 1 + end + len(tag)
	}
	return len(sql)
}
