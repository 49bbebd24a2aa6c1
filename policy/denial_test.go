package policy

import (
	"strings"
	"testing"
)

// denialPolicy has rules that match the same people in several ways, a rule that only
// denies, a rule for another connection and a JIT rule, so that a denial has something to
// name.
const denialPolicy = `version: 1
rules:
  - name: analysts-read
    groups: [analytics]
    connections: [db-prod]
    allow: [read]
  - name: support-prod
    groups: [support]
    connections: [db-prod, db-staging]
    allow: [read]
    review: [write]
  - name: no-admin
    groups: [support]
    connections: ["*"]
    deny: [admin]
  - name: staging-all
    groups: [engineering]
    connections: [db-staging]
    allow: [read, write, ddl]
reviews:
  approvers: [dba]
jit:
  - name: analysts-write
    groups: [analytics]
    connections: [db-prod]
    access: [read, write]
    max_duration: 30m
`

// TestDenialNamesTheRules: a refusal says which rule decided. A statement of a class no
// matching rule grants is refused naming the rules that matched and what they allow; when
// no rule matches at all the refusal says so; either way it says what to do (ask for JIT
// access when a JIT rule offers the class, else ask a policy admin). Before, all of these
// read "no rule grants write on db-prod to groups [analytics]", as if no rule matched.
func TestDenialNamesTheRules(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(denialPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ann := func(groups ...string) Identity {
		return Identity{Subject: "u-ann", Email: "ann@example.com", Groups: groups}
	}
	tests := []struct {
		name   string
		id     Identity
		conn   string
		stmt   Statement
		rule   string
		reason string
	}{
		{"a matching rule of another class, JIT offers the class", ann("analytics"), "db-prod",
			Statement{Text: "delete from orders", Class: Write, Kind: "DELETE"}, "",
			`denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE); ` +
				`JIT rule analysts-write lets you ask for read and write access for up to 30m: hoop connect db-prod --duration 30m --reason "…"`},
		{"a matching rule of another class, nothing offers the class", ann("analytics"), "db-prod",
			Statement{Text: "create table t ()", Class: DDL, Kind: "CREATE TABLE"}, "",
			`denied by rule analysts-read: it allows read on db-prod; this statement is ddl (CREATE TABLE); ask a policy admin for a rule that grants ddl on db-prod`},
		{"a matching rule of another class, no command tag", ann("analytics"), "db-prod",
			Statement{Text: "create table t ()", Class: DDL}, "",
			`denied by rule analysts-read: it allows read on db-prod; this statement is ddl; ask a policy admin for a rule that grants ddl on db-prod`},
		{"why it has its class, rather than its command tag", ann("analytics"), "db-prod",
			Statement{Text: "with d as (delete from orders returning *) select * from d", Class: Write, Kind: "SELECT", Why: "DELETE inside a WITH"}, "",
			`denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE inside a WITH); ` +
				`JIT rule analysts-write lets you ask for read and write access for up to 30m: hoop connect db-prod --duration 30m --reason "…"`},
		{"why, but not its detail, which may quote the statement", ann("analytics"), "db-prod",
			Statement{Text: "selec 'secret'", Class: Admin, Kind: "UNKNOWN", Why: "does not parse: syntax error at or near \"'secret'\""}, "",
			`denied by rule analysts-read: it allows read on db-prod; this statement is admin (does not parse); ask a policy admin for a rule that grants admin on db-prod`},
		{"several matching rules", ann("analytics", "support"), "db-prod",
			Statement{Text: "drop table t", Class: DDL, Kind: "DROP TABLE"}, "",
			`denied by rules analysts-read, support-prod, no-admin: analysts-read allows read on db-prod, ` +
				`support-prod allows read and holds write for review on db-prod, no-admin only denies admin on db-prod; ` +
				`this statement is ddl (DROP TABLE); ask a policy admin for a rule that grants ddl on db-prod`},
		{"several matching rules, one denies the class: it decides", ann("analytics", "support"), "db-prod",
			Statement{Text: "do $$ $$", Class: Admin, Kind: "DO"}, "no-admin",
			`denied by rule no-admin: admin statements are not allowed on db-prod`},
		{"no matching rule", ann("sales"), "db-prod",
			Statement{Text: "select 1", Class: Read, Kind: "SELECT"}, "",
			`no rule in the policy matches ann@example.com (groups [sales]) on db-prod; ask a policy admin for access`},
		{"no matching rule: in no group", ann(), "db-prod",
			Statement{Text: "select 1", Class: Read, Kind: "SELECT"}, "",
			`no rule in the policy matches ann@example.com (in no group) on db-prod; ask a policy admin for access`},
		{"no matching rule: a rule of the groups for another connection does not match", ann("engineering"), "db-prod",
			Statement{Text: "select 1", Class: Read}, "",
			`no rule in the policy matches ann@example.com (groups [engineering]) on db-prod; ask a policy admin for access`},
		{"no matching rule: the subject when there is no e-mail", Identity{Subject: "machine:ci-bot", Groups: []string{"ci"}}, "db-prod",
			Statement{Text: "select 1", Class: Read}, "",
			`no rule in the policy matches machine:ci-bot (groups [ci]) on db-prod; ask a policy admin for access`},
		{"a grant on another connection is not named", Identity{Email: "sam@example.com", Groups: []string{"analytics"},
			Grants: []Grant{{JIT: "analysts-write", Connection: "db-prod", Classes: []Class{Read}}}}, "db-staging",
			Statement{Text: "select 1", Class: Read, Kind: "SELECT"}, "",
			`no rule in the policy matches sam@example.com (groups [analytics]) on db-staging; ask a policy admin for access`},
		{"a grant under a JIT rule that no longer covers it is not named", Identity{Email: "sam@example.com", Groups: []string{"sales"},
			Grants: []Grant{{JIT: "analysts-write", Connection: "db-prod", Classes: []Class{Read}}}}, "db-prod",
			Statement{Text: "select 1", Class: Read, Kind: "SELECT"}, "",
			`no rule in the policy matches sam@example.com (groups [sales]) on db-prod; ask a policy admin for access`},
		{"a grant of another class", Identity{Email: "ann@example.com", Groups: []string{"analytics"},
			Grants: []Grant{{JIT: "analysts-write", Connection: "db-prod", Classes: []Class{Read, Write}}}}, "db-prod",
			Statement{Text: "drop table t", Class: DDL, Kind: "DROP TABLE"}, "",
			`denied by rule analysts-read: it allows read on db-prod; the just-in-time grant under analysts-write allows read and write; ` +
				`this statement is ddl (DROP TABLE); ask a policy admin for a rule that grants ddl on db-prod`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := p.Evaluate(tt.id, tt.conn, []Statement{tt.stmt})
			if ev.Decision != Deny || ev.Rule != tt.rule || ev.Reason != tt.reason {
				t.Errorf("got %s by %q:\n  %s\nwant deny by %q:\n  %s", ev.Decision, ev.Rule, ev.Reason, tt.rule, tt.reason)
			}
			// Decide, without the command tag, gives the same reason less the tag.
			tag := tt.stmt.Kind
			if tt.stmt.Why != "" {
				tag = whyHead(tt.stmt.Why)
			}
			d, rule, reason := p.Decide(tt.id, tt.conn, tt.stmt.Class)
			if want := removeTag(tt.reason, tag); d != Deny || rule != tt.rule || reason != want {
				t.Errorf("Decide: got %s by %q: %s\nwant deny by %q: %s", d, rule, reason, tt.rule, want)
			}
		})
	}
}

func removeTag(reason, kind string) string {
	if kind == "" {
		return reason
	}
	return strings.Replace(reason, " ("+kind+")", "", 1)
}
