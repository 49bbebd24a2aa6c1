package server

import (
	"context"
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
}

func (g *Gateway) newGate(id policy.Identity, connection string, log *slog.Logger) *sessionGate {
	return &sessionGate{g: g, id: id, connection: connection, log: log, prepared: make(map[string]policy.Class)}
}

// Query implements postgres.Gate.
func (sg *sessionGate) Query(sql string) error {
	stmts, err := sg.g.classifier.Classify(sql)
	if err != nil {
		sg.log.Error("statement analysis failed: refused", "err", err)
		return fmt.Errorf("the gateway could not analyse the statement, so it is refused: %w", err)
	}
	items := make([]policy.Statement, len(stmts))
	for i, st := range stmts {
		items[i] = policy.Statement{Text: st.Text, Class: st.Class, Always: st.Always}
		if st.Executes != "" {
			class, ok := sg.prepared[st.Executes]
			if !ok {
				class = policy.Admin // not prepared through this gateway: fail closed
			}
			items[i].Class = class
		}
	}
	p := sg.g.Policy()
	ev := p.Evaluate(sg.id, sg.connection, items)
	sg.logDecision(p, stmts, items, ev)
	switch ev.Decision {
	case policy.Deny:
		return &postgres.DeniedError{Reason: ev.Reason}
	case policy.Review:
		return &postgres.DeniedError{Reason: ev.Reason + "; this gateway cannot hold statements for approval yet, so it is refused"}
	}
	for i, st := range stmts {
		switch {
		case st.Prepares != "":
			sg.prepared[st.Prepares] = items[i].Class
		case st.Deallocates == "*":
			clear(sg.prepared)
		case st.Deallocates != "":
			delete(sg.prepared, st.Deallocates)
		}
	}
	return nil
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
