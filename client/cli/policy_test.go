package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoopgw/hoop/client/cli"
	"github.com/hoopgw/hoop/internal/testenv"
)

// run runs hoop in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := func(string) (string, bool) { return "", false }
	code = cli.Run(ctx, args, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, env)
	return code, out.String(), errOut.String()
}

func sharedExamples(t *testing.T) string { return testenv.SharedExamples(t) }

// examplePolicy returns the shared example policy's content.
func examplePolicy(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedExamples(t), "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit returns s with old, which must be in it, replaced by new once.
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q is not in the file", old)
	}
	return strings.Replace(s, old, new, 1)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func version(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])[:12]
}

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	example := examplePolicy(t)
	good := writeFile(t, dir, "policy.yaml", example)
	gateway := filepath.Join(sharedExamples(t), "gateway.yaml")
	extra := writeFile(t, dir, "extra.yaml", "version: 1\nrules:\n  - name: sre-read\n    groups: [sre]\n    connections: ['*']\n    allow: [read]\n")
	badClass := writeFile(t, dir, "class.yaml", edit(t, example, "allow: [read]\n", "allow: [reed]\n"))
	badConn := writeFile(t, dir, "conn.yaml", edit(t, example, "groups: [analytics]\n    connections: [db-prod]", "groups: [analytics]\n    connections: [db-prd]"))
	typo := writeFile(t, dir, "typo.yaml", edit(t, example, "groups: [analytics]", "groups: [analytics, enginering]"))
	badDuration := writeFile(t, dir, "duration.yaml", edit(t, example, "max_duration: 4h", "max_duration: 4 hours"))
	jit := writeFile(t, dir, "jit.yaml", "version: 1\njit:\n  - name: dba-prod-admin\n    groups: [dba]\n    connections: [db-prod]\n    access: [admin]\n    max_duration: -1h\n")
	several := writeFile(t, dir, "several.yaml", edit(t, edit(t, example, "groups: [analytics]", "groups: [analytics, Dba]"),
		"connections: [db-prod]\n    allow: [read, write, ddl]", "connections: [db-staging]\n    allow: [read, write, ddl]"))
	notGateway := writeFile(t, dir, "empty.yaml", "listen: 127.0.0.1:8443\nconnections: db\n")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"the example is clean", []string{"policy", "check", good}, cli.ExitOK,
			"policy OK: 4 rules, 1 file (version " + version(example) + ")\n", ""},
		{"the example names the gateway example's connections", []string{"policy", "check", "--config", gateway, good}, cli.ExitOK,
			"policy OK: 4 rules, 1 file (version " + version(example) + ")\n", ""},
		{"several files", []string{"policy", "check", good, extra}, cli.ExitOK,
			"policy OK: 5 rules, 2 files (version ", ""},
		{"unknown class", []string{"policy", "check", badClass}, cli.ExitError, "",
			badClass + ":19: rules[0].allow[0]: unknown class 'reed' (did you mean read?)\nhoop: load policy: 1 problem\n"},
		{"unknown connection", []string{"policy", "check", "--config", gateway, badConn}, cli.ExitError, "",
			badConn + ":25: rules[1].connections[0]: unknown connection db-prd (did you mean db-prod?)\nhoop: policy check: 1 problem\n"},
		{"connections are only checked with --config", []string{"policy", "check", badConn}, cli.ExitOK,
			"policy OK: 4 rules, 1 file", ""},
		{"group typo", []string{"policy", "check", typo}, cli.ExitError, "",
			typo + ":24: rules[1].groups[1]: group 'enginering' is used only here (did you mean engineering?)\nhoop: policy check: 1 problem\n"},
		{"bad duration", []string{"policy", "check", badDuration}, cli.ExitError, "",
			badDuration + `:52: jit[0].max_duration: bad duration "4 hours": want a positive duration such as 30m or 4h` + "\nhoop: load policy: 1 problem\n"},
		{"problems of both kinds, in line order", []string{"policy", "check", "--config", gateway, several}, cli.ExitError, "",
			several + ":24: rules[1].groups[1]: group 'Dba' is used only here (did you mean dba?)\n" +
				several + ":36: rules[3].connections[0]: unknown connection db-staging\n" +
				"hoop: policy check: 2 problems\n"},
		{"a problem in each file", []string{"policy", "check", badClass, jit}, cli.ExitError, "",
			badClass + ":19: rules[0].allow[0]: unknown class 'reed' (did you mean read?)\n" +
				jit + `:7: jit[0].max_duration: bad duration "-1h": want a positive duration such as 30m or 4h` + "\n" +
				"hoop: load policy: 2 problems\n"},
		{"bad gateway config", []string{"policy", "check", "--config", notGateway, good}, cli.ExitError, "",
			notGateway + ":2: connections: want a list\nhoop: policy check: 1 problem\n"},
		{"missing file", []string{"policy", "check", filepath.Join(dir, "nope.yaml")}, cli.ExitError, "",
			"hoop: load policy: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
		{"no file", []string{"policy", "check"}, cli.ExitUsage, "",
			"hoop: requires at least 1 arg(s), only received 0\nRun 'hoop --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d", code, tt.code)
			}
			if !strings.HasPrefix(stdout, tt.stdout) || tt.stdout == "" && stdout != "" {
				t.Errorf("stdout: got %q, want %q", stdout, tt.stdout)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr:\ngot  %q\nwant %q", stderr, tt.stderr)
			}
		})
	}
}

