package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/internal/testenv"
)

func sharedExamples(t *testing.T) string { return testenv.SharedExamples(t) }

func loadExample(t *testing.T) *Policy {
	t.Helper()
	p, err := Load(filepath.Join(sharedExamples(t), "policy.yaml"))
	if err != nil {
		t.Fatalf("load the shared example policy: %v", err)
	}
	return p
}

func TestExampleContent(t *testing.T) {
	p := loadExample(t)
	var names []string
	for _, r := range p.Rules {
		names = append(names, r.Name)
	}
	if want := []string{"engineers-read-prod", "analysts-read", "dba-prod", "ci-deploy"}; !slices.Equal(names, want) {
		t.Errorf("rules: got %q, want %q", names, want)
	}
	if got, want := p.Rules[0], (Rule{
		Name: "engineers-read-prod", Groups: []string{"engineering"}, Connections: []string{"db-prod"},
		Allow: []Class{Read}, Review: []Class{Write}, Deny: []Class{DDL, Admin},
		Pos: Pos{p.Files[0], 16}, field: "rules[0]",
	}); !cmp.Equal(got, want, cmp.AllowUnexported(Rule{})) {
		t.Errorf("rules[0]: %s", cmp.Diff(want, got, cmp.AllowUnexported(Rule{})))
	}
	if got, want := p.Recordings.Readers, []string{"auditors", "dba"}; !slices.Equal(got, want) {
		t.Errorf("recordings.readers: got %q, want %q", got, want)
	}
	if got, want := p.Reviews, (Reviews{Approvers: []string{"dba"}, MinApprovals: 1, ExpiresAfter: 30 * time.Minute}); !cmp.Equal(got, want) {
		t.Errorf("reviews: %s", cmp.Diff(want, got))
	}
	wantJIT := []JIT{{Name: "contractors-prod", Groups: []string{"contractors"}, Connections: []string{"db-prod"},
		Access: []Class{Read}, MaxDuration: 4 * time.Hour, Approvers: []string{"dba"}, Pos: Pos{p.Files[0], 48}, field: "jit[0]"}}
	if !cmp.Equal(p.JIT, wantJIT, cmp.AllowUnexported(JIT{})) {
		t.Errorf("jit: %s", cmp.Diff(wantJIT, p.JIT, cmp.AllowUnexported(JIT{})))
	}
	wantMask := []Masking{{Name: "pii", Connections: []string{"*"}, ExemptGroups: []string{"dba"}, Mode: MaskPartial,
		Detectors: Detectors(), Columns: []Column{{"*", "ssn"}, {"customers", "phone"}}, Pos: Pos{p.Files[0], 56}, field: "masking[0]"}}
	if !cmp.Equal(p.Masking, wantMask, cmp.AllowUnexported(Masking{})) {
		t.Errorf("masking: %s", cmp.Diff(wantMask, p.Masking, cmp.AllowUnexported(Masking{})))
	}
	if errs := p.CheckReferences([]string{"db-prod"}); len(errs) != 0 {
		t.Errorf("CheckReferences([db-prod]): got %v, want none", errs)
	}
}

