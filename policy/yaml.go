package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree, so that every error can name its line and field path,
// and collects errors instead of stopping at the first.
type decoder struct {
	file string
	errs ErrorList
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

// str returns scalar n's text; "" for null. ok is false (and an error recorded) for a
// mapping or a list.
func (d *decoder) str(n *yaml.Node, path string) (s string, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.add(n, path, "want a string")
		return "", false
	}
	return n.Value, true
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

// integer returns scalar n as an int in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < lo || i > hi {
		d.add(resolve(n), path, fmt.Sprintf("want an integer %d-%d", lo, hi))
		return 0, false
	}
	return i, true
}

// duration returns scalar n as a positive time.Duration ("30m", "4h").
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.add(resolve(n), path, fmt.Sprintf("bad duration %q: want a positive duration such as 30m or 4h", s))
		return 0, false
	}
	return dur, true
}
