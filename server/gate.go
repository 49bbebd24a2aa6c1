package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/postgres"
)

// sessionGate decides the statements of one database session with the policy in force at
// each statement. It keeps no state about prepared statements or cursors: the engine
// follows them from the database's answers and passes its view in (postgres.Names), so
// that EXECUTE and FETCH get the class of what they run.
type sessionGate struct {
	g          *Gateway
	id         policy.Identity
	connection string
	log        *slog.Logger
	// masker masks what the gate logs of a statement by the rules that mask the session's
	// record; nil when none do.
	masker *sessionMasker

	// functions is the snapshot of the connection's catalog by which calls of the
	// database's own functions are classed; changed is the first statement of this session
	// that may have changed it ("CREATE FUNCTION"), after which they are all write.
	functions *funcCatalog
	changed   string
}

func (g *Gateway) newGate(id policy.Identity, connection string, log *slog.Logger) *sessionGate {
	return &sessionGate{g: g, id: id, connection: connection, log: log, functions: g.functions[connection]}
}

// Parse implements postgres.Gate.
func (sg *sessionGate) Parse(sql string, names postgres.Names) (postgres.Decision, error) {
	return sg.decide(sql, names)
}

// Query implements postgres.Gate.
func (sg *sessionGate) Query(sql string, names postgres.Names) (postgres.Decision, error) {
	return sg.decide(sql, names)
}

func rank(c policy.Class) int {
	for i, k := range policy.Classes() {
		if k == c {
			return i
		}
	}
	return len(policy.Classes()) // unknown: above all
}

// highest is the highest of the classes a name may have; admin when there are none: a
// name the gateway does not know runs what it cannot tell (fail closed).
func highest(classes []string) policy.Class {
	if len(classes) == 0 {
		return policy.Admin
	}
	top := policy.Class(classes[0])
	for _, c := range classes[1:] {
		if rank(policy.Class(c)) > rank(top) {
			top = policy.Class(c)
		}
	}
	return top
}

// decide classifies and decides sql. The statements of a text run in order, each only if
// the ones before it succeeded, so an EXECUTE or FETCH sees what the text's own earlier
// PREPARE, DECLARE, DEALLOCATE and CLOSE did.
func (sg *sessionGate) decide(sql string, names postgres.Names) (postgres.Decision, error) {
	stmts, err := sg.g.classifier.Classify(sql)
	if errors.Is(err, classify.ErrTooComplex) {
		// Fail closed whatever the policy grants: what the gateway cannot read, it cannot
		// decide. The user can act on it; it is not the gateway failing.
		sg.log.Warn("statement too complex to analyse: refused", "err", err, "bytes", len(sql))
		return postgres.Decision{Class: string(policy.Admin), Verdict: policy.Deny.String(), PolicyVersion: sg.g.Policy().Version()}, postgres.TooComplex(err.Error() + "; it is refused: split it, or write long chains of operators and deep nesting another way (an IN list, an array, a join)")
	}
	if err != nil {
		sg.log.Error("statement analysis failed: refused", "err", maskText(sg.masker, err.Error()))
		return postgres.Decision{Class: string(policy.Admin), Verdict: policy.Deny.String(), PolicyVersion: sg.g.Policy().Version()},
			fmt.Errorf("the gateway could not analyse the statement, so it is refused: %w", err)
	}
	items := make([]policy.Statement, len(stmts))
	var effects []postgres.Effect
	p := sg.g.Policy()
	changed := sg.changed
	ddl := false                       // a statement may change the catalog
	whys := make([]string, len(stmts)) // why the catalog raised a statement's class
	for i, st := range stmts {
		items[i] = policy.Statement{Text: st.Text, Class: st.Class, Always: st.Always, Kind: st.Kind, Why: st.Reason}
		switch {
		case st.Executes != "":
			items[i].Class = highest(lookup(effects, i, st.Executes, false, names.Statement))
		case st.Fetches != "":
			items[i].Class = highest(lookup(effects, i, st.Fetches, true, names.Portal))
		}
		if len(st.Refs) > 0 && !st.Always && items[i].Class != policy.Admin {
			res := sg.resolve(p, changed, st.Refs)
			if rank(res.Class) > rank(items[i].Class) {
				items[i].Class, whys[i] = res.Class, res.Reason
			}
		}
		if changesCatalog(st, items[i].Class) {
			// What it changes may be uncommitted, which the snapshot, read on another
			// connection, cannot see: the statements after it are judged as changed.
			ddl = true
			if changed == "" {
				changed = st.Kind
			}
		}
		effects = appendEffects(effects, i, st, items[i].Class)
	}
	ev := p.Evaluate(sg.id, sg.connection, items)
	if why := catalogWhy(ev, whys); why != "" {
		ev.Reason += "; " + why
	}
	if ev.Decision != policy.Deny && ddl {
		sg.changed = changed
		if sg.functions != nil {
			sg.functions.invalidate()
		}
	}
	sg.logDecision(p, sql, stmts, items, ev)
	d := postgres.Decision{Class: string(topClass(items)), Verdict: ev.Decision.String(), Rule: ev.Rule, PolicyVersion: p.Version()}
	if ev.Decision == policy.Deny {
		return d, &postgres.DeniedError{Reason: ev.Reason}
	}
	d.Effects = effects
	if ev.Decision == policy.Review {
		return d, &postgres.ReviewRequired{Reason: ev.Reason}
	}
	return d, nil
}