// TestExampleDecisions checks that the example means what its comments say.
func TestExampleDecisions(t *testing.T) {
	p := loadExample(t)
	tests := []struct {
		groups     []string
		connection string
		class      Class
		want       Decision
		rule       string
		reason     string
	}{
		{[]string{"engineering"}, "db-prod", Read, Allow, "engineers-read-prod", "allowed by rule engineers-read-prod: read statements on db-prod"},
		{[]string{"engineering"}, "db-prod", Write, Review, "engineers-read-prod", "held by rule engineers-read-prod: write statements on db-prod need an approval"},
		{[]string{"engineering"}, "db-prod", DDL, Deny, "engineers-read-prod", "denied by rule engineers-read-prod: ddl statements are not allowed on db-prod"},
		{[]string{"engineering"}, "db-prod", Admin, Deny, "engineers-read-prod", "denied by rule engineers-read-prod: admin statements are not allowed on db-prod"},
		{[]string{"engineering"}, "db-staging", Read, Deny, "", "no rule in the policy matches s1 (groups [engineering]) on db-staging; ask a policy admin for access"},
		{[]string{"analytics"}, "db-prod", Read, Allow, "analysts-read", "allowed by rule analysts-read: read statements on db-prod"},
		{[]string{"analytics"}, "db-prod", Write, Deny, "", "denied by rule analysts-read: it allows read on db-prod; this statement is write; ask a policy admin for a rule that grants write on db-prod"},
		{[]string{"analytics"}, "db-prod", DDL, Deny, "", "denied by rule analysts-read: it allows read on db-prod; this statement is ddl; ask a policy admin for a rule that grants ddl on db-prod"},
		{[]string{"dba"}, "db-prod", DDL, Allow, "dba-prod", "allowed by rule dba-prod: ddl statements on db-prod"},
		{[]string{"dba"}, "db-anything", Write, Allow, "dba-prod", "allowed by rule dba-prod: write statements on db-anything"},
		{[]string{"dba"}, "db-anything", Admin, Review, "dba-prod", "held by rule dba-prod: admin statements on db-anything need an approval"},
		{[]string{"ci-deploy"}, "db-prod", DDL, Allow, "ci-deploy", "allowed by rule ci-deploy: ddl statements on db-prod"},
		{[]string{"ci-deploy"}, "db-prod", Admin, Deny, "", "denied by rule ci-deploy: it allows read, write and ddl on db-prod; this statement is admin; ask a policy admin for a rule that grants admin on db-prod"},
		// deny > review > allow across rules: engineering's deny of ddl wins over dba's allow,
		// its review of write over dba's allow.
		{[]string{"dba", "engineering"}, "db-prod", DDL, Deny, "engineers-read-prod", "denied by rule engineers-read-prod: ddl statements are not allowed on db-prod"},
		{[]string{"dba", "engineering"}, "db-prod", Write, Review, "engineers-read-prod", "held by rule engineers-read-prod: write statements on db-prod need an approval"},
		{[]string{"analytics", "ci-deploy"}, "db-prod", Write, Allow, "ci-deploy", "allowed by rule ci-deploy: write statements on db-prod"},
		{nil, "db-prod", Read, Deny, "", "no rule in the policy matches s1 (in no group) on db-prod; ask a policy admin for access"},
		{[]string{"contractors"}, "db-prod", Read, Deny, "", `no rule in the policy matches s1 (groups [contractors]) on db-prod; JIT rule contractors-prod lets you ask for read access for up to 4h: hoop connect db-prod --duration 1h --reason "…"`},
		{[]string{"Engineering"}, "db-prod", Read, Deny, "", "no rule in the policy matches s1 (groups [Engineering]) on db-prod; ask a policy admin for access"},
		{[]string{"dba"}, "db-prod", Class("select"), Deny, "", `statement class "select" is unknown and denied`},
		{[]string{"dba"}, "", Read, Deny, "", "no rule in the policy matches s1 (groups [dba]) on ; ask a policy admin for access"},
	}
	for _, tt := range tests {
		id := Identity{Subject: "s1", Groups: tt.groups}
		d, rule, reason := p.Decide(id, tt.connection, tt.class)
		if d != tt.want || rule != tt.rule || reason != tt.reason {
			t.Errorf("Decide(%v, %s, %s): got %s, %q, %q; want %s, %q, %q",
				tt.groups, tt.connection, tt.class, d, rule, reason, tt.want, tt.rule, tt.reason)
		}
	}
}

