package policy

import (
	"cmp"
	"fmt"
	"strings"
)

// Statement is one statement to decide, as the SQL analysis classified it. The policy
// package does not parse SQL: the caller (the gateway, or hoop policy explain and test)
// classifies first.
type Statement struct {
	Text   string // "delete from orders where id = 7"
	Class  Class  // write; not looked at when Always is set
	Always bool   // transaction control or a harmless setting (BEGIN, SET search_path): allowed by every policy
	Kind   string // its command tag, named when it is denied: "DELETE"; may be empty
	// Why is why it has its class, named instead of Kind when set: "DELETE inside a
	// WITH". Only its head, up to the first colon, is named: the detail ("does not parse:
	// syntax error at or near …") may quote the statement, which a reason must not.
	Why string
}

// Verdict is the decision on one statement, or on several together.
type Verdict struct {
	Decision Decision `json:"decision"` // allow, review or deny
	Rule     string   `json:"rule"`     // "engineers-read-prod"; empty for the default deny and for Always statements
	// Reason is a sentence for the person: "held by rule engineers-read-prod: write
	// statements on db-prod need an approval". A default deny names the rules that
	// matched, none of which grants the class, and what to do (see Policy.Decide).
	Reason string `json:"reason"`
}

// Evaluation is the decision on a query of one or more statements.
type Evaluation struct {
	Verdict              // the combined decision: what happens to the query as a whole
	Statements []Verdict `json:"statements"` // one per statement, in order
}

// alwaysReason is the reason given for an Always statement.
const alwaysReason = "transaction control and harmless settings are always allowed"

// Evaluate decides each of stmts, run on connection by id, with Decide, and combines the
// decisions into one for the query they came in: deny if any statement is denied, else
// review if any is held for review, else allow, so that a query with one denied part runs
// none of it. An Always statement is allowed without a rule. The combined Rule and Reason
// are those of the first statement whose decision is the combined one, not counting
// Always statements unless there are only those: "begin; select 1; commit" is allowed by
// the rule that allows the select.
//
// An empty stmts (";", the empty query a client sends as a ping) runs nothing and is
// allowed.
func (p *Policy) Evaluate(id Identity, connection string, stmts []Statement) Evaluation {
	ev := Evaluation{
		Verdict:    Verdict{Decision: Allow, Reason: "no statement to run"},
		Statements: make([]Verdict, len(stmts)),
	}
	decider := 0 // the statement whose verdict is the combined one
	for i, s := range stmts {
		v := Verdict{Decision: Allow, Reason: alwaysReason}
		if !s.Always {
			v.Decision, v.Rule, v.Reason = p.decide(id, connection, s.Class, cmp.Or(whyHead(s.Why), s.Kind))
		}
		ev.Statements[i] = v
		// Decisions are ordered Deny < Review < Allow: the combined one is the least. Of
		// the statements with it, a rule's decision is the better explanation than
		// "always allowed", so the first one decided by the policy is preferred.
		if i == 0 || v.Decision < ev.Decision || v.Decision == ev.Decision && stmts[decider].Always && !s.Always {
			ev.Verdict, decider = v, i
		}
	}
	return ev
}

// whyHead is why up to its first colon: "does not parse: syntax error…" → "does not parse".
func whyHead(why string) string {
	head, _, _ := strings.Cut(why, ":")
	return strings.TrimSpace(head)
}

// ParseDecision returns the decision named s: "allow", "review" or "deny".
func ParseDecision(s string) (Decision, error) {
	for _, d := range []Decision{Allow, Review, Deny} {
		if s == d.String() {
			return d, nil
		}
	}
	return Deny, fmt.Errorf("%w '%s' (want allow, review or deny)", ErrUnknownDecision, s)
}
