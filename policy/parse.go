package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hoopgw/hoop/internal/yamlfile"
)

// ruleName is what a rule, jit or masking name may look like: it is printed in reasons
// and logs.
var ruleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// decoder reads one policy file: yamlfile.Decoder with the policy's own sections.
type decoder struct {
	yamlfile.Decoder
	groupRefs []nameRef // every group name read, for GroupTypos
}

// parse reads one file. It returns what it could read even when there are errors, so that
// merge can report duplicates across files too.
func parse(name string, data []byte) (*Policy, ErrorList) {
	sum := sha256.Sum256(data)
	f := &Policy{Files: []string{name}, version: hex.EncodeToString(sum[:])}
	d := &decoder{Decoder: yamlfile.Decoder{File: name}}
	root := d.Document(data)
	if root == nil {
		if len(d.Errs) == 0 {
			d.Add(nil, "", "empty policy file; want at least version: 1")
		}
		return f, d.Errs
	}
	version := false
	d.Fields(root, "", map[string]func(*yaml.Node, string){
		"version": func(v *yaml.Node, path string) {
			version = true
			if s, ok := d.Str(v, path); ok && s != "1" {
				d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("unsupported version %q (want 1)", s))
			}
		},
		"rules": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) {
				if r, ok := d.rule(f, item, p); ok {
					f.Rules = append(f.Rules, r)
				}
			})
		},
		"recordings": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"readers": func(v *yaml.Node, path string) { f.Recordings.Readers = d.groups(v, path) },
			})
		},
		"reviews": func(v *yaml.Node, path string) {
			f.reviewsAt = Pos{name, keyLine(root, "reviews")}
			f.Reviews = Reviews{MinApprovals: 1, ExpiresAfter: defaultExpiry}
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"approvers": func(v *yaml.Node, path string) { f.Reviews.Approvers = d.groups(v, path) },
				"min_approvals": func(v *yaml.Node, path string) {
					if n, ok := d.Int(v, path, 1, 100); ok {
						f.Reviews.MinApprovals = n
					}
				},
				"expires_after": func(v *yaml.Node, path string) {
					if dur, ok := d.Duration(v, path); ok {
						f.Reviews.ExpiresAfter = dur
					}
				},
			})
		},
		"jit": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) {
				if j, ok := d.jit(f, item, p); ok {
					f.JIT = append(f.JIT, j)
				}
			})
		},
		"masking": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) {
				if m, ok := d.masking(f, item, p); ok {
					f.Masking = append(f.Masking, m)
				}
			})
		},
		"functions": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) {
				if fn, ok := d.functions(f, item, p); ok {
					f.Functions = append(f.Functions, fn)
				}
			})
		},
	})
	if !version && root.Kind == yaml.MappingNode {
		d.Add(root, "version", "required (version: 1)")
	}
	f.groupRefs = d.groupRefs
	return f, d.Errs
}

// keyLine returns the line of key in mapping n.
func keyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

// name reads a rule, jit or masking name.
func (d *decoder) name(v *yaml.Node, path string) string {
	s, ok := d.Str(v, path)
	if ok && !ruleName.MatchString(s) {
		d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("%q is not a name: use letters, digits, '-', '_' and '.'", s))
		return ""
	}
	return s
}

// groups reads a list of group names. "*" is refused: it is not a wildcard for groups, and
// a rule for everyone should say which groups everyone is.
func (d *decoder) groups(v *yaml.Node, path string) []string {
	var gs []string
	d.EachStr(v, path, func(item *yaml.Node, p, s string) {
		gs = append(gs, s)
		d.groupRefs = append(d.groupRefs, nameRef{name: s, pos: Pos{d.File, item.Line}, field: p})
	})
	if slices.Contains(gs, "*") {
		d.Add(yamlfile.Resolve(v), path, `"*" is not a group; name the groups`)
	}
	return gs
}

// connections reads a list of connection names and remembers them for CheckReferences.
func (d *decoder) connections(f *Policy, v *yaml.Node, path string) []string {
	var out []string
	d.EachStr(v, path, func(item *yaml.Node, p, s string) {
		out = append(out, s)
		f.refs = append(f.refs, nameRef{name: s, pos: Pos{d.File, item.Line}, field: p})
	})
	return out
}

