package yamlfile

import (
	"fmt"
	"strings"
)

// Error is one problem in a YAML file.
type Error struct {
	File  string // "policy.yaml", the name the file was read by
	Line  int    // 19; 0 when the problem is about the whole file
	Field string // "rules[0].allow[0]"; empty when the problem has no field
	Msg   string // "unknown class 'wirte' (did you mean write?)"
}

// Error returns "file:line: field: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a set of files. Its Error method prints one problem
// per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.As access to each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
