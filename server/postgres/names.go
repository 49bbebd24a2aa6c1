package postgres

import (
	"slices"
	"sync"
)

// names is the session's view of PostgreSQL's prepared statements and portals (SQL cursors
// are portals too: DECLARE c makes a portal named c, which FETCH or an Execute runs): what
// each name runs and how it was decided. It follows PostgreSQL's answers, not the client's
// requests. A change (a Parse, PREPARE, Bind, DECLARE, Close, DEALLOCATE, CLOSE) waits in
// pending from the moment the engine forwards it until the answer to it arrives: it is
// applied then if the database did it (ParseComplete, BindComplete, CloseComplete, the
// CommandComplete of that statement of a Query), and dropped if it failed or was skipped
// after an earlier error.
//
// While a change waits, a decision about its name sees every state the name may be in when
// the message being decided runs: a change forwarded in the client's current cycle (since
// its last Sync or Query) is certain to have happened by then, since PostgreSQL skips the
// rest of a cycle after an error; one of an earlier cycle may or may not have happened.
//
// The engine's two sides use it: the client side proposes changes and looks names up, the
// upstream side settles them; mu guards everything.
type names struct {
	mu        sync.Mutex
	stmts     map[string]*stmtEntry   // confirmed prepared statements: "" the unnamed one
	portals   map[string]*portalEntry // confirmed portals and cursors
	pending   []*change               // forwarded, not yet answered, oldest first
	cycle     uint64                  // the client's cycles begun: Syncs and Queries forwarded
	anyHeld   bool                    // a statement held for review was ever prepared: Binds check
	rollbacks bool                    // a ROLLBACK ran since the last ReadyForQuery outside a transaction
}

// stmtEntry is one prepared statement.
type stmtEntry struct {
	sql      string   // its text, for the record of each run
	decision Decision // how the gate decided it; Effects are what each run of it does
	held     *heldUse // the review that let it through, which allows one run; nil if none
}

// heldUse is an approval of a held statement: its review, its text, and whether its one
// run (its one Bind: a suspended portal's next Execute is the same run) is spent.
type heldUse struct {
	review string
	sql    string
	used   bool
	// prepared: the approval was of a text that prepares the statement (SQL PREPARE),
	// which runs nothing; so it gives no run (each EXECUTE of it is decided again).
	prepared bool
}

// refusal is the refusal of a Bind of a statement whose approval is spent.
func (h *heldUse) refusal() error {
	if h.prepared {
		return &DeniedError{Reason: "review " + h.review + " approved preparing this statement, not running it; run it with EXECUTE, which is decided (and held) on its own"}
	}
	return &DeniedError{Reason: "review " + h.review + " approved this statement to run once, and it has run; prepare it again to ask for a new review"}
}

// portalEntry is one portal: bound from a prepared statement, or a SQL cursor.
type portalEntry struct {
	stmtName  string     // the statement it was bound from: "" the unnamed one
	stmt      *stmtEntry // that statement; nil for a SQL cursor, or a statement not known
	class     string     // what running it more does: its statement's class, or its DECLARE's
	sql       string     // a SQL cursor: the text of its DECLARE, for masking its rows
	params    []Param    // Bind's parameters, for the record
	cursor    bool       // made by SQL DECLARE
	hold      bool       // DECLARE ... WITH HOLD: outlives its transaction once committed
	committed bool       // a cursor WITH HOLD whose transaction committed
}

// A change is one pending change to a name: it sets the name to stmt (or port), or drops
// it when that is nil.
type change struct {
	cycle  uint64 // the client cycle it was forwarded in
	portal bool   // a portal's name, else a statement's
	name   string
	all    bool // every name but the unnamed statement (DEALLOCATE ALL, CLOSE ALL)
	done   bool // settled
	stmt   *stmtEntry
	port   *portalEntry
	bound  portalEntry // what port points to for a Bind: one allocation per Bind
}

func newNames() *names {
	return &names{stmts: make(map[string]*stmtEntry), portals: make(map[string]*portalEntry)}
}

// propose records a change the engine is about to forward.
func (n *names) propose(c *change) *change {
	n.mu.Lock()
	c.cycle = n.cycle
	n.pending = append(n.pending, c)
	if c.stmt != nil && c.stmt.held != nil {
		n.anyHeld = true
	}
	n.mu.Unlock()
	return c
}

// endCycle marks the forwarding of a Sync or a Query: the changes before it are of an
// earlier cycle from now on.
func (n *names) endCycle() {
	n.mu.Lock()
	n.cycle++
	n.mu.Unlock()
}

// settle ends a pending change: ran says whether PostgreSQL did it.
func (n *names) settle(c *change, ran bool) {
	if c == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	if i := slices.Index(n.pending, c); i >= 0 {
		n.pending = slices.Delete(n.pending, i, i+1)
	}
	if !ran {
		return
	}
	switch {
	case c.portal && c.all:
		clear(n.portals)
	case c.portal && c.port == nil:
		delete(n.portals, c.name)
	case c.portal:
		n.portals[c.name] = c.port
	case c.all:
		unnamed, ok := n.stmts[""]
		clear(n.stmts)
		if ok {
			n.stmts[""] = unnamed
		}
	case c.stmt == nil:
		delete(n.stmts, c.name)
	default:
		n.stmts[c.name] = c.stmt
	}
}

// rolledBack notes a ROLLBACK (its CommandComplete): the cursors WITH HOLD declared in the
// transaction it ends are gone with it.
func (n *names) rolledBack() {
	n.mu.Lock()
	n.rollbacks = true
	n.mu.Unlock()
}