// classes reads a list of classes; seen maps the classes already listed in this rule to
// the list that has them.
func (d *decoder) classes(v *yaml.Node, path, list string, seen map[Class]string) []Class {
	var out []Class
	d.Items(v, path, func(_ int, item *yaml.Node, p string) {
		s, ok := d.Str(item, p)
		if !ok {
			return
		}
		c, err := ParseClass(s)
		if err != nil {
			d.Add(item, p, err.Error())
			return
		}
		if where, dup := seen[c]; dup {
			d.Add(item, p, fmt.Sprintf("class %s is already listed in %s", c, where))
			return
		}
		seen[c] = list
		out = append(out, c)
	})
	return out
}

// need records "path.field: msg" at mapping n when ok is false, unless that field already
// has an error.
func (d *decoder) need(n *yaml.Node, path, field string, ok bool, msg string) {
	p := yamlfile.Join(path, field)
	if !ok && !d.HasErr(p) {
		d.Add(n, p, msg)
	}
}

func (d *decoder) rule(f *Policy, n *yaml.Node, path string) (Rule, bool) {
	before := len(d.Errs)
	r := Rule{Pos: Pos{d.File, n.Line}, field: path}
	if !d.Mapping(n, path) {
		return r, false
	}
	seen := map[Class]string{}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":        func(v *yaml.Node, p string) { r.Name = d.name(v, p) },
		"groups":      func(v *yaml.Node, p string) { r.Groups = d.groups(v, p) },
		"connections": func(v *yaml.Node, p string) { r.Connections = d.connections(f, v, p) },
		"allow":       func(v *yaml.Node, p string) { r.Allow = d.classes(v, p, "allow", seen) },
		"review":      func(v *yaml.Node, p string) { r.Review = d.classes(v, p, "review", seen) },
		"deny":        func(v *yaml.Node, p string) { r.Deny = d.classes(v, p, "deny", seen) },
	})
	d.need(n, path, "name", r.Name != "", "required")
	d.need(n, path, "groups", len(r.Groups) > 0, "want at least one group")
	d.need(n, path, "connections", len(r.Connections) > 0, `want at least one connection (or "*")`)
	if len(r.Allow)+len(r.Review)+len(r.Deny) == 0 && !d.HasErr(path) {
		d.Add(n, path, "a rule needs allow, review or deny")
	}
	return r, len(d.Errs) == before
}

func (d *decoder) jit(f *Policy, n *yaml.Node, path string) (JIT, bool) {
	before := len(d.Errs)
	j := JIT{Pos: Pos{d.File, n.Line}, field: path}
	if !d.Mapping(n, path) {
		return j, false
	}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":        func(v *yaml.Node, p string) { j.Name = d.name(v, p) },
		"groups":      func(v *yaml.Node, p string) { j.Groups = d.groups(v, p) },
		"connections": func(v *yaml.Node, p string) { j.Connections = d.connections(f, v, p) },
		"access":      func(v *yaml.Node, p string) { j.Access = d.classes(v, p, "access", map[Class]string{}) },
		"max_duration": func(v *yaml.Node, p string) {
			j.MaxDuration, _ = d.Duration(v, p)
		},
		"approvers": func(v *yaml.Node, p string) { j.Approvers = d.groups(v, p) },
	})
	d.need(n, path, "name", j.Name != "", "required")
	d.need(n, path, "groups", len(j.Groups) > 0, "want at least one group")
	d.need(n, path, "connections", len(j.Connections) > 0, `want at least one connection (or "*")`)
	d.need(n, path, "access", len(j.Access) > 0, "want at least one class")
	d.need(n, path, "max_duration", j.MaxDuration > 0, "required (such as 4h)")
	return j, len(d.Errs) == before
}