// policyTests is a test file for the shared example policy, with cases that pass and
// cases that fail, each for a different reason.
const policyTests = `policy: [policy.yaml]
tests:
  - name: engineers may read prod
    groups: [engineering]
    connection: db-prod
    sql: select * from customers
    want: allow
    rule: engineers-read-prod
  - name: a writable CTE is a write
    groups: [engineering]
    email: ana@example.com
    connection: db-prod
    sql: with d as (delete from orders returning *) select * from d
    want: review
  - name: one denied statement denies the query
    groups: [engineering]
    connection: db-prod
    sql: select 1; drop table orders
    want: deny
    rule: engineers-read-prod
  - name: nobody else
    subject: eve
    connection: db-prod
    sql: select 1
    want: deny
    rule: ""
  - name: analysts may write (wrong)
    groups: [analytics]
    connection: db-prod
    sql: delete from orders
    want: allow
  - name: the wrong rule
    groups: [analytics, dba]
    connection: db-prod
    sql: |
      begin;
      select 1;
      commit
    want: allow
    rule: dba-prod
`

func TestPolicyTest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "policy.yaml", examplePolicy(t))
	mixed := writeFile(t, dir, "mixed.yaml", policyTests)
	passing := writeFile(t, dir, "passing.yaml", policyTests[:strings.Index(policyTests, "  - name: analysts may write")])
	other := t.TempDir()
	malformed := writeFile(t, other, "malformed.yaml", `policy: []
tests:
  - name: x
    groups: engineering
    connection: db-prod
    sql: select 1
    want: maybe
  - name: x
    connection: db-prod
    sql: select 1
    want: allow
  - groups: [dba]
    sql: ""
    wnat: deny
`)
	missingPolicy := writeFile(t, other, "missing.yaml", "policy: [policy.yaml]\ntests:\n  - {name: x, groups: [g], connection: c, sql: select 1, want: deny}\n")

	tests := []struct {
		name   string
		file   string
		code   int
		stdout string
		stderr string
	}{
		{"passing and failing", mixed, cli.ExitError, `--- PASS: engineers may read prod
--- PASS: a writable CTE is a write
--- PASS: one denied statement denies the query
--- PASS: nobody else
--- FAIL: analysts may write (wrong): got deny (denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE); ask a policy admin for a rule that grants write on db-prod), want allow
--- FAIL: the wrong rule: got allow by rule analysts-read (allowed by rule analysts-read: read statements on db-prod), want allow by rule dba-prod
    statement 1 (always): allow: begin
    statement 2 (read): allow: select 1
    statement 3 (always): allow: commit
4 passed, 2 failed
`, "hoop: policy test: 2 of 6 tests failed\n"},
		{"all passing", passing, cli.ExitOK, `--- PASS: engineers may read prod
--- PASS: a writable CTE is a write
--- PASS: one denied statement denies the query
--- PASS: nobody else
4 passed, 0 failed
`, ""},
		{"malformed", malformed, cli.ExitError, "", malformed + `:1: policy: want at least one policy file
` + malformed + `:4: tests[0].groups: want a list
` + malformed + `:7: tests[0].want: unknown decision 'maybe' (want allow, review or deny)
` + malformed + `:8: tests[1].name: duplicate test name "x" (first at line 3)
` + malformed + `:12: tests[2].name: required
` + malformed + `:12: tests[2].connection: required (such as db-prod)
` + malformed + `:12: tests[2].sql: required (the query to decide)
` + malformed + `:12: tests[2].want: required (allow, review or deny)
` + malformed + `:14: tests[2].wnat: unknown field (did you mean want?)
hoop: policy test: 9 problems
`},
		{"policy files are relative to the test file", missingPolicy, cli.ExitError, "",
			"hoop: load policy: open " + filepath.Join(other, "policy.yaml") + ": no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "policy", "test", tt.file)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d", code, tt.code)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout:\ngot  %q\nwant %q", stdout, tt.stdout)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr:\ngot  %q\nwant %q", stderr, tt.stderr)
			}
		})
	}
}

