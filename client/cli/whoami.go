package cli

import (
	"context"
	"encoding/json"
	"fmt"
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

func newWhoamiCmd(f *factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the gateway thinks you are",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return whoamiRun(cmd.Context(), f, output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func whoamiRun(ctx context.Context, f *factory, output string) error {
	gw, err := f.gateway()
	if err != nil {
		return err
	}
	tok, _, err := f.token(ctx, gw)
	if err != nil {
		return err
	}
	var who api.Whoami
	if err := client.Get(ctx, f.http, gw, "/api/v1/whoami", tok, &who); err != nil {
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
	var output string
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "List the connections you may reach, and how",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return connectionsRun(cmd.Context(), f, output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func connectionsRun(ctx context.Context, f *factory, output string) error {
	gw, err := f.gateway()
	if err != nil {
		return err
	}
	tok, _, err := f.token(ctx, gw)
	if err != nil {
		return err
	}
	var conns []api.Connection
	if err := client.Get(ctx, f.http, gw, "/api/v1/connections", tok, &conns); err != nil {
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
	out := s[0]
	for _, x := range s[1:] {
		out += "," + x
	}
	return out
}
