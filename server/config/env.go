package config

import (
	"errors"
	"regexp"
	"strings"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces, in s, ${NAME} with the variable's value and ${NAME:-x} with its value,
// or x when it is unset or empty; $$ is a literal $, and a $ before anything else stays as
// it is. It returns the names of unset variables without a default, and an error for a
// malformed reference.
//
// Expansion happens on scalar values after YAML parsing, so a value can't inject YAML
// structure (a password containing ": " or "\n- " is just a string).
func expand(s string, env func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	var unset []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) || s[i+1] != '$' && s[i+1] != '{' {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", nil, errors.New("unterminated ${ (write $$ for a literal $)")
		}
		ref := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !envName.MatchString(name) {
			return "", nil, errors.New("bad variable reference: want ${NAME} or ${NAME:-default} (write $$ for a literal $)")
		}
		val, ok := env(name)
		switch {
		case hasDef && val == "":
			b.WriteString(def)
		case ok:
			b.WriteString(val)
		default:
			unset = append(unset, name)
		}
		i += 2 + end
	}
	return b.String(), unset, nil
}
