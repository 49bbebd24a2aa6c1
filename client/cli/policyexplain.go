package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/wasm"
	"github.com/hoopgw/hoop/policy"
)

// PolicyExplainOptions are hoop policy explain's.
type PolicyExplainOptions struct {
	Policy     []string // policy files: ["policy.yaml"]
	Groups     []string // ["engineering"]
	Subject    string   // "00u1abcd"
	Email      string   // "ana@example.com"
	Connection string   // "db-prod"
	SQL        string   // "select * from customers; delete from orders"
	Output     string   // table or json
}

func newPolicyExplainCmd(f *factory) *cobra.Command {
	opts := &PolicyExplainOptions{}
	cmd := &cobra.Command{
		Use:   "explain --groups G[,G] --connection NAME --sql SQL [--policy FILE]...",
		Short: "Show how a query would be decided, and why",
		Long: `Classify a query as the gateway does and decide it for an identity on a
connection: the decision on the whole query, then each statement's class, kind,
tables, decision and the rule that decided. A query with a denied statement runs
none of it. The policy files default to ./policy.yaml.`,
		Example: `  hoop policy explain --groups engineering --connection db-prod \
    --sql "with d as (delete from orders returning *) select * from d"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(opts.Output); err != nil {
				return err
			}
			switch {
			case opts.Connection == "":
				return &usageError{fmt.Errorf("--connection is required")}
			case strings.TrimSpace(opts.SQL) == "":
				return &usageError{fmt.Errorf("--sql is required")}
			}
			return policyExplainRun(f, opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Policy, "policy", []string{"policy.yaml"}, "policy file (repeat for several)")
	cmd.Flags().StringSliceVar(&opts.Groups, "groups", nil, "the identity's groups, comma-separated")
	cmd.Flags().StringVar(&opts.Subject, "subject", "", "the identity's subject (the token's sub)")
	cmd.Flags().StringVar(&opts.Email, "email", "", "the identity's e-mail")
	cmd.Flags().StringVar(&opts.Connection, "connection", "", "the connection the query runs on")
	cmd.Flags().StringVar(&opts.SQL, "sql", "", "the query: one or more statements")
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

// explainJSON is hoop policy explain --output json.
type explainJSON struct {
	Decision   policy.Decision        `json:"decision"`
	Rule       string                 `json:"rule"`
	Reason     string                 `json:"reason"`
	Version    string                 `json:"policy_version"`
	Statements []explainStatementJSON `json:"statements"`
}

type explainStatementJSON struct {
	Text        string          `json:"text"`
	Class       policy.Class    `json:"class"`
	Always      bool            `json:"always"`
	Kind        string          `json:"kind"`
	Tables      []string        `json:"tables"`
	ClassReason string          `json:"class_reason,omitempty"`
	Decision    policy.Decision `json:"decision"`
	Rule        string          `json:"rule"`
	Reason      string          `json:"reason"`
}

func policyExplainRun(f *factory, opts *PolicyExplainOptions) error {
	p, err := loadPolicy(f, opts.Policy)
	if err != nil {
		return err
	}
	id := policy.Identity{Subject: opts.Subject, Email: opts.Email, Groups: opts.Groups}
	ev, err := evaluateSQL(p, newClassifier(), id, opts.Connection, opts.SQL)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		out := explainJSON{Decision: ev.Decision, Rule: ev.Rule, Reason: ev.Reason, Version: p.Version(),
			Statements: make([]explainStatementJSON, len(ev.stmts))}
		for i, s := range ev.stmts {
			v := ev.Statements[i]
			out.Statements[i] = explainStatementJSON{Text: s.Text, Class: s.Class, Always: s.Always, Kind: s.Kind,
				Tables: nonNil(s.Tables), ClassReason: s.Reason, Decision: v.Decision, Rule: v.Rule, Reason: v.Reason}
		}
		return writeJSON(f, out)
	}
	w := tabwriter.NewWriter(f.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "decision:\t%s\n", ev.Decision)
	fmt.Fprintf(w, "rule:\t%s\n", orDash(ev.Rule))
	fmt.Fprintf(w, "reason:\t%s\n", ev.Reason)
	fmt.Fprintf(w, "policy:\t%s\n", p.Version()[:12])
	for i, s := range ev.stmts {
		v := ev.Statements[i]
		class, why := classOf(s), s.Reason
		if s.Executes != "" {
			// The gateway gives it the class of the session's PREPARE, unknown here.
			why = "runs prepared statement " + s.Executes + ": the gateway uses the class of its PREPARE in an earlier query, unknown here"
		}
		if s.Fetches != "" {
			why = "runs more of cursor " + s.Fetches + ": the gateway uses the class of its DECLARE in an earlier query, unknown here"
		}
		if why != "" {
			class += " (" + why + ")"
		}
		fmt.Fprintf(w, "\nstatement %d:\t%s\n", i+1, oneLine(s.Text))
		fmt.Fprintf(w, "  class:\t%s\n", class)
		fmt.Fprintf(w, "  kind:\t%s\n", orDash(s.Kind))
		fmt.Fprintf(w, "  tables:\t%s\n", join(s.Tables))
		fmt.Fprintf(w, "  decision:\t%s\n", v.Decision)
		fmt.Fprintf(w, "  rule:\t%s\n", orDash(v.Rule))
		fmt.Fprintf(w, "  reason:\t%s\n", v.Reason)
	}
	return w.Flush()
}

// evaluation is a query classified and decided.
type evaluation struct {
	policy.Evaluation
	stmts []classify.Statement // as classified; Evaluation.Statements has their decisions
}

// newClassifier returns the CLI's classifier: the pure Go (WebAssembly) build of the
// PostgreSQL parser, so that the CLI needs no cgo, and the same classification as the
// gateway's.
func newClassifier() *classify.Classifier {
	return classify.New(wasm.Parse, 256)
}

// evaluateSQL classifies sql and decides it for id on connection, as the gateway does.
func evaluateSQL(p *policy.Policy, c *classify.Classifier, id policy.Identity, connection, sql string) (evaluation, error) {
	stmts, err := c.Classify(sql)
	if err != nil {
		return evaluation{}, fmt.Errorf("classify: %w", err)
	}
	items := make([]policy.Statement, len(stmts))
	// The CLI has no database catalog: built-in functions are known by name, and the
	// database's own are write unless the policy lists them under functions.read (the
	// gateway judges them by its catalog; see classify.Resolver).
	rv := classify.Resolver{
		Listed:     func(schema, name string) bool { return p.ReadFunction(connection, schema, name) },
		Extensions: func(name string) bool { return p.ReadExtension(connection, name) },
	}
	for i, s := range stmts {
		items[i] = policy.Statement{Text: s.Text, Class: s.Class, Always: s.Always, Kind: s.Kind, Why: s.Reason}
		if len(s.Refs) > 0 && !s.Always && s.Class != policy.Admin {
			if res := rv.Resolve(s.Refs); classRank(res.Class) > classRank(s.Class) {
				items[i].Class = res.Class
				stmts[i].Class, stmts[i].Reason = res.Class, res.Reason
			}
		}
	}
	return evaluation{Evaluation: p.Evaluate(id, connection, items), stmts: stmts}, nil
}

// classRank orders the classes: read < write < ddl < admin.
func classRank(c policy.Class) int {
	for i, k := range policy.Classes() {
		if k == c {
			return i
		}
	}
	return len(policy.Classes())
}

// classOf is a statement's class for people: "always" for transaction control and
// harmless settings.
func classOf(s classify.Statement) string {
	if s.Always {
		return "always"
	}
	return string(s.Class)
}

// oneLine collapses a statement's white space (newlines, indentation) for a one-line
// display.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
