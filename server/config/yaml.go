package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree, so that every error can name its line and field path,
// and collects errors instead of stopping at the first.
type decoder struct {
	file  string
	env   func(string) (string, bool) // os.LookupEnv
	errs  ErrorList
	lines map[string]int // field path → line of its value, for checks across fields
}

func (d *decoder) add(n *yaml.Node, field, msg string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: msg})
}

// document parses data and returns its root node; nil when the file is empty or broken.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(&extra, "", "a second YAML document (---) is not supported; use one document per file")
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax turns "yaml: line 5: did not find expected key" into an Error at line 5.
func (d *decoder) syntax(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			d.syntax(errors.New("yaml: " + msg))
		}
		return
	}
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "yaml: " + m[2]})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Msg: msg})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// fields calls fields[key] for each key of mapping n, in file order. Unknown and repeated
// keys are errors. A null n (an empty section) has no fields.
func (d *decoder) fields(n *yaml.Node, path string, fields map[string]func(v *yaml.Node, path string)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "want a mapping")
		return
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if first, ok := seen[k.Value]; ok {
			d.add(k, p, fmt.Sprintf("repeated field (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		d.lines[p] = k.Line
		fn, ok := fields[k.Value]
		if !ok {
			d.add(k, p, "unknown field"+didYouMean(k.Value, names))
			continue
		}
		fn(v, p)
	}
}

// items calls fn for each item of sequence n. A null n is an empty list.
func (d *decoder) items(n *yaml.Node, path string, fn func(i int, item *yaml.Node, path string)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.add(n, path, "want a list")
		return
	}
	for i, item := range n.Content {
		fn(i, resolve(item), index(path, i))
	}
}

// str returns scalar n's text with ${NAME} and ${NAME:-default} replaced from the
// environment; "" for null. ok is false (and an error recorded) for a mapping, a list or an
// unset variable.
func (d *decoder) str(n *yaml.Node, path string) (s string, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.add(n, path, "want a string")
		return "", false
	}
	out, unset, err := expand(n.Value, d.env)
	for _, name := range unset {
		d.add(n, path, "environment variable "+name+" is not set")
	}
	if err != nil {
		d.add(n, path, err.Error())
	}
	return out, len(unset) == 0 && err == nil
}

// strs returns a list of non-empty strings.
func (d *decoder) strs(n *yaml.Node, path string) []string {
	var out []string
	d.items(n, path, func(_ int, item *yaml.Node, p string) {
		s, ok := d.str(item, p)
		switch {
		case !ok:
		case s == "":
			d.add(item, p, "empty string")
		default:
			out = append(out, s)
		}
	})
	return out
}

// hasErr reports whether an error was recorded for path or anything under it.
func (d *decoder) hasErr(path string) bool {
	for _, e := range d.errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}

// at records an error for path at the line of path, or of its closest parent set in the
// file.
func (d *decoder) at(path, msg string) {
	line := 0
	for p := path; p != ""; {
		if l, ok := d.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: path, Msg: msg})
}

// set returns a field handler that stores a non-empty string in dst: an empty value (such
// as ${VAR:-}) keeps dst's default.
func (d *decoder) set(dst *string) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		if s, ok := d.str(v, path); ok && s != "" {
			*dst = s
		}
	}
}

// setInt is set for an integer in [lo, hi].
func (d *decoder) setInt(dst *int, lo, hi int) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		s, ok := d.str(v, path)
		if !ok || s == "" {
			return
		}
		i, err := strconv.Atoi(s)
		if err != nil || i < lo || i > hi {
			d.add(resolve(v), path, fmt.Sprintf("want an integer %d-%d", lo, hi))
			return
		}
		*dst = i
	}
}

// oneOf records an error unless s is one of valid: "unknown sslmode 'requier' (did you
// mean require?)".
func (d *decoder) oneOf(path, what, s string, valid ...string) bool {
	if slices.Contains(valid, s) {
		return true
	}
	hint := didYouMean(s, valid)
	if hint == "" {
		hint = " (want " + valid[0]
		for i, v := range valid[1:] {
			if i == len(valid)-2 {
				hint += " or " + v
			} else {
				hint += ", " + v
			}
		}
		hint += ")"
	}
	d.at(path, "unknown "+what+" '"+s+"'"+hint)
	return false
}
