package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGroupTypos(t *testing.T) {
	rule := func(name, groups string) string {
		return "  - name: " + name + "\n    groups: " + groups + "\n    connections: [db]\n    allow: [read]\n"
	}
	tests := []struct {
		name  string
		rules string
		want  string // every message, one per line
	}{
		{"distinct groups", rule("a", "[engineering]") + rule("b", "[dba]"), ""},
		{"typo of a group used twice", rule("a", "[engineering]") + rule("b", "[dba, engineering]") + rule("c", "[enginering]"),
			"p.yaml:12: rules[2].groups[0]: group 'enginering' is used only here (did you mean engineering?)"},
		{"typo before the group", rule("a", "[enginering]") + rule("b", "[engineering]") + rule("c", "[engineering]"),
			"p.yaml:4: rules[0].groups[0]: group 'enginering' is used only here (did you mean engineering?)"},
		{"a pair used once each: the later is reported", rule("a", "[dba, analytics]") + rule("b", "[analytcs]"),
			"p.yaml:8: rules[1].groups[0]: group 'analytcs' is used only here (did you mean analytics?)"},
		{"case differs", rule("a", "[dba]") + rule("b", "[DBA]"),
			"p.yaml:8: rules[1].groups[0]: group 'DBA' is used only here (did you mean dba?)"},
		{"short names far apart", rule("a", "[qa]") + rule("b", "[dba]") + rule("c", "[ops]"), ""},
		{"a group used twice is never a typo", rule("a", "[team-a]") + rule("b", "[team-b]") + rule("c", "[team-b]"),
			"p.yaml:4: rules[0].groups[0]: group 'team-a' is used only here (did you mean team-b?)"},
		{"same group twice in one place", rule("a", "[team-a]") + rule("b", "[team-a]") + rule("c", "[team-b]") + rule("d", "[team-b]"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte("version: 1\nrules:\n"+tt.rules))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, err := range p.GroupTypos() {
				got = append(got, err.Error())
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("GroupTypos:\ngot  %q\nwant %q", g, tt.want)
			}
		})
	}
}

func TestGroupTyposAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	b := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(b, []byte("version: 1\nrecordings:\n  readers: [auditor]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(filepath.Join(sharedExamples(t), "policy.yaml"), b)
	if err != nil {
		t.Fatal(err)
	}
	errs := p.GroupTypos()
	want := b + ":3: recordings.readers[0]: group 'auditor' is used only here (did you mean auditors?)"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("GroupTypos: got %q, want [%q]", errs, want)
	}
	if errs := loadExample(t).GroupTypos(); len(errs) != 0 {
		t.Errorf("GroupTypos of the example: got %q, want none", errs)
	}
}
