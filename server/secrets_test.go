package server

import (
	"strings"
	"testing"

	"github.com/hoopgw/hoop/policy"
)

// TestSecretsInGateLog: the attack is reading the gateway's log for what a user's
// statements hold. Every decision line (allowed, held, denied, not parsed) carries the
// statement masked by the rules that mask the session's record, masked before it is cut
// to length so that a cut cannot leave part of a value the detectors would find whole; a
// session no rule masks logs its text as its record keeps it.
func TestSecretsInGateLog(t *testing.T) {
	const card, ssn = "4539148803436467", "536-22-1847"
	var log strings.Builder
	g := testGateway(t, &log)
	alice := policy.Identity{Subject: "alice", Groups: []string{"engineering"}}
	rules, err := g.maskRules(g.Policy(), alice, "db-prod")
	if err != nil || len(rules) == 0 {
		t.Fatalf("the example policy's masking for alice: %d rules, %v", len(rules), err)
	}
	gate := g.newGate(alice, "db-prod", g.log)
	gate.masker = g.newMasker(g.Policy(), rules, alice, "db-prod", g.log, nil)
	for _, sql := range []string{
		"select * from customers where ssn = '" + ssn + "'",              // allowed
		"delete from customers where card = '" + card + "'",              // held
		"drop table customers_" + card,                                   // denied
		"select 'x' '" + card + "'",                                      // does not parse
		"select '" + strings.Repeat("x", 180) + "', '" + card + "' as c", // the card across the cut at 200 bytes
	} {
		_, _ = gate.Query(sql, newTestNames())
	}
	got := log.String()
	if n := strings.Count(got, "statement decided"); n != 5 {
		t.Fatalf("decisions logged: got %d, want 5\n%s", n, got)
	}
	for _, leak := range []string{card, ssn, card[:6]} {
		if strings.Contains(got, leak) {
			t.Errorf("the log holds %q:\n%s", leak, got)
		}
	}
	for _, masked := range []string{"***-**-1847", "************6467"} {
		if !strings.Contains(got, masked) {
			t.Errorf("the log lacks the masked form %q:\n%s", masked, got)
		}
	}

	// dana is exempt from masking: her record keeps the text, and so does the log.
	log.Reset()
	dana := policy.Identity{Subject: "dana", Groups: []string{"dba"}}
	if rules, _ := g.maskRules(g.Policy(), dana, "db-prod"); len(rules) != 0 {
		t.Fatalf("dana is masked by %d rules", len(rules))
	}
	_, _ = g.newGate(dana, "db-prod", g.log).Query("select * from customers where ssn = '"+ssn+"'", newTestNames())
	if !strings.Contains(log.String(), ssn) {
		t.Errorf("an unmasked session's log line: %s", log.String())
	}
}
