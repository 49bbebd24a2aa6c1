package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/internal/yamlfile"
	"github.com/hoopgw/hoop/policy"
)

// PolicyTestOptions are hoop policy test's.
type PolicyTestOptions struct {
	File string // the test file: "policy_test.yaml"
}

func newPolicyTestCmd(f *factory) *cobra.Command {
	opts := &PolicyTestOptions{}
	cmd := &cobra.Command{
		Use:   "test FILE",
		Short: "Run policy unit tests",
		Long: `Run the test cases of a test file against policy files: each case's SQL is
classified and decided as the gateway would, and the decision (and, when the
case names one, the rule that decided) compared with what the case wants.

  policy: [policy.yaml]            # policy files, relative to the test file
  tests:
    - name: engineers may read prod
      groups: [engineering]          # and/or subject, email
      connection: db-prod
      sql: select * from customers
      want: allow                    # allow, review or deny
      rule: engineers-read-prod      # optional: the rule that must decide ("" for none)

Exit 0 when every case passes, 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			return policyTestRun(f, opts)
		},
	}
	return cmd
}

// policyTests is a test file.
type policyTests struct {
	Policy []string     // policy files, resolved against the test file's directory
	Tests  []policyCase // in file order
}

// policyCase is one test case.
type policyCase struct {
	Name       string          // "engineers may read prod"
	Identity   policy.Identity // subject, email, groups
	Connection string          // "db-prod"
	SQL        string          // "select * from customers"
	Want       policy.Decision // allow
	Rule       string          // "engineers-read-prod"
	HasRule    bool            // the case names a rule (possibly "", the default deny)
}

func policyTestRun(f *factory, opts *PolicyTestOptions) error {
	tf, err := readPolicyTests(opts.File)
	if err != nil {
		return reportErrors(f, "policy test", err)
	}
	p, err := loadPolicy(f, tf.Policy)
	if err != nil {
		return err
	}
	c := newClassifier()
	failed := 0
	for _, tc := range tf.Tests {
		msg := runPolicyCase(p, c, tc)
		if msg == "" {
			fmt.Fprintf(f.io.Out, "--- PASS: %s\n", tc.Name)
			continue
		}
		failed++
		fmt.Fprintf(f.io.Out, "--- FAIL: %s: %s\n", tc.Name, msg)
	}
	fmt.Fprintf(f.io.Out, "%d passed, %d failed\n", len(tf.Tests)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("policy test: %d of %d tests failed", failed, len(tf.Tests))
	}
	return nil
}

// runPolicyCase returns why tc fails, or "" when it passes.
func runPolicyCase(p *policy.Policy, c *classify.Classifier, tc policyCase) string {
	ev, err := evaluateSQL(p, c, tc.Identity, tc.Connection, tc.SQL)
	if err != nil {
		return err.Error()
	}
	if ev.Decision == tc.Want && (!tc.HasRule || ev.Rule == tc.Rule) {
		return ""
	}
	got, want := ev.Decision.String(), tc.Want.String()
	if tc.HasRule {
		got += byRule(ev.Rule)
		want += byRule(tc.Rule)
	}
	msg := fmt.Sprintf("got %s (%s), want %s", got, ev.Reason, want)
	if len(ev.Statements) > 1 {
		// Say which statements made the decision.
		for i, v := range ev.Statements {
			msg += fmt.Sprintf("\n    statement %d (%s): %s: %s", i+1, classOf(ev.stmts[i]), v.Decision, oneLine(ev.stmts[i].Text))
		}
	}
	return msg
}

func byRule(rule string) string {
	if rule == "" {
		return " by no rule"
	}
	return " by rule " + rule
}

// readPolicyTests reads and validates a test file; its problems are a yamlfile.ErrorList.
func readPolicyTests(path string) (*policyTests, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy tests: %w", err)
	}
	d := &yamlfile.Decoder{File: path}
	tf := &policyTests{}
	root := d.Document(data)
	if root == nil {
		if len(d.Errs) == 0 {
			d.Add(nil, "", "empty test file; want policy and tests")
		}
		return nil, d.Errs
	}
	dir := filepath.Dir(path)
	hasPolicy, hasTests := false, false
	d.Fields(root, "", map[string]func(*yaml.Node, string){
		"policy": func(v *yaml.Node, p string) {
			hasPolicy = true
			for _, file := range d.Strs(v, p) {
				if !filepath.IsAbs(file) {
					file = filepath.Join(dir, file)
				}
				tf.Policy = append(tf.Policy, file)
			}
			if len(tf.Policy) == 0 && !d.HasErr(p) {
				d.Add(yamlfile.Resolve(v), p, "want at least one policy file")
			}
		},
		"tests": func(v *yaml.Node, p string) {
			hasTests = true
			names := map[string]int{}
			d.Items(v, p, func(_ int, item *yaml.Node, p string) {
				tc, ok := readPolicyCase(d, item, p)
				if line, dup := names[tc.Name]; dup {
					d.Add(item, p+".name", fmt.Sprintf("duplicate test name %q (first at line %d)", tc.Name, line))
					return
				} else if tc.Name != "" {
					names[tc.Name] = item.Line
				}
				if ok {
					tf.Tests = append(tf.Tests, tc)
				}
			})
			if len(tf.Tests) == 0 && !d.HasErr(p) {
				d.Add(yamlfile.Resolve(v), p, "want at least one test")
			}
		},
	})
	if root.Kind == yaml.MappingNode {
		if !hasPolicy {
			d.Add(root, "policy", "required (the policy files to test, such as [policy.yaml])")
		}
		if !hasTests {
			d.Add(root, "tests", "required (a list of test cases)")
		}
	}
	if len(d.Errs) > 0 {
		slices.SortStableFunc(d.Errs, func(a, b *yamlfile.Error) int { return a.Line - b.Line })
		return nil, d.Errs
	}
	return tf, nil
}

// readPolicyCase reads one test case; ok is false when it has a problem.
func readPolicyCase(d *yamlfile.Decoder, n *yaml.Node, path string) (tc policyCase, ok bool) {
	before := len(d.Errs)
	if !d.Mapping(n, path) {
		return tc, false
	}
	hasWant := false
	str := func(dst *string) func(*yaml.Node, string) {
		return func(v *yaml.Node, p string) { *dst, _ = d.Str(v, p) }
	}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":       str(&tc.Name),
		"subject":    str(&tc.Identity.Subject),
		"email":      str(&tc.Identity.Email),
		"groups":     func(v *yaml.Node, p string) { tc.Identity.Groups = d.Strs(v, p) },
		"connection": str(&tc.Connection),
		"sql":        str(&tc.SQL),
		"want": func(v *yaml.Node, p string) {
			s, ok := d.Str(v, p)
			if !ok {
				return
			}
			hasWant = true
			var err error
			if tc.Want, err = policy.ParseDecision(s); err != nil {
				d.Add(yamlfile.Resolve(v), p, err.Error())
			}
		},
		"rule": func(v *yaml.Node, p string) {
			tc.HasRule = true
			tc.Rule, _ = d.Str(v, p)
		},
	})
	need := func(field string, ok bool, msg string) {
		p := yamlfile.Join(path, field)
		if !ok && !d.HasErr(p) {
			d.Add(n, p, msg)
		}
	}
	need("name", tc.Name != "", "required")
	need("connection", tc.Connection != "", "required (such as db-prod)")
	need("sql", strings.TrimSpace(tc.SQL) != "", "required (the query to decide)")
	need("want", hasWant, "required (allow, review or deny)")
	return tc, len(d.Errs) == before
}