// explainSQL has transaction control, a read and a writable CTE.
const explainSQL = "begin;\nselect id from customers;\nwith d as (delete from orders where id = 7 returning *) select * from d;\ncommit"

func TestPolicyExplainJSON(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.yaml", examplePolicy(t))
	type statement struct {
		Text     string   `json:"text"`
		Class    string   `json:"class"`
		Always   bool     `json:"always"`
		Kind     string   `json:"kind"`
		Tables   []string `json:"tables"`
		Decision string   `json:"decision"`
		Rule     string   `json:"rule"`
		Reason   string   `json:"reason"`
	}
	type explain struct {
		Decision   string      `json:"decision"`
		Rule       string      `json:"rule"`
		Reason     string      `json:"reason"`
		Version    string      `json:"policy_version"`
		Statements []statement `json:"statements"`
	}
	const always = "transaction control and harmless settings are always allowed"
	tests := []struct {
		name   string
		groups string
		want   explain
	}{
		{"engineering: the write is held", "engineering", explain{
			Decision: "review", Rule: "engineers-read-prod",
			Reason: "held by rule engineers-read-prod: write statements on db-prod need an approval",
			Statements: []statement{
				{Text: "begin", Always: true, Decision: "allow", Reason: always},
				{Text: "select id from customers", Class: "read", Tables: []string{"customers"}, Decision: "allow",
					Rule: "engineers-read-prod", Reason: "allowed by rule engineers-read-prod: read statements on db-prod"},
				{Text: "with d as (delete from orders where id = 7 returning *) select * from d", Class: "write", Tables: []string{"orders"},
					Decision: "review", Rule: "engineers-read-prod", Reason: "held by rule engineers-read-prod: write statements on db-prod need an approval"},
				{Text: "commit", Always: true, Decision: "allow", Reason: always},
			},
		}},
		{"analytics: the whole query is denied", "analytics", explain{
			Decision: "deny", Reason: "denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE inside a WITH); ask a policy admin for a rule that grants write on db-prod",
			Statements: []statement{
				{Text: "begin", Always: true, Decision: "allow", Reason: always},
				{Text: "select id from customers", Class: "read", Tables: []string{"customers"}, Decision: "allow",
					Rule: "analysts-read", Reason: "allowed by rule analysts-read: read statements on db-prod"},
				{Text: "with d as (delete from orders where id = 7 returning *) select * from d", Class: "write", Tables: []string{"orders"},
					Decision: "deny", Reason: "denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE inside a WITH); ask a policy admin for a rule that grants write on db-prod"},
				{Text: "commit", Always: true, Decision: "allow", Reason: always},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "policy", "explain", "--policy", policy, "--groups", tt.groups,
				"--connection", "db-prod", "--sql", explainSQL, "--output", "json")
			if code != cli.ExitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr %q; want 0 and none", code, stderr)
			}
			var got explain
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			if len(got.Version) != 64 {
				t.Errorf("policy_version: got %q, want 64 hex digits", got.Version)
			}
			tt.want.Version = got.Version
			for i := range got.Statements {
				// The kind and a transaction statement's class are the classifier's to name.
				if got.Statements[i].Kind == "" {
					t.Errorf("statements[%d].kind: empty", i)
				}
				got.Statements[i].Kind = ""
				if got.Statements[i].Always {
					got.Statements[i].Class = ""
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("explain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyExplainTable(t *testing.T) {
	dir := t.TempDir()
	content := examplePolicy(t)
	policy := writeFile(t, dir, "policy.yaml", content)
	code, stdout, stderr := run(t, "policy", "explain", "--policy", policy, "--groups", "engineering",
		"--connection", "db-prod", "--sql", explainSQL)
	if code != cli.ExitOK || stderr != "" {
		t.Fatalf("exit code %d, stderr %q; want 0 and none", code, stderr)
	}
	// The lines this command makes; the classifier's kind and class reasons are its own.
	for _, want := range []string{
		"decision:  review\n",
		"rule:      engineers-read-prod\n",
		"reason:    held by rule engineers-read-prod: write statements on db-prod need an approval\n",
		"policy:    " + version(content) + "\n",
		"\nstatement 1:  begin",
		"\n  class:      always\n",
		"\nstatement 3:  with d as (delete from orders where id = 7 returning *) select * from d",
		"\n  class:      write",
		"\n  tables:     orders\n",
		"\n  decision:   review\n  rule:       engineers-read-prod\n  reason:     held by rule engineers-read-prod: write statements on db-prod need an approval\n",
		"\n  decision:   allow\n  rule:       -\n  reason:     transaction control and harmless settings are always allowed\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout:\n%s\nwant it to contain %q", stdout, want)
		}
	}
	if got := strings.Count(stdout, "\nstatement "); got != 4 {
		t.Errorf("stdout has %d statements, want 4:\n%s", got, stdout)
	}
}

func TestPolicyExplainUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no connection", []string{"--groups", "g", "--sql", "select 1"}, cli.ExitUsage, "hoop: --connection is required\n"},
		{"no sql", []string{"--groups", "g", "--connection", "db"}, cli.ExitUsage, "hoop: --sql is required\n"},
		{"bad output", []string{"--connection", "db", "--sql", "select 1", "-o", "xml"}, cli.ExitUsage, "hoop: --output \"xml\": want table or json\n"},
		{"no policy file", []string{"--connection", "db", "--sql", "select 1", "--policy", filepath.Join(t.TempDir(), "policy.yaml")}, cli.ExitError, "hoop: load policy: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"policy", "explain"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d", code, tt.code)
			}
			if !strings.HasPrefix(stderr, tt.stderr) {
				t.Errorf("stderr: got %q, want it to start with %q", stderr, tt.stderr)
			}
		})
	}
}

