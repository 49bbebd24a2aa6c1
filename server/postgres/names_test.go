package postgres

import (
	"slices"
	"testing"
)

// stmtChange is a Parse or PREPARE of name, as decided with class; held marks an approval.
func stmtChange(name, class string, held *heldUse) *change {
	return &change{name: name, stmt: &stmtEntry{sql: "…", decision: Decision{Class: class}, held: held}}
}

// TestNamesFollowAnswers is the state machine behind the class "an approved statement runs
// more than once": a change to a name takes effect only when the database confirms it, a
// failed or skipped one never does, and a decision made while one waits sees every state
// the name may be in.
func TestNamesFollowAnswers(t *testing.T) {
	t.Run("a refused re-prepare keeps the old class", func(t *testing.T) {
		n := newNames()
		n.settle(n.propose(stmtChange("upd", "write", nil)), true)
		n.endCycle()
		c := n.propose(stmtChange("upd", "read", nil)) // PREPARE upd AS SELECT 1
		n.endCycle()
		if got := n.Statement("upd"); !slices.Equal(got, []string{"write", "read"}) {
			t.Errorf("while the re-prepare waits: got %q, want both classes", got)
		}
		n.settle(c, false) // ERROR: prepared statement "upd" already exists
		if got := n.Statement("upd"); !slices.Equal(got, []string{"write"}) {
			t.Errorf("after the refusal: got %q, want [write]", got)
		}
	})

	t.Run("a deallocate that never ran drops nothing", func(t *testing.T) {
		n := newNames()
		n.settle(n.propose(stmtChange("upd", "write", nil)), true)
		for _, all := range []bool{false, true} {
			c := n.propose(&change{name: "upd", all: all}) // SELECT 1/0; DEALLOCATE upd
			n.endCycle()
			if got := n.Statement("upd"); !slices.Equal(got, []string{"write"}) {
				t.Errorf("all=%v, while it waits: got %q, want [write] (maybe dropped is not a class)", all, got)
			}
			n.settle(c, false)
			if got := n.Statement("upd"); !slices.Equal(got, []string{"write"}) {
				t.Errorf("all=%v, after: got %q, want [write]", all, got)
			}
		}
		c := n.propose(&change{name: "upd"})
		n.settle(c, true)
		if got := n.Statement("upd"); len(got) != 0 {
			t.Errorf("after a DEALLOCATE that ran: got %q, want unknown", got)
		}
	})

	t.Run("deallocate all keeps the unnamed statement", func(t *testing.T) {
		n := newNames()
		n.settle(n.propose(stmtChange("", "write", nil)), true)
		n.settle(n.propose(stmtChange("a", "read", nil)), true)
		n.settle(n.propose(&change{all: true}), true)
		if got := n.Statement(""); !slices.Equal(got, []string{"write"}) {
			t.Errorf("unnamed: got %q", got)
		}
		if got := n.Statement("a"); len(got) != 0 {
			t.Errorf("a: got %q", got)
		}
	})

	t.Run("the current cycle is certain", func(t *testing.T) {
		// Parse("", new) Bind("") in one cycle: if the Parse fails, the Bind is skipped,
		// so the Bind runs the new statement or nothing.
		n := newNames()
		old := &heldUse{review: "r-1", used: true}
		n.settle(n.propose(stmtChange("", "write", old)), true)
		n.endCycle()
		n.propose(stmtChange("", "read", nil))
		if h := n.bindHeld(""); h != nil {
			t.Errorf("Bind of the statement its cycle replaced: refused by the old approval %v", h.review)
		}
		if got := n.Statement(""); !slices.Equal(got, []string{"read"}) {
			t.Errorf("got %q, want [read]", got)
		}
	})

	t.Run("an earlier cycle may not have happened", func(t *testing.T) {
		n := newNames()
		n.settle(n.propose(stmtChange("s", "write", &heldUse{review: "r-1", used: true})), true)
		n.endCycle()
		n.propose(&change{name: "s"}) // Close "s" after an error: maybe skipped
		n.endCycle()
		n.propose(stmtChange("s", "read", nil))
		n.endCycle()
		if h := n.bindHeld("s"); h == nil || h.review != "r-1" {
			t.Errorf("Bind while a Close and a Parse of an earlier cycle wait: got %v, want refused by r-1", h)
		}
	})

	t.Run("an approval runs once", func(t *testing.T) {
		n := newNames()
		c := n.propose(stmtChange("h", "write", &heldUse{review: "r-2"}))
		// Bind pipelined behind its Parse: the approval is spent at once.
		if h := n.bindHeld("h"); h != nil {
			t.Fatalf("first Bind refused: %v", h.review)
		}
		n.endCycle()
		if h := n.bindHeld("h"); h == nil {
			t.Error("a second Bind, before the Parse is confirmed, was let through")
		}
		n.settle(c, true)
		if h := n.bindHeld("h"); h == nil {
			t.Error("a second Bind was let through")
		}
	})

	t.Run("an approved PREPARE gives no run", func(t *testing.T) {
		n := newNames()
		cs := n.effectChanges(Decision{Class: "write", Effects: []Effect{{Kind: EffectPrepare, Name: "upd", Class: "write"}}}, &heldUse{review: "r-3"})
		n.settle(cs[0], true)
		if h := n.bindHeld("upd"); h == nil || !h.prepared {
			t.Errorf("Bind of an approved PREPARE's statement: got %+v, want refused", h)
		}
	})

	t.Run("portals end with their transaction", func(t *testing.T) {
		n := newNames()
		for _, p := range []*change{
			{portal: true, name: "c", port: &portalEntry{class: "read", cursor: true}},
			{portal: true, name: "h", port: &portalEntry{class: "write", cursor: true, hold: true}},
			{portal: true, name: "p", port: &portalEntry{class: "read", stmt: &stmtEntry{}}},
		} {
			n.settle(n.propose(p), true)
		}
		n.ready('T', false) // in a transaction: all live
		if got := n.Portal("c"); !slices.Equal(got, []string{"read"}) {
			t.Errorf("in the transaction: got %q", got)
		}
		n.ready('I', false) // committed
		if got := n.Portal("c"); len(got) != 0 {
			t.Errorf("a cursor after its transaction: got %q, want unknown", got)
		}
		if p, unsure := n.portal("p"); p != nil || !unsure {
			t.Errorf("a Bind portal after its transaction: got %+v", p)
		}
		if got := n.Portal("h"); !slices.Equal(got, []string{"write"}) {
			t.Errorf("a committed cursor WITH HOLD: got %q, want [write]", got)
		}
		n.ready('I', true) // a later failed transaction does not end it
		if got := n.Portal("h"); !slices.Equal(got, []string{"write"}) {
			t.Errorf("a committed cursor WITH HOLD after a later error: got %q", got)
		}

		// WITH HOLD in a transaction that rolls back: gone.
		n.settle(n.propose(&change{portal: true, name: "r", port: &portalEntry{class: "read", cursor: true, hold: true}}), true)
		n.rolledBack()
		n.ready('I', false)
		if got := n.Portal("r"); len(got) != 0 {
			t.Errorf("a cursor WITH HOLD of a rolled back transaction: got %q", got)
		}
	})

	t.Run("Execute of a cursor or an unknown portal is unsure", func(t *testing.T) {
		n := newNames()
		n.settle(n.propose(&change{portal: true, name: "c", port: &portalEntry{class: "read", cursor: true}}), true)
		for name, want := range map[string]bool{"c": true, "nowhere": true} {
			if _, unsure := n.portal(name); unsure != want {
				t.Errorf("portal %q: unsure %v, want %v", name, unsure, want)
			}
		}
		n.propose(&change{portal: true, name: "", port: &portalEntry{stmt: &stmtEntry{sql: "select 1"}}})
		if p, unsure := n.portal(""); unsure || p == nil || p.stmt.sql != "select 1" {
			t.Errorf("a portal bound in this cycle: %+v, unsure %v", p, unsure)
		}
	})
}
