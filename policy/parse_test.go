package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseClass(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"read", "read", ""},
		{"write", "write", ""},
		{"ddl", "ddl", ""},
		{"admin", "admin", ""},
		{"wirte", "", "unknown class 'wirte' (did you mean write?)"},
		{"Read", "", "unknown class 'Read' (did you mean read?)"},
		{"select", "", "unknown class 'select'"},
		{"", "", "unknown class ''"},
	}
	for _, tt := range tests {
		got, err := ParseClass(tt.in)
		if string(got) != tt.want || errString(err) != tt.err {
			t.Errorf("ParseClass(%q): got %q, %q; want %q, %q", tt.in, got, errString(err), tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrUnknownClass) {
			t.Errorf("ParseClass(%q): error %v is not ErrUnknownClass", tt.in, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// valid is a small valid file; the malformed cases below change one thing in it.
const valid = `version: 1
rules:
  - name: r1
    groups: [eng]
    connections: [db]
    allow: [read]
    review: [write]
reviews:
  approvers: [dba]
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string // every message, one per line
	}{
		{"ok", valid, ""},
		{"empty", "", "p.yaml: empty policy file; want at least version: 1"},
		{"comments only", "# nothing\n", "p.yaml: empty policy file; want at least version: 1"},
		{"syntax", "version: 1\nrules: [\n", "p.yaml:2: yaml: did not find expected node content"},
		{"not a mapping", "- a\n", "p.yaml:1: want a mapping"},
		{"no version", "rules: []\n", "p.yaml:1: version: required (version: 1)"},
		{"version 2", "version: 2\n", `p.yaml:1: version: unsupported version "2" (want 1)`},
		{"unknown top-level field", "version: 1\nrule: []\n", "p.yaml:2: rule: unknown field (did you mean rules?)"},
		{"unknown field, no suggestion", "version: 1\nzzz: 1\n", "p.yaml:2: zzz: unknown field"},
		{"repeated field", "version: 1\nversion: 1\n", "p.yaml:2: version: repeated field (first at line 1)"},
		{"second document", "version: 1\n---\nversion: 1\n", "p.yaml:2: a second YAML document (---) is not supported; use one document per file"},
		{"unknown rule field", strings.Replace(valid, "allow:", "alow:", 1),
			"p.yaml:6: rules[0].alow: unknown field (did you mean allow?)"},
		{"unknown class", strings.Replace(valid, "[write]", "[wirte]", 1),
			"p.yaml:7: rules[0].review[0]: unknown class 'wirte' (did you mean write?)"},
		{"class twice", strings.Replace(valid, "[read]", "[read, write]", 1),
			"p.yaml:7: rules[0].review[0]: class write is already listed in allow"},
		{"class twice in one list", strings.Replace(valid, "[read]", "[read, read]", 1),
			"p.yaml:6: rules[0].allow[1]: class read is already listed in allow"},
		{"empty groups", strings.Replace(valid, "[eng]", "[]", 1),
			"p.yaml:3: rules[0].groups: want at least one group"},
		{"groups not a list", strings.Replace(valid, "[eng]", "eng", 1),
			"p.yaml:4: rules[0].groups: want a list"},
		{"group wildcard", strings.Replace(valid, "[eng]", `["*"]`, 1),
			`p.yaml:4: rules[0].groups: "*" is not a group; name the groups`},
		{"empty group name", strings.Replace(valid, "[eng]", `[eng, ""]`, 1),
			"p.yaml:4: rules[0].groups[1]: empty string"},
		{"no connections", strings.Replace(valid, "    connections: [db]\n", "", 1),
			`p.yaml:3: rules[0].connections: want at least one connection (or "*")`},
		{"no name", strings.Replace(valid, "  - name: r1\n    groups", "  - groups", 1),
			"p.yaml:3: rules[0].name: required"},
		{"bad name", strings.Replace(valid, "name: r1", "name: my rule", 1),
			`p.yaml:3: rules[0].name: "my rule" is not a name: use letters, digits, '-', '_' and '.'`},
		{"rule grants nothing", "version: 1\nrules:\n  - name: r1\n    groups: [eng]\n    connections: [db]\n",
			"p.yaml:3: rules[0]: a rule needs allow, review or deny"},
		{"rule not a mapping", "version: 1\nrules:\n  - r1\n",
			"p.yaml:3: rules[0]: want a mapping"},
		{"duplicate rule", strings.Replace(valid, "reviews:", "  - name: r1\n    groups: [x]\n    connections: [db]\n    deny: [admin]\nreviews:", 1),
			"p.yaml:8: rules[1].name: duplicate rule name r1 (first at p.yaml:3)"},
		{"review without approvers", strings.Replace(valid, "reviews:\n  approvers: [dba]\n", "", 1),
			"p.yaml:3: rules[0].review: nobody can approve: set reviews.approvers"},
		{"bad duration", valid + "  expires_after: 30 minutes\n",
			`p.yaml:10: reviews.expires_after: bad duration "30 minutes": want a positive duration such as 30m or 4h`},
		{"zero duration", valid + "  expires_after: 0s\n",
			`p.yaml:10: reviews.expires_after: bad duration "0s": want a positive duration such as 30m or 4h`},
		{"min approvals", valid + "  min_approvals: none\n",
			"p.yaml:10: reviews.min_approvals: want an integer 1-100"},
		{"jit", "version: 1\njit:\n  - name: j\n    groups: [c]\n    connections: [db]\n    access: [read, reed]\n    max_duration: 4 hours\n",
			"p.yaml:6: jit[0].access[1]: unknown class 'reed' (did you mean read?)\n" +
				`p.yaml:7: jit[0].max_duration: bad duration "4 hours": want a positive duration such as 30m or 4h`},
		{"jit without duration and approvers", "version: 1\njit:\n  - name: j\n    groups: [c]\n    connections: [db]\n    access: [read]\n",
			"p.yaml:3: jit[0].max_duration: required (such as 4h)"},
		{"jit without approvers", "version: 1\njit:\n  - name: j\n    groups: [c]\n    connections: [db]\n    access: [read]\n    max_duration: 1h\n",
			"p.yaml:3: jit[0].approvers: nobody can approve: set approvers here or in reviews.approvers"},
		{"jit named like a rule", valid + "jit:\n  - name: r1\n    groups: [c]\n    connections: [db]\n    access: [read]\n    max_duration: 1h\n",
			"p.yaml:11: jit[0].name: duplicate rule name r1 (first at p.yaml:3)"},
		{"masking", "version: 1\nmasking:\n  - name: m\n    connections: ['*']\n    mode: partail\n    detectors: [email, emial, email, ssn]\n    columns: [users.email, email, users.*, a.b.c]\n",
			"p.yaml:5: masking[0].mode: unknown mode 'partail' (did you mean partial?)\n" +
				"p.yaml:6: masking[0].detectors[1]: unknown detector 'emial' (did you mean email?)\n" +
				"p.yaml:6: masking[0].detectors[2]: detector email is listed twice\n" +
				"p.yaml:6: masking[0].detectors[3]: unknown detector 'ssn' (want credit_card, email, phone, us_ssn, iban, ip_address, aws_access_key, github_token, jwt or private_key)\n" +
				`p.yaml:7: masking[0].columns[1]: "email": want table.column or *.column` + "\n" +
				`p.yaml:7: masking[0].columns[2]: "users.*": want table.column or *.column` + "\n" +
				`p.yaml:7: masking[0].columns[3]: "a.b.c": want table.column or *.column`},
		{"masking without detectors", "version: 1\nmasking:\n  - name: m\n    connections: ['*']\n    mode: hash\n",
			"p.yaml:3: masking[0]: a masking rule needs detectors or columns"},
		{"masking mode", "version: 1\nmasking:\n  - name: m\n    connections: ['*']\n    mode: scramble\n    columns: [a.b]\n",
			"p.yaml:5: masking[0].mode: unknown mode 'scramble' (want redact, partial, hash or null)"},
		{"several errors", "version: 1\nrules:\n  - name: a\n    groups: [g]\n    connections: [db]\n    allow: [reed]\n  - name: a\n    groups: []\n    connections: [db]\n    deny: [admin]\n    extra: 1\n",
			"p.yaml:6: rules[0].allow[0]: unknown class 'reed' (did you mean read?)\n" +
				"p.yaml:7: rules[1].groups: want at least one group\n" +
				"p.yaml:11: rules[1].extra: unknown field"},
		{"functions", "version: 1\nfunctions:\n  - connections: [db]\n    read: [public.report_*, reports.*, \"*.*\", report, a.b.c, \"public.x; drop\", reports.*]\n",
			`p.yaml:4: functions[0].read[2]: "*.*" would vouch for every function: name a schema or a name` + "\n" +
				`p.yaml:4: functions[0].read[3]: "report": want schema.name, such as public.report_daily or reports.*` + "\n" +
				`p.yaml:4: functions[0].read[4]: "a.b.c": want schema.name, such as public.report_daily or reports.*` + "\n" +
				`p.yaml:4: functions[0].read[5]: "public.x; drop": want schema.name, such as public.report_daily or reports.*` + "\n" +
				"p.yaml:4: functions[0].read[6]: reports.* is listed twice"},
		{"functions without connections", "version: 1\nfunctions:\n  - read: [public.f]\n",
			`p.yaml:3: functions[0].connections: want at least one connection (or "*")`},
		{"functions without read", "version: 1\nfunctions:\n  - connections: [db]\n    raed: [public.f]\n",
			"p.yaml:4: functions[0].raed: unknown field (did you mean read?)"},
		{"functions vouch for nothing", "version: 1\nfunctions:\n  - connections: [db]\n",
			"p.yaml:3: functions[0]: want read (schema.name patterns) or extensions"},
		{"functions extensions", "version: 1\nfunctions:\n  - connections: [db]\n    extensions: [postgis, \"post gis\", postgis]\n",
			`p.yaml:4: functions[0].extensions[1]: "post gis" is not an extension name` + "\n" +
				"p.yaml:4: functions[0].extensions[2]: postgis is listed twice"},
		{"functions not a list", "version: 1\nfunctions:\n  read: [public.f]\n",
			"p.yaml:3: functions: want a list"},
		{"alias", "version: 1\ng: &g [eng]\n", "p.yaml:2: g: unknown field"},
		{"alias used", "version: 1\nrules:\n  - name: a\n    groups: &g [eng]\n    connections: [db]\n    allow: [read]\n  - name: b\n    groups: *g\n    connections: [db2]\n    allow: [read]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.file))
			if got := errString(err); got != tt.want {
				t.Errorf("Parse:\ngot  %q\nwant %q", got, tt.want)
			}
			var list ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Errorf("Parse: error %T is not an ErrorList", err)
			}
		})
	}
}

func TestLoadMerge(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.yaml", valid+"recordings:\n  readers: [auditors]\n")
	b := write("b.yaml", "version: 1\nrules:\n  - name: r2\n    groups: [ops]\n    connections: ['*']\n    allow: [read]\nrecordings:\n  readers: [auditors, ops]\n")
	dup := write("dup.yaml", "version: 1\nrules:\n  - name: r1\n    groups: [ops]\n    connections: [db]\n    allow: [read]\nreviews:\n  approvers: [x]\n")
	bad := write("bad.yaml", "version: 1\nrules:\n  - name: r3\n    groups: [ops]\n    connections: [db]\n    allow: [wirte]\n")

	p, err := Load(a, b)
	if err != nil {
		t.Fatalf("Load(a, b): %v", err)
	}
	if got := len(p.Rules); got != 2 {
		t.Errorf("Load(a, b): got %d rules, want 2", got)
	}
	if got, want := strings.Join(p.Recordings.Readers, ","), "auditors,ops"; got != want {
		t.Errorf("readers: got %q, want %q", got, want)
	}
	if d, rule, _ := p.Decide(Identity{Groups: []string{"ops"}}, "db", Read); d != Allow || rule != "r2" {
		t.Errorf("Decide from the second file: got %s, %q; want allow, %q", d, rule, "r2")
	}
	pa, _ := Load(a)
	if p.Version() == pa.Version() {
		t.Errorf("Version of a+b equals version of a: %s", p.Version())
	}

	_, err = Load(a, dup, bad)
	want := dup + ":3: rules[0].name: duplicate rule name r1 (first at " + a + ":3)\n" +
		dup + ":7: reviews: already set at " + a + ":8; set it in one file\n" +
		bad + ":6: rules[0].allow[0]: unknown class 'wirte' (did you mean write?)"
	if got := errString(err); got != want {
		t.Errorf("Load(a, dup, bad):\ngot  %q\nwant %q", got, want)
	}

	if _, err := Load(); !errors.Is(err, ErrNoFiles) {
		t.Errorf("Load(): got %v, want ErrNoFiles", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing): got %v, want a not-exist error", err)
	}
}

func TestCheckReferences(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\nrules:\n  - name: a\n    groups: [g]\n    connections: [db-prd, '*', db-stging, analytics]\n    allow: [read]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, err := range p.CheckReferences([]string{"db-prod", "db-staging"}) {
		got = append(got, err.Error())
	}
	want := []string{
		"p.yaml:5: rules[0].connections[0]: unknown connection db-prd (did you mean db-prod?)",
		"p.yaml:5: rules[0].connections[2]: unknown connection db-stging (did you mean db-staging?)",
		"p.yaml:5: rules[0].connections[3]: unknown connection analytics",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CheckReferences:\ngot  %q\nwant %q", got, want)
	}
}

// FuzzParse checks that no file makes Parse panic, and that an accepted file has a version.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("version: 1\nrules: [{name: a, groups: [g], connections: ['*'], deny: [admin]}]\n"))
	f.Add([]byte("version: 1\ng: &a [*a]\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err == nil && len(p.Version()) != 64 {
			t.Errorf("Parse: accepted with version %q", p.Version())
		}
	})
}

func TestReadFunction(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\nfunctions:\n  - connections: [db-prod]\n    read: [public.report_*, reports.*, public.total]\n  - connections: [\"*\"]\n    read: [util.*_ro]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Parse("p.yaml", []byte("version: 1\nfunctions:\n  - connections: [db-prod]\n    extensions: [postgis]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p2.ReadExtension("db-prod", "postgis") || p2.ReadExtension("db-dev", "postgis") || p2.ReadExtension("db-prod", "plpython3u") {
		t.Errorf("ReadExtension: want postgis on db-prod only")
	}
	if refs := p.CheckReferences([]string{"db-prod"}); len(refs) != 0 {
		t.Errorf("CheckReferences: %v", refs)
	}
	if refs := p.CheckReferences([]string{"db-prd"}); len(refs) != 1 || !strings.Contains(refs[0].Error(), "p.yaml:3: functions[0].connections[0]: unknown connection db-prod") {
		t.Errorf("CheckReferences of functions' connections: %v", refs)
	}
	tests := []struct {
		connection, schema, name string
		want                     bool
	}{
		{"db-prod", "public", "report_daily", true},
		{"db-prod", "public", "report_", true},
		{"db-prod", "public", "reports", false},
		{"db-prod", "public", "my_report_daily", false},
		{"db-prod", "reports", "anything", true},
		{"db-prod", "public", "total", true},
		{"db-prod", "public", "total2", false},
		{"db-prod", "public", "touch_canary", false},
		{"db-prod", "other", "report_daily", false},
		{"db-dev", "public", "report_daily", false}, // listed for db-prod only
		{"db-dev", "util", "count_ro", true},
		{"db-dev", "util", "count_ro_not", false},
		{"db-prod", "Public", "report_daily", false}, // names as PostgreSQL stores them
	}
	for _, tt := range tests {
		if got := p.ReadFunction(tt.connection, tt.schema, tt.name); got != tt.want {
			t.Errorf("ReadFunction(%s, %s.%s): got %v, want %v", tt.connection, tt.schema, tt.name, got, tt.want)
		}
	}
}
