package policy

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvaluate(t *testing.T) {
	p := loadExample(t)
	eng := Identity{Subject: "s1", Groups: []string{"engineering"}}
	var (
		begin  = Statement{Text: "begin", Always: true}
		read   = Statement{Text: "select 1", Class: Read}
		write  = Statement{Text: "delete from t", Class: Write}
		ddl    = Statement{Text: "drop table t", Class: DDL}
		always = Verdict{Allow, "", alwaysReason}
		allow  = Verdict{Allow, "engineers-read-prod", "allowed by rule engineers-read-prod: read statements on db-prod"}
		review = Verdict{Review, "engineers-read-prod", "held by rule engineers-read-prod: write statements on db-prod need an approval"}
		deny   = Verdict{Deny, "engineers-read-prod", "denied by rule engineers-read-prod: ddl statements are not allowed on db-prod"}
	)
	tests := []struct {
		name  string
		id    Identity
		conn  string
		stmts []Statement
		want  Evaluation
	}{
		{"empty", eng, "db-prod", nil,
			Evaluation{Verdict{Allow, "", "no statement to run"}, []Verdict{}}},
		{"one read", eng, "db-prod", []Statement{read}, Evaluation{allow, []Verdict{allow}}},
		{"transaction control only", eng, "db-prod", []Statement{begin}, Evaluation{always, []Verdict{always}}},
		{"transaction control for nobody", Identity{}, "db-prod", []Statement{begin}, Evaluation{always, []Verdict{always}}},
		// An Always statement is allowed whatever its class says.
		{"always ignores the class", eng, "db-prod", []Statement{{Text: "begin", Class: Admin, Always: true}}, Evaluation{always, []Verdict{always}}},
		{"a rule's allow explains better than always", eng, "db-prod", []Statement{begin, read, begin}, Evaluation{allow, []Verdict{always, allow, always}}},
		{"only always statements", eng, "db-prod", []Statement{begin, begin}, Evaluation{always, []Verdict{always, always}}},
		{"the first allow decides", Identity{Groups: []string{"analytics", "engineering"}}, "db-prod",
			[]Statement{begin, read, {Text: "select 2", Class: Read}},
			Evaluation{Verdict{Allow, "engineers-read-prod", "allowed by rule engineers-read-prod: read statements on db-prod"},
				[]Verdict{always, allow, allow}}},
		{"review wins over allow", eng, "db-prod", []Statement{read, write, read}, Evaluation{review, []Verdict{allow, review, allow}}},
		{"deny wins over review", eng, "db-prod", []Statement{begin, write, ddl, read}, Evaluation{deny, []Verdict{always, review, deny, allow}}},
		{"the first deny decides", eng, "db-prod", []Statement{read, {Text: "do $$ $$", Class: Admin}, ddl},
			Evaluation{Verdict{Deny, "engineers-read-prod", "denied by rule engineers-read-prod: admin statements are not allowed on db-prod"},
				[]Verdict{allow, {Deny, "engineers-read-prod", "denied by rule engineers-read-prod: admin statements are not allowed on db-prod"}, deny}}},
		{"default deny", Identity{Groups: []string{"sales"}}, "db-prod", []Statement{begin, read},
			Evaluation{Verdict{Deny, "", "no rule in the policy matches this identity (groups [sales]) on db-prod; ask a policy admin for access"},
				[]Verdict{always, {Deny, "", "no rule in the policy matches this identity (groups [sales]) on db-prod; ask a policy admin for access"}}}},
		{"unknown class fails closed", eng, "db-prod", []Statement{{Text: "?", Class: ""}},
			Evaluation{Verdict{Deny, "", `statement class "" is unknown and denied`}, []Verdict{{Deny, "", `statement class "" is unknown and denied`}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Evaluate(tt.id, tt.conn, tt.stmts)
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Evaluate: %s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestEvaluationJSON(t *testing.T) {
	ev := loadExample(t).Evaluate(Identity{Groups: []string{"analytics"}}, "db-prod",
		[]Statement{{Text: "select 1", Class: Read, Kind: "SELECT"}, {Text: "delete from t", Class: Write, Kind: "DELETE"}})
	got, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	denied := "denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE); ask a policy admin for a rule that grants write on db-prod"
	want := `{"decision":"deny","rule":"","reason":"` + denied + `",` +
		`"statements":[{"decision":"allow","rule":"analysts-read","reason":"allowed by rule analysts-read: read statements on db-prod"},` +
		`{"decision":"deny","rule":"","reason":"` + denied + `"}]}`
	if string(got) != want {
		t.Errorf("json:\ngot  %s\nwant %s", got, want)
	}
}

func TestParseDecision(t *testing.T) {
	tests := []struct {
		in   string
		want Decision
		err  string
	}{
		{"allow", Allow, ""},
		{"review", Review, ""},
		{"deny", Deny, ""},
		{"Allow", Deny, "unknown decision 'Allow' (want allow, review or deny)"},
		{"", Deny, "unknown decision '' (want allow, review or deny)"},
	}
	for _, tt := range tests {
		got, err := ParseDecision(tt.in)
		if got != tt.want || errString(err) != tt.err {
			t.Errorf("ParseDecision(%q): got %s, %q; want %s, %q", tt.in, got, errString(err), tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrUnknownDecision) {
			t.Errorf("ParseDecision(%q): error %v is not ErrUnknownDecision", tt.in, err)
		}
	}
}