// TestPolicyExplainClasses checks the class and decision of each statement of queries
// whose class is not their first word's.
func TestPolicyExplainClasses(t *testing.T) {
	policy := writeFile(t, t.TempDir(), "policy.yaml", examplePolicy(t))
	tests := []struct {
		name     string
		groups   string
		sql      string
		decision string
		classes  []string // each statement's class and decision: "write review"
	}{
		// The gateway gives an EXECUTE the class of a PREPARE in an earlier query of the
		// session; alone, or after its PREPARE in the same query, it is admin.
		{"EXECUTE alone is admin", "dba",
			"prepare p(int) as delete from orders where id = $1; execute p(7)", "review",
			[]string{"write allow", "admin review"}},
		{"a text that does not parse is admin", "engineering", "selec * from orders", "deny",
			[]string{"admin deny"}},
		{"a side-effecting function in a select", "analytics", "select 1; select pg_read_file('/etc/passwd')", "deny",
			[]string{"read allow", "admin deny"}},
		{"EXPLAIN ANALYZE of a write", "engineering", "explain analyze delete from orders", "review",
			[]string{"write review"}},
		{"harmless settings are always allowed", "analytics", "set search_path = app; show search_path", "allow",
			[]string{"always allow", "read allow"}},
		// Without the database's catalog, a function that is not a built-in is write: the
		// gateway decides by its catalog (functions that write are classed read).
		{"a function of the database's own is write without a catalog", "engineering",
			"select lower('A'), count(*) from orders; select touch_canary(); select * from orders where touch_canary() is null",
			"review", []string{"read allow", "write review", "write review"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "policy", "explain", "--policy", policy, "--groups", tt.groups,
				"--connection", "db-prod", "--sql", tt.sql, "-o", "json")
			if code != cli.ExitOK || stderr != "" {
				t.Fatalf("exit code %d, stderr %q; want 0 and none", code, stderr)
			}
			var got struct {
				Decision   string
				Statements []struct {
					Class, Decision string
					Always          bool
				}
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
			var classes []string
			for _, s := range got.Statements {
				if s.Always {
					s.Class = "always"
				}
				classes = append(classes, s.Class+" "+s.Decision)
			}
			if got.Decision != tt.decision || !slices.Equal(classes, tt.classes) {
				t.Errorf("got %s %q, want %s %q", got.Decision, classes, tt.decision, tt.classes)
			}
		})
	}
}
