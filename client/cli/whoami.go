package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
)

// output formats of commands that print data.
func addOutputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "table", "output format: table or json")
}

func checkOutput(out string) error {
	if out != "table" && out != "json" {
		return &usageError{fmt.Errorf("--output %q: want table or json", out)}
	}
	return nil
}

func writeJSON(f *factory, v any) error {
	enc := json.NewEncoder(f.io.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newOutputCmd is a command that prints data as a table or as JSON.
func newOutputCmd(use, short string, run func(ctx context.Context, f *factory, output string) error, f *factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return run(cmd.Context(), f, output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// get calls the gateway's API as the logged-in identity; it returns the gateway's URL.
func (f *factory) get(ctx context.Context, path string, out any) (string, error) {
	return f.call(ctx, http.MethodGet, path, nil, out)
}

// call calls method {gateway}{path} as the logged-in identity with in as its JSON body
// (none when nil), and decodes the answer into out; it returns the gateway's URL.
func (f *factory) call(ctx context.Context, method, path string, in, out any) (string, error) {
	gw, err := f.gateway()
	if err != nil {
		return "", err
	}
	tok, _, err := f.token(ctx, gw)
	if err != nil {
		return "", err
	}
	return gw, client.Call(ctx, f.http, method, gw, path, tok, in, out)
}

func newWhoamiCmd(f *factory) *cobra.Command {
	return newOutputCmd("whoami", "Show who the gateway thinks you are", whoamiRun, f)
}

func whoamiRun(ctx context.Context, f *factory, output string) error {
	var who api.Whoami
	gw, err := f.get(ctx, "/api/v1/whoami", &who)
	if err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(f, who)
	}
	w := tabwriter.NewWriter(f.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "gateway:\t%s\n", gw)
	fmt.Fprintf(w, "subject:\t%s\n", who.Subject)
	if who.Email != "" {
		fmt.Fprintf(w, "email:\t%s\n", who.Email)
	}
	fmt.Fprintf(w, "groups:\t%s\n", groups(who.Groups))
	fmt.Fprintf(w, "issuer:\t%s\n", who.Issuer)
	fmt.Fprintf(w, "expires:\t%s (in %s)\n", who.Expiry.Local().Format(time.RFC3339), time.Until(who.Expiry).Round(time.Second))
	return w.Flush()
}

func newConnectionsCmd(f *factory) *cobra.Command {
	return newOutputCmd("connections", "List the connections you may reach, and how", connectionsRun, f)
}

func connectionsRun(ctx context.Context, f *factory, output string) error {
	var conns []api.Connection
	if _, err := f.get(ctx, "/api/v1/connections", &conns); err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(f, conns)
	}
	if len(conns) == 0 {
		fmt.Fprintln(f.io.ErrOut, "No connections: no policy rule grants you any.")
		return nil
	}
	w := tabwriter.NewWriter(f.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tACCESS\tRULES")
	for _, c := range conns {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.Type, join(c.Access), join(c.Rules))
	}
	return w.Flush()
}

func join(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
