package server

import (
	"encoding/json"

	"github.com/hoopgw/hoop/mask"
)

// maskJSONWhole masks every string and number of a JSON document with m, keeping its
// keys and shape, so that it stays a valid document of the same structure. A document it
// cannot read becomes "null".
func maskJSONWhole(m *mask.Masker, doc []byte) []byte {
	out, _, ok := jsonValue(nil, doc, skipSpace(doc, 0), nil, m, 0)
	if !ok {
		return []byte("null")
	}
	return out
}

// maskJSONParts masks the parts of a JSON document that f says: the values of its keys,
// the elements of an array. ok is false when it cannot read the document.
func maskJSONParts(doc []byte, f *maskFlow) ([]byte, bool) {
	out, _, ok := jsonValue(nil, doc, skipSpace(doc, 0), f, nil, 0)
	return out, ok
}

const maxJSONDepth = 1000

// jsonValue appends the value at src[i:] to out, masked: whole with m when it is set (or
// when f says so), else its parts as f says. It returns where the value ends.
func jsonValue(out, src []byte, i int, f *maskFlow, m *mask.Masker, depth int) ([]byte, int, bool) {
	if depth > maxJSONDepth || i >= len(src) {
		return out, i, false
	}
	if m == nil && f != nil && f.m != nil {
		m = f.m
	}
	switch c := src[i]; {
	case c == '{':
		out = append(out, '{')
		i = skipSpace(src, i+1)
		if i < len(src) && src[i] == '}' {
			return append(out, '}'), i + 1, true
		}
		for {
			if i >= len(src) || src[i] != '"' {
				return out, i, false
			}
			end, ok := jsonStringEnd(src, i)
			if !ok {
				return out, i, false
			}
			var child *maskFlow
			if f != nil && f.keys != nil && m == nil {
				var key string
				if json.Unmarshal(src[i:end], &key) != nil {
					return out, i, false
				}
				child = f.keys[key]
			}
			out = append(out, src[i:end]...)
			i = skipSpace(src, end)
			if i >= len(src) || src[i] != ':' {
				return out, i, false
			}
			out = append(out, ':')
			var ok2 bool
			if out, i, ok2 = jsonValue(out, src, skipSpace(src, i+1), child, m, depth+1); !ok2 {
				return out, i, false
			}
			i = skipSpace(src, i)
			if i >= len(src) {
				return out, i, false
			}
			if src[i] == '}' {
				return append(out, '}'), i + 1, true
			}
			if src[i] != ',' {
				return out, i, false
			}
			out = append(out, ',')
			i = skipSpace(src, i+1)
		}
	case c == '[':
		out = append(out, '[')
		i = skipSpace(src, i+1)
		if i < len(src) && src[i] == ']' {
			return append(out, ']'), i + 1, true
		}
		var child *maskFlow
		if f != nil && m == nil {
			child = f.elem
		}
		for {
			var ok bool
			if out, i, ok = jsonValue(out, src, i, child, m, depth+1); !ok {
				return out, i, false
			}
			i = skipSpace(src, i)
			if i >= len(src) {
				return out, i, false
			}
			if src[i] == ']' {
				return append(out, ']'), i + 1, true
			}
			if src[i] != ',' {
				return out, i, false
			}
			out = append(out, ',')
			i = skipSpace(src, i+1)
		}
	case c == '"':
		end, ok := jsonStringEnd(src, i)
		if !ok {
			return out, i, false
		}
		if m == nil {
			return append(out, src[i:end]...), end, true
		}
		var s string
		if json.Unmarshal(src[i:end], &s) != nil {
			return out, i, false
		}
		masked, null := m.MaskWhole(nil, []byte(s))
		if null {
			return append(out, "null"...), end, true
		}
		b, _ := json.Marshal(string(masked))
		return append(out, b...), end, true
	default:
		end := i
		for end < len(src) && !jsonDelim(src[end]) {
			end++
		}
		if end == i {
			return out, i, false
		}
		tok := src[i:end]
		switch {
		case m == nil:
			return append(out, tok...), end, true
		case string(tok) == "true" || string(tok) == "false":
			return append(out, tok...), end, true
		case string(tok) == "null":
			return append(out, tok...), end, true
		case m.Mode() == mask.Null:
			return append(out, "null"...), end, true
		}
		return append(out, '0'), end, true // a number
	}
}

func jsonDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':'
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

// jsonStringEnd returns the index after the string starting at src[i] ('"').
func jsonStringEnd(src []byte, i int) (int, bool) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}
