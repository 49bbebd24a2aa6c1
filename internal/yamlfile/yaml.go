package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decoder walks a yaml.Node tree, so that every error can name its line and field path,
// and collects errors instead of stopping at the first. Its zero value with File set is
// ready to use.
type Decoder struct {
	File string    // "policy.yaml": the name errors give
	Errs ErrorList // every problem found so far, in the order found

	// Scalar, when set, turns the text of a scalar into the value Str returns: the gateway
	// config replaces ${NAME} there. It is called with a resolved, non-null scalar node,
	// may record errors, and returns ok false when the value is unusable.
	Scalar func(n *yaml.Node, path string) (value string, ok bool)

	// Lines, when not nil, gets the line of each field's key by field path
	// ("connections[0].port" → 30), for checks across fields made after reading.
	Lines map[string]int
}

// Add records msg about field at n's line; a nil n is the whole file.
func (d *Decoder) Add(n *yaml.Node, field, msg string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.Errs = append(d.Errs, &Error{File: d.File, Line: line, Field: field, Msg: msg})
}

// Document parses data and returns its root node; nil when the file is empty or broken.
func (d *Decoder) Document(data []byte) *yaml.Node {
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
		d.Add(&extra, "", "a second YAML document (---) is not supported; use one document per file")
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
func (d *Decoder) syntax(err error) {
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
		d.Errs = append(d.Errs, &Error{File: d.File, Line: line, Msg: "yaml: " + m[2]})
		return
	}
	d.Errs = append(d.Errs, &Error{File: d.File, Msg: msg})
}

// Resolve follows aliases (*name) to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// Join returns the field path of key in the mapping at path: "rules[0].name".
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Mapping reports whether n is a mapping, and records an error when it is not.
func (d *Decoder) Mapping(n *yaml.Node, path string) bool {
	if n.Kind != yaml.MappingNode {
		d.Add(n, path, "want a mapping")
		return false
	}
	return true
}

// Fields calls fields[key] for each key of mapping n, in file order. Unknown and repeated
// keys are errors. A null n (an empty section) has no fields.
func (d *Decoder) Fields(n *yaml.Node, path string, fields map[string]func(v *yaml.Node, path string)) {
	n = Resolve(n)
	if isNull(n) {
		return
	}
	if !d.Mapping(n, path) {
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
		p := Join(path, k.Value)
		if first, ok := seen[k.Value]; ok {
			d.Add(k, p, fmt.Sprintf("repeated field (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		if d.Lines != nil {
			d.Lines[p] = k.Line
		}
		fn, ok := fields[k.Value]
		if !ok {
			d.Add(k, p, "unknown field"+DidYouMean(k.Value, names))
			continue
		}
		fn(v, p)
	}
}

// Items calls fn for each item of sequence n, resolved. A null n is an empty list.
func (d *Decoder) Items(n *yaml.Node, path string, fn func(i int, item *yaml.Node, path string)) {
	n = Resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.Add(n, path, "want a list")
		return
	}
	for i, item := range n.Content {
		fn(i, Resolve(item), index(path, i))
	}
}

// Str returns scalar n's text (through Scalar when it is set); "" for null. ok is false
// (and an error recorded) for a mapping or a list, or when Scalar refuses the value.
func (d *Decoder) Str(n *yaml.Node, path string) (s string, ok bool) {
	n = Resolve(n)
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		d.Add(n, path, "want a string")
		return "", false
	}
	if d.Scalar != nil {
		return d.Scalar(n, path)
	}
	return n.Value, true
}

// EachStr calls fn for each non-empty string of list n; an empty string is an error.
func (d *Decoder) EachStr(n *yaml.Node, path string, fn func(item *yaml.Node, path, s string)) {
	d.Items(n, path, func(_ int, item *yaml.Node, p string) {
		s, ok := d.Str(item, p)
		switch {
		case !ok:
		case s == "":
			d.Add(item, p, "empty string")
		default:
			fn(item, p, s)
		}
	})
}

// Strs returns a list of non-empty strings.
func (d *Decoder) Strs(n *yaml.Node, path string) []string {
	var out []string
	d.EachStr(n, path, func(_ *yaml.Node, _, s string) { out = append(out, s) })
	return out
}

// Int returns scalar n as an int in [lo, hi].
func (d *Decoder) Int(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return 0, false
	}
	return d.IntOf(n, path, s, lo, hi)
}

// IntOf returns s, the text of scalar n, as an int in [lo, hi].
func (d *Decoder) IntOf(n *yaml.Node, path, s string, lo, hi int) (int, bool) {
	i, err := strconv.Atoi(s)
	if err != nil || i < lo || i > hi {
		d.Add(Resolve(n), path, fmt.Sprintf("want an integer %d-%d", lo, hi))
		return 0, false
	}
	return i, true
}

// Duration returns scalar n as a positive time.Duration ("30m", "4h").
func (d *Decoder) Duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.Add(Resolve(n), path, fmt.Sprintf("bad duration %q: want a positive duration such as 30m or 4h", s))
		return 0, false
	}
	return dur, true
}

// HasErr reports whether an error was recorded for path or anything under it.
func (d *Decoder) HasErr(path string) bool {
	for _, e := range d.Errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}
