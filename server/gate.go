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
// each statement. It remembers SQL-level PREPARE names so that EXECUTE gets the class of
// the statement it runs.
type sessionGate struct {
	g          *Gateway
	id         policy.Identity
	connection string
	log        *slog.Logger
	prepared   map[string]policy.Class // "get_user" → read

	// For the record: the last decision, and the decision of each extended-protocol
	// statement ("" the unnamed one), which its Executes run under.
	last   decided
	parsed map[string]decided

	// functions is the snapshot of the connection's catalog by which calls of the
	// database's own functions are classed; changed is the first statement of this session
	// that may have changed it ("CREATE FUNCTION"), after which they are all write.
	functions *funcCatalog
	changed   string
}

// decided is how a statement was decided, for its record.
type decided struct {
	class, decision, rule, version string
}

func (g *Gateway) newGate(id policy.Identity, connection string, log *slog.Logger) *sessionGate {
	return &sessionGate{g: g, id: id, connection: connection, log: log, prepared: make(map[string]policy.Class), parsed: make(map[string]decided),
		functions: g.functions[connection]}
}

// Parse implements postgres.Gate: a named statement is recorded, like PREPARE, for a
// later SQL-level EXECUTE of the same name.
func (sg *sessionGate) Parse(name, sql string) error {
	class, err := sg.decide(sql)
	if rr := (*postgres.ReviewRequired)(nil); err == nil || errors.As(err, &rr) {
		// A held statement runs under this decision once approved.
		sg.parsed[name] = sg.last
		if name != "" {
			sg.record(name, class)
		}
	}
	return err
}

// Close implements postgres.Gate.
func (sg *sessionGate) Close(name string) {
	delete(sg.prepared, name)
	delete(sg.parsed, name)
}

// record remembers the class of the statement prepared under name. When the name is
// taken, PostgreSQL refuses the new statement and keeps the old one, so the higher of the
// two classes is kept: an EXECUTE is never decided below what it may run.
func (sg *sessionGate) record(name string, class policy.Class) {
	if old, ok := sg.prepared[name]; ok && rank(old) > rank(class) {
		class = old
	}
	sg.prepared[name] = class
}

func rank(c policy.Class) int {
	for i, k := range policy.Classes() {
		if k == c {
			return i
		}
	}
	return len(policy.Classes()) // unknown: above all
}

// Query implements postgres.Gate.
func (sg *sessionGate) Query(sql string) error {
	_, err := sg.decide(sql)
	return err
}

// decide classifies and decides sql; it returns the highest class of its statements.
func (sg *sessionGate) decide(sql string) (policy.Class, error) {
	stmts, err := sg.g.classifier.Classify(sql)
	if err != nil {
		sg.last = decided{class: string(policy.Admin), decision: policy.Deny.String(), version: sg.g.Policy().Version()}
		sg.log.Error("statement analysis failed: refused", "err", err)
		return "", fmt.Errorf("the gateway could not analyse the statement, so it is refused: %w", err)
	}
	items := make([]policy.Statement, len(stmts))
	p := sg.g.Policy()
	changed := sg.changed
	ddl := false                       // a statement may change the catalog
	whys := make([]string, len(stmts)) // why the catalog raised a statement's class
	for i, st := range stmts {
		items[i] = policy.Statement{Text: st.Text, Class: st.Class, Always: st.Always}
		if st.Executes != "" {
			class, ok := sg.prepared[st.Executes]
			if !ok {
				class = policy.Admin // not prepared through this gateway: fail closed
			}
			items[i].Class = class
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
	sg.logDecision(p, stmts, items, ev)
	sg.last = decided{class: string(topClass(items)), decision: ev.Decision.String(), rule: ev.Rule, version: p.Version()}
	if ev.Decision == policy.Deny {
		return "", &postgres.DeniedError{Reason: ev.Reason}
	}
	top := policy.Read
	for i, st := range stmts {
		if rank(items[i].Class) > rank(top) && !items[i].Always {
			top = items[i].Class
		}
		switch {
		case st.Prepares != "":
			sg.record(st.Prepares, items[i].Class)
		case st.Deallocates == "*":
			clear(sg.prepared)
		case st.Deallocates != "":
			delete(sg.prepared, st.Deallocates)
		}
	}
	if ev.Decision == policy.Review {
		return top, &postgres.ReviewRequired{Reason: ev.Reason}
	}
	return top, nil
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

// logDecision logs one query's decision with the policy version that made it.
func (sg *sessionGate) logDecision(p *policy.Policy, stmts []classify.Statement, items []policy.Statement, ev policy.Evaluation) {
	if len(stmts) == 0 {
		return
	}
	classes := make([]string, len(items))
	for i, it := range items {
		classes[i] = string(it.Class)
		if it.Always {
			classes[i] = "always"
		}
	}
	level := slog.LevelInfo
	if ev.Decision != policy.Allow {
		level = slog.LevelWarn
	}
	sg.log.Log(context.Background(), level, "statement decided",
		"decision", ev.Decision.String(),
		"rule", ev.Rule,
		"classes", strings.Join(classes, ","),
		"policy_version", short(p.Version()),
		"sql", truncate(stmts[0].Text, 200),
		"statements", len(stmts),
		"reason", ev.Reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