// appendEffects adds what statement i, st, does to prepared statements and cursors; class
// is its class, which is that of what a PREPARE prepares or a DECLARE declares.
func appendEffects(effects []postgres.Effect, i int, st classify.Statement, class policy.Class) []postgres.Effect {
	switch {
	case st.Prepares != "":
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectPrepare, Name: st.Prepares, Class: string(class), SQL: st.Text})
	case st.Deallocates != "":
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectDeallocate, Name: st.Deallocates})
	case st.Declares != "":
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectDeclare, Name: st.Declares, Class: string(class), Hold: st.Hold, SQL: st.Text})
	case st.Closes != "":
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectClose, Name: st.Closes})
	}
	if st.DeallocatesAll {
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectDeallocate, All: true})
	}
	if st.ClosesAll {
		effects = append(effects, postgres.Effect{Stmt: i, Kind: postgres.EffectClose, All: true})
	}
	return effects
}

// lookup returns the classes name may have when statement i of a text runs: from the
// text's own earlier statements that named it, else from the engine's view.
func lookup(effects []postgres.Effect, i int, name string, portal bool, view func(string) []string) []string {
	for j := len(effects) - 1; j >= 0; j-- {
		ef := effects[j]
		if isPortal := ef.Kind == postgres.EffectDeclare || ef.Kind == postgres.EffectClose; isPortal != portal || ef.Stmt >= i {
			continue
		}
		switch {
		case ef.All && (portal || name != ""), ef.Name == name && (ef.Kind == postgres.EffectDeallocate || ef.Kind == postgres.EffectClose):
			return nil // dropped earlier in the text: not there
		case ef.Name == name:
			return []string{ef.Class} // prepared or declared earlier in the text

		}
	}
	return view(name)
}

// resolve judges the functions, operators, casts and relations a statement uses by the
// connection's catalog, read again once when it names a function the catalog does not know.
func (sg *sessionGate) resolve(p *policy.Policy, changed string, refs []classify.Ref) classify.Resolution {
	rv := classify.Resolver{
		Listed:     func(schema, name string) bool { return p.ReadFunction(sg.connection, schema, name) },
		Extensions: func(name string) bool { return p.ReadExtension(sg.connection, name) },
		Changed:    changed,
	}
	if sg.functions == nil {
		rv.Catalog = classify.Unavailable("because the gateway has no login to read the catalog of " + sg.connection)
		return rv.Resolve(refs)
	}
	rv.Catalog = sg.functions.get()
	res := rv.Resolve(refs)
	if res.Unknown {
		rv.Catalog = sg.functions.miss()
		res = rv.Resolve(refs)
	}
	return res
}

// catalogWhy is why the catalog raised the class of the statement whose decision is the
// query's, for the message the client gets: "function public.touch_canary() is VOLATILE; ...".
func catalogWhy(ev policy.Evaluation, whys []string) string {
	for i, v := range ev.Statements {
		if whys[i] != "" && v.Decision == ev.Decision {
			return whys[i]
		}
	}
	return ""
}

// topClass is the highest class among a query's statements, for its record.
func topClass(items []policy.Statement) policy.Class {
	var top policy.Class
	for _, it := range items {
		if top == "" || rank(it.Class) > rank(top) {
			top = it.Class
		}
	}
	return top
}

// logDecision logs one query's decision with the policy version that made it. The text is
// masked as the session's record masks it, before it is cut short, so that a cut never
// leaves part of a value the detectors would have found whole.
func (sg *sessionGate) logDecision(p *policy.Policy, sql string, stmts []classify.Statement, items []policy.Statement, ev policy.Evaluation) {
	level := slog.LevelInfo
	if ev.Decision != policy.Allow {
		level = slog.LevelWarn
	}
	if len(stmts) == 0 || !sg.log.Enabled(context.Background(), level) {
		return // masking the text for a line nobody keeps is work on the hot path
	}
	classes := make([]string, len(items))
	for i, it := range items {
		classes[i] = string(it.Class)
		if it.Always {
			classes[i] = "always"
		}
	}
	sg.log.Log(context.Background(), level, "statement decided",
		"decision", ev.Decision.String(),
		"rule", ev.Rule,
		"classes", strings.Join(classes, ","),
		"policy_version", short(p.Version()),
		"sql", truncate(strings.TrimSpace(sg.masker.statement(sql)), 200),
		"statements", len(stmts),
		"reason", maskText(sg.masker, ev.Reason))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