// ready follows a ReadyForQuery: outside a transaction (status 'I'), the portals of the
// transaction that ended are gone, but for the cursors WITH HOLD of one that committed.
// failed says the cycle that ended had an error: its transaction, if it ended, rolled back.
func (n *names) ready(status byte, failed bool) {
	if status != 'I' {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rolledBack := failed || n.rollbacks
	n.rollbacks = false
	for name, p := range n.portals {
		switch {
		case p.hold && p.committed:
		case p.hold && !rolledBack:
			p.committed = true
		default:
			delete(n.portals, name)
		}
	}
}

// stmtCandidates returns every state statement name may be in when the message now being
// decided runs: nil for "not prepared". The caller holds mu.
func (n *names) stmtCandidates(name string) []*stmtEntry {
	cands := []*stmtEntry{n.stmts[name]}
	for _, c := range n.pending {
		if c.portal || !(c.name == name || c.all && name != "") {
			continue
		}
		cands = step(cands, c.stmt, c.cycle == n.cycle)
	}
	return cands
}

// portalCandidates is stmtCandidates for a portal. The caller holds mu.
func (n *names) portalCandidates(name string) []*portalEntry {
	cands := []*portalEntry{n.portals[name]}
	for _, c := range n.pending {
		if !c.portal || !(c.name == name || c.all) {
			continue
		}
		cands = step(cands, c.port, c.cycle == n.cycle)
	}
	return cands
}

// step applies one pending change to a name's possible states: certainly (a change of the
// current cycle), or maybe.
func step[E comparable](cands []E, next E, certain bool) []E {
	if certain {
		return append(cands[:0], next)
	}
	if !slices.Contains(cands, next) {
		cands = append(cands, next)
	}
	return cands
}

// stmt returns what statement name will most likely be when the message now being decided
// runs, if every change before it succeeds: for the record, never for a decision.
func (n *names) stmt(name string) *stmtEntry {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.stmts[name]
	for _, c := range n.pending {
		if !c.portal && (c.name == name || c.all && name != "") {
			e = c.stmt
		}
	}
	return e
}

// bindHeld spends the one run an approval gave statement name, when it may be a held one:
// it returns the review of a spent approval (the Bind is then refused), else "".
func (n *names) bindHeld(name string) (spent *heldUse) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.anyHeld {
		return nil
	}
	cands := n.stmtCandidates(name)
	for _, e := range cands {
		if e != nil && e.held != nil && e.held.used {
			return e.held
		}
	}
	for _, e := range cands {
		if e != nil && e.held != nil {
			e.held.used = true
		}
	}
	return nil
}

// portal returns what Execute of portal name runs, if every change before it succeeds,
// and whether it may be something else: a SQL cursor, or a portal the gateway did not see
// made (whose query it cannot tell). It is on every Execute's path: it allocates nothing.
func (n *names) portal(name string) (p *portalEntry, unsure bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var buf [8]*portalEntry
	cands := append(buf[:0], n.portals[name])
	p = cands[0]
	for _, c := range n.pending {
		if !c.portal || !(c.name == name || c.all) {
			continue
		}
		p = c.port
		certain := c.cycle == n.cycle
		if !certain && len(cands) == cap(buf) {
			return p, true // too many states to follow: fail closed
		}
		cands = step(cands, c.port, certain)
	}
	known := false
	for _, c := range cands {
		switch {
		case c == nil:
		case c.cursor || c.stmt == nil:
			unsure = true
		default:
			known = true
		}
	}
	return p, unsure || !known
}

// PreparedText implements NameTexts: the prepared statement as PostgreSQL has it, or as
// it will have it once what is pending succeeds.
func (n *names) PreparedText(name string) (string, bool) {
	e := n.stmt(name)
	if e == nil {
		return "", false
	}
	return e.sql, true
}

// CursorText implements NameTexts.
func (n *names) CursorText(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.portals[name]
	for _, c := range n.pending {
		if c.portal && (c.name == name || c.all) {
			p = c.port
		}
	}
	if p == nil || !p.cursor {
		return "", false
	}
	return p.sql, true
}

// Statement implements Names.
func (n *names) Statement(name string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var classes []string
	for _, e := range n.stmtCandidates(name) {
		if e != nil && e.decision.Class != "" {
			classes = append(classes, e.decision.Class)
		}
	}
	return classes
}

// Portal implements Names.
func (n *names) Portal(name string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var classes []string
	for _, p := range n.portalCandidates(name) {
		if p != nil && p.class != "" {
			classes = append(classes, p.class)
		}
	}
	return classes
}

// effectChanges turns what a statement's effects will do once it runs into pending
// changes; held is the approval that let the statement through, if any.
func (n *names) effectChanges(d Decision, held *heldUse) []*change {
	if len(d.Effects) == 0 {
		return nil
	}
	out := make([]*change, len(d.Effects))
	for i, ef := range d.Effects {
		c := &change{name: ef.Name, all: ef.All}
		switch ef.Kind {
		case EffectPrepare:
			dd := d
			dd.Class, dd.Effects = ef.Class, nil
			var h *heldUse
			if held != nil {
				h = &heldUse{review: held.review, sql: ef.SQL, used: true, prepared: true}
			}
			c.stmt = &stmtEntry{sql: ef.SQL, decision: dd, held: h}
		case EffectDeallocate:
		case EffectDeclare:
			c.portal = true
			c.port = &portalEntry{class: ef.Class, cursor: true, hold: ef.Hold, sql: ef.SQL}
		case EffectClose:
			c.portal = true
		}
		out[i] = n.propose(c)
	}
	return out
}
