package cli

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/hoopgw/hoop/internal/yamlfile"
	"github.com/hoopgw/hoop/policy"
)

// newPolicyCmd is hoop policy: the policy-as-code tools. They work on local files and
// never call the gateway.
func newPolicyCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, test and explain policy files",
		Long: `Work with the gateway's policy files locally, before they are deployed:
check validates them, test runs policy unit tests, explain shows how a query
would be decided and why.`,
	}
	cmd.AddCommand(newPolicyCheckCmd(f), newPolicyTestCmd(f), newPolicyExplainCmd(f))
	for _, c := range cmd.Commands() {
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	return cmd
}

// PolicyCheckOptions are hoop policy check's.
type PolicyCheckOptions struct {
	Files  []string // policy files, loaded together: ["policy.yaml", "teams.yaml"]
	Config string   // gateway config whose connections the policy may name; "" to skip
}

func newPolicyCheckCmd(f *factory) *cobra.Command {
	opts := &PolicyCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check [--config gateway.yaml] FILE...",
		Short: "Validate policy files",
		Long: `Load policy files together, as the gateway does, and print every problem as
file:line: field: message. With --config, also report connections the gateway
config does not have. A group used only once that is close to another group's
name is reported as a likely typo. Exit 0 when the files are clean, 1 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return policyCheckRun(f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Config, "config", "", "gateway config (gateway.yaml) to check connection names against")
	return cmd
}

func policyCheckRun(f *factory, opts *PolicyCheckOptions) error {
	p, err := loadPolicy(f, opts.Files)
	if err != nil {
		return err
	}
	var problems []error
	if opts.Config != "" {
		conns, err := configConnections(opts.Config)
		if err != nil {
			return reportErrors(f, "policy check", err)
		}
		problems = append(problems, p.CheckReferences(conns)...)
	}
	problems = append(problems, p.GroupTypos()...)
	if len(problems) > 0 {
		// In file order, then line order, as Load reports its own errors.
		slices.SortStableFunc(problems, func(a, b error) int {
			var ea, eb *policy.Error
			errors.As(a, &ea)
			errors.As(b, &eb)
			return cmp.Or(cmp.Compare(slices.Index(p.Files, ea.File), slices.Index(p.Files, eb.File)),
				cmp.Compare(ea.Line, eb.Line))
		})
		return reportErrors(f, "policy check", errors.Join(problems...))
	}
	fmt.Fprintf(f.io.Out, "policy OK: %s, %s (version %s)\n", plural(len(p.Rules), "rule"), plural(len(p.Files), "file"), p.Version()[:12])
	return nil
}

// loadPolicy loads policy files; their problems are printed one per line.
func loadPolicy(f *factory, files []string) (*policy.Policy, error) {
	p, err := policy.Load(files...)
	if err != nil {
		return nil, reportErrors(f, "load policy", err)
	}
	return p, nil
}

// reportErrors prints each problem of a file:line error list (a policy.ErrorList, or
// several joined) on its own line, and returns an error that says how many there were.
// Any other error is returned as it is.
func reportErrors(f *factory, op string, err error) error {
	var list []error
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		list = e.Unwrap()
	default:
		return err
	}
	for _, e := range list {
		fmt.Fprintln(f.io.ErrOut, e)
	}
	if len(list) == 1 {
		return fmt.Errorf("%s: 1 problem", op)
	}
	return fmt.Errorf("%s: %d problems", op, len(list))
}

// configConnections reads the connection names of a gateway config. Only the names, not
// config.Load: the rest of the file (the issuer, database passwords) comes from variables
// a policy repository's CI does not have, and is hoopd's to validate. It also keeps the
// CLI from depending on the gateway's packages.
func configConnections(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	d := &yamlfile.Decoder{File: path}
	root := d.Document(data)
	var names []string
	if root != nil && d.Mapping(root, "") {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "connections" {
				continue
			}
			d.Items(root.Content[i+1], "connections", func(_ int, item *yaml.Node, path string) {
				if !d.Mapping(item, path) {
					return
				}
				for j := 0; j+1 < len(item.Content); j += 2 {
					if item.Content[j].Value != "name" {
						continue
					}
					if s, ok := d.Str(item.Content[j+1], path+".name"); ok && s != "" {
						names = append(names, s)
					}
				}
			})
		}
	}
	if len(d.Errs) > 0 {
		return nil, d.Errs
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read config %s: no connections", path)
	}
	return names, nil
}

// plural returns "1 rule", "2 rules".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
