package yamlfile

import (
	"errors"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDecoder(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"ok", "name: a\nport: 80\n", ""},
		{"unknown field", "nmae: a\n", "f.yaml:1: nmae: unknown field (did you mean name?)"},
		{"repeated field", "name: a\nname: b\n", "f.yaml:2: name: repeated field (first at line 1)"},
		{"want a string", "name: [a]\n", "f.yaml:1: name: want a string"},
		{"want an integer", "port: 0\n", "f.yaml:1: port: want an integer 1-65535"},
		{"empty string", "tags: [a, '']\n", "f.yaml:1: tags[1]: empty string"},
		{"syntax", "name: [a\n", "f.yaml:1: yaml: did not find expected ',' or ']'"},
		{"two documents", "name: a\n---\nname: b\n", "f.yaml:2: a second YAML document (---) is not supported; use one document per file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decoder{File: "f.yaml"}
			if root := d.Document([]byte(tt.file)); root != nil {
				d.Fields(root, "", map[string]func(*yaml.Node, string){
					"name": func(v *yaml.Node, p string) { d.Str(v, p) },
					"port": func(v *yaml.Node, p string) { d.Int(v, p, 1, 65535) },
					"tags": func(v *yaml.Node, p string) { d.Strs(v, p) },
				})
			}
			got := ""
			if len(d.Errs) > 0 {
				got = d.Errs.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDecoderScalarAndLines(t *testing.T) {
	d := &Decoder{File: "f.yaml", Lines: map[string]int{}}
	d.Scalar = func(n *yaml.Node, path string) (string, bool) {
		if n.Value == "bad" {
			d.Add(n, path, "refused")
			return "", false
		}
		return "<" + n.Value + ">", true
	}
	var got []string
	root := d.Document([]byte("a:\n  b: x\n  c: bad\n"))
	d.Fields(root, "", map[string]func(*yaml.Node, string){
		"a": func(v *yaml.Node, p string) {
			d.Fields(v, p, map[string]func(*yaml.Node, string){
				"b": func(v *yaml.Node, p string) { s, _ := d.Str(v, p); got = append(got, s) },
				"c": func(v *yaml.Node, p string) { s, _ := d.Str(v, p); got = append(got, s) },
			})
		},
	})
	if len(got) != 2 || got[0] != "<x>" || got[1] != "" {
		t.Errorf("values: got %q, want [<x> \"\"]", got)
	}
	if d.Lines["a"] != 1 || d.Lines["a.b"] != 2 || d.Lines["a.c"] != 3 {
		t.Errorf("Lines: got %v", d.Lines)
	}
	if !d.HasErr("a") || !d.HasErr("a.c") || d.HasErr("a.b") {
		t.Errorf("HasErr: wrong for errors %v", d.Errs)
	}
	var e *Error
	if !errors.As(error(d.Errs), &e) || e.Line != 3 || e.Field != "a.c" || e.Msg != "refused" {
		t.Errorf("errors.As: got %#v", e)
	}
}