func TestExampleAccess(t *testing.T) {
	p := loadExample(t)
	tests := []struct {
		groups     []string
		grants     []Grant
		connection string
		want       Access
		max        Class
	}{
		{[]string{"engineering"}, nil, "db-prod",
			Access{Classes: []Class{Read, Write}, Review: []Class{Write}, Rules: []string{"engineers-read-prod"}, Allowed: true}, Write},
		{[]string{"analytics"}, nil, "db-prod",
			Access{Classes: []Class{Read}, Rules: []string{"analysts-read"}, Allowed: true}, Read},
		{[]string{"dba"}, nil, "db-other",
			Access{Classes: []Class{Read, Write, DDL, Admin}, Review: []Class{Admin}, Rules: []string{"dba-prod"}, Allowed: true}, Admin},
		{[]string{"dba", "analytics"}, nil, "db-prod",
			Access{Classes: []Class{Read, Write, DDL, Admin}, Review: []Class{Admin}, Rules: []string{"analysts-read", "dba-prod"}, Allowed: true}, Admin},
		{nil, nil, "db-prod",
			Access{Reason: "no rule grants access to db-prod to an identity in no group"}, ""},
		{[]string{"sales"}, nil, "db-prod",
			Access{Reason: "no rule grants access to db-prod to groups [sales]"}, ""},
		{[]string{"analytics"}, nil, "db-staging",
			Access{Reason: "no rule grants access to db-staging to groups [analytics]"}, ""},
		{[]string{"contractors"}, nil, "db-prod",
			Access{JIT: []string{"contractors-prod"}, Reason: "no rule grants access to db-prod to groups [contractors]; just-in-time access may be requested (contractors-prod)"}, ""},
		{[]string{"contractors"}, []Grant{{JIT: "contractors-prod", Connection: "db-prod", Classes: []Class{Read}}}, "db-prod",
			Access{Classes: []Class{Read}, Rules: []string{"contractors-prod"}, JIT: []string{"contractors-prod"}, Allowed: true}, Read},
		// A grant allows no more than its JIT rule, only on its connection, only to the rule's groups.
		{[]string{"contractors"}, []Grant{{JIT: "contractors-prod", Connection: "db-prod", Classes: []Class{Write}}}, "db-prod",
			Access{JIT: []string{"contractors-prod"}, Reason: "no rule grants access to db-prod to groups [contractors]; just-in-time access may be requested (contractors-prod)"}, ""},
		{[]string{"contractors"}, []Grant{{JIT: "contractors-prod", Connection: "db-prod", Classes: []Class{Read}}}, "db-other",
			Access{Reason: "no rule grants access to db-other to groups [contractors]"}, ""},
		{[]string{"sales"}, []Grant{{JIT: "contractors-prod", Connection: "db-prod", Classes: []Class{Read}}}, "db-prod",
			Access{Reason: "no rule grants access to db-prod to groups [sales]"}, ""},
		{[]string{"contractors"}, []Grant{{JIT: "removed-rule", Connection: "db-prod", Classes: []Class{Read}}}, "db-prod",
			Access{JIT: []string{"contractors-prod"}, Reason: "no rule grants access to db-prod to groups [contractors]; just-in-time access may be requested (contractors-prod)"}, ""},
	}
	for _, tt := range tests {
		id := Identity{Subject: "s1", Groups: tt.groups, Grants: tt.grants}
		got := p.Access(id, tt.connection)
		if !cmp.Equal(got, tt.want) {
			t.Errorf("Access(%v, %v, %s): %s", tt.groups, tt.grants, tt.connection, cmp.Diff(tt.want, got))
		}
		max, ok := p.MaxLevel(id, tt.connection)
		if max != tt.max || ok != (tt.max != "") {
			t.Errorf("MaxLevel(%v, %s): got %q, %v; want %q", tt.groups, tt.connection, max, ok, tt.max)
		}
	}
}

func TestGrantDecision(t *testing.T) {
	p := loadExample(t)
	id := Identity{Groups: []string{"contractors"}, Grants: []Grant{{JIT: "contractors-prod", Connection: "db-prod", Classes: []Class{Read}}}}
	d, rule, reason := p.Decide(id, "db-prod", Read)
	if d != Allow || rule != "contractors-prod" || reason != "allowed by a just-in-time grant under contractors-prod: read statements on db-prod" {
		t.Errorf("Decide with a grant: got %s, %q, %q", d, rule, reason)
	}
	if d, _, _ := p.Decide(id, "db-prod", Write); d != Deny {
		t.Errorf("Decide write with a read grant: got %s, want deny", d)
	}
}

func TestVersion(t *testing.T) {
	path := filepath.Join(sharedExamples(t), "policy.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	one := loadExample(t).Version()
	p, err := Parse("policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version() != one || len(one) != 64 || strings.Trim(one, "0123456789abcdef") != "" {
		t.Errorf("Version: got %q from Load, %q from Parse; want the same 64 hex digits", one, p.Version())
	}
	changed, err := Parse("policy.yaml", append(data, "\n# a comment\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if changed.Version() == one {
		t.Errorf("Version: a changed file kept version %s", one)
	}
}