func (d *decoder) masking(f *Policy, n *yaml.Node, path string) (Masking, bool) {
	before := len(d.Errs)
	m := Masking{Pos: Pos{d.File, n.Line}, field: path, Mode: MaskRedact}
	if !d.Mapping(n, path) {
		return m, false
	}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":          func(v *yaml.Node, p string) { m.Name = d.name(v, p) },
		"connections":   func(v *yaml.Node, p string) { m.Connections = d.connections(f, v, p) },
		"exempt_groups": func(v *yaml.Node, p string) { m.ExemptGroups = d.groups(v, p) },
		"mode": func(v *yaml.Node, p string) {
			if s, ok := d.Str(v, p); ok {
				if !slices.Contains(maskModes(), s) {
					d.Add(yamlfile.Resolve(v), p, "unknown mode "+quoteSuggest(s, maskModes()))
				}
				m.Mode = MaskMode(s)
			}
		},
		"detectors": func(v *yaml.Node, p string) {
			names := make([]string, 0, 10)
			for _, det := range Detectors() {
				names = append(names, string(det))
			}
			d.Items(v, p, func(_ int, item *yaml.Node, p string) {
				s, ok := d.Str(item, p)
				switch {
				case !ok:
				case !slices.Contains(names, s):
					d.Add(item, p, "unknown detector "+quoteSuggest(s, names))
				case slices.Contains(m.Detectors, Detector(s)):
					d.Add(item, p, "detector "+s+" is listed twice")
				default:
					m.Detectors = append(m.Detectors, Detector(s))
				}
			})
		},
		"columns": func(v *yaml.Node, p string) {
			d.Items(v, p, func(_ int, item *yaml.Node, p string) {
				s, ok := d.Str(item, p)
				if !ok {
					return
				}
				table, col, found := strings.Cut(s, ".")
				if !found || table == "" || col == "" || col == "*" || strings.Contains(col, ".") {
					d.Add(item, p, fmt.Sprintf("%q: want table.column or *.column", s))
					return
				}
				m.Columns = append(m.Columns, Column{Table: table, Column: col})
			})
		},
	})
	d.need(n, path, "name", m.Name != "", "required")
	d.need(n, path, "connections", len(m.Connections) > 0, `want at least one connection (or "*")`)
	if len(m.Detectors)+len(m.Columns) == 0 && !d.HasErr(path) {
		d.Add(n, path, "a masking rule needs detectors or columns")
	}
	return m, len(d.Errs) == before
}

// functionPattern is what a functions.read entry may look like: schema.name, each part
// letters, digits, '_', '$' and the '*' wildcard.
var functionPattern = regexp.MustCompile(`^[A-Za-z0-9_$*]+\.[A-Za-z0-9_$*]+$`)

// extensionName is what an extension's name may look like in functions.extensions.
var extensionName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (d *decoder) functions(f *Policy, n *yaml.Node, path string) (Functions, bool) {
	before := len(d.Errs)
	fn := Functions{Pos: Pos{d.File, n.Line}, field: path}
	if !d.Mapping(n, path) {
		return fn, false
	}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"connections": func(v *yaml.Node, p string) { fn.Connections = d.connections(f, v, p) },
		"read": func(v *yaml.Node, p string) {
			d.EachStr(v, p, func(item *yaml.Node, p, s string) {
				switch {
				case !functionPattern.MatchString(s):
					d.Add(item, p, fmt.Sprintf("%q: want schema.name, such as public.report_daily or reports.*", s))
				case strings.Trim(s, "*.") == "":
					d.Add(item, p, fmt.Sprintf("%q would vouch for every function: name a schema or a name", s))
				case slices.Contains(fn.Read, s):
					d.Add(item, p, s+" is listed twice")
				default:
					fn.Read = append(fn.Read, s)
				}
			})
		},
		"extensions": func(v *yaml.Node, p string) {
			d.EachStr(v, p, func(item *yaml.Node, p, s string) {
				switch {
				case !extensionName.MatchString(s):
					d.Add(item, p, fmt.Sprintf("%q is not an extension name", s))
				case slices.Contains(fn.Extensions, s):
					d.Add(item, p, s+" is listed twice")
				default:
					fn.Extensions = append(fn.Extensions, s)
				}
			})
		},
	})
	d.need(n, path, "connections", len(fn.Connections) > 0, `want at least one connection (or "*")`)
	if len(fn.Read)+len(fn.Extensions) == 0 && !d.HasErr(path) {
		d.Add(n, path, "want read (schema.name patterns) or extensions")
	}
	return fn, len(d.Errs) == before
}

// quoteSuggest returns "'x' (did you mean y?)", or "'x' (want a, b or c)" when nothing is
// close.
func quoteSuggest(s string, valid []string) string {
	if hint := yamlfile.DidYouMean(s, valid); hint != "" {
		return "'" + s + "'" + hint
	}
	return "'" + s + "' (want " + strings.Join(valid[:len(valid)-1], ", ") + " or " + valid[len(valid)-1] + ")"
}
