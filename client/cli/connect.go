package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
)

// ConnectOptions are hoop connect's.
type ConnectOptions struct {
	Connection string
	Port       int
}

func newConnectCmd(f *factory) *cobra.Command {
	opts := &ConnectOptions{}
	cmd := &cobra.Command{
		Use:   "connect NAME [--port N]",
		Short: "Open a local port to a connection through the gateway",
		Long: `Open a tunnel to the gateway for one connection and serve it on a local port
(127.0.0.1). Point psql, DBeaver, pgbench or any PostgreSQL client at it, with any
user name and no password: the gateway knows who you are. Ctrl-C closes it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Connection = args[0]
			if opts.Port < 0 || opts.Port > 65535 {
				return &usageError{fmt.Errorf("--port %d: want 0-65535", opts.Port)}
			}
			return connectRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Port, "port", "p", 0, "local port (default: a free one)")
	return cmd
}

func connectRun(ctx context.Context, f *factory, opts *ConnectOptions) error {
	var who api.Whoami
	gw, err := f.get(ctx, "/api/v1/whoami", &who)
	if err != nil {
		return err
	}
	user := who.Subject
	return client.Connect(ctx, client.ConnectOptions{
		Gateway:    gw,
		Connection: opts.Connection,
		Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		Token:      func(ctx context.Context) (string, time.Time, error) { return f.token(ctx, gw) },
		Status:     f.io.ErrOut,
		Ready: func(addr *net.TCPAddr) {
			url, kw := client.ConnString(addr, user, opts.Connection)
			fmt.Fprintf(f.io.ErrOut, "Connected to %s through %s as %s.\nListening on %s; connect with:\n", opts.Connection, gw, displayName(who), addr)
			fmt.Fprintf(f.io.Out, "psql \"%s\"\n%s\n", kw, url)
			fmt.Fprintln(f.io.ErrOut, "Press Ctrl-C to close.")
		},
	})
}
