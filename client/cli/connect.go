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
	Duration   time.Duration // with Reason: ask for just-in-time access first
	Reason     string
}

func newConnectCmd(f *factory) *cobra.Command {
	opts := &ConnectOptions{}
	cmd := &cobra.Command{
		Use:   "connect NAME [--port N] [--duration D --reason R]",
		Short: "Open a local port to a connection through the gateway",
		Long: `Open a tunnel to the gateway for one connection and serve it on a local port
(127.0.0.1). Point psql, DBeaver, pgbench or any PostgreSQL client at it, with any
user name and no password: the gateway knows who you are. Ctrl-C closes it.

With --duration (and --reason), first ask for time-boxed access under one of the
policy's jit rules, wait until an approver decides, then connect; the tunnel ends
when the access does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Connection = args[0]
			if opts.Port < 0 || opts.Port > 65535 {
				return &usageError{fmt.Errorf("--port %d: want 0-65535", opts.Port)}
			}
			if opts.Duration < 0 || (opts.Reason != "" && opts.Duration == 0) {
				return &usageError{fmt.Errorf("--reason goes with --duration: the time-boxed access asked for, such as --duration 1h")}
			}
			return connectRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Port, "port", "p", 0, "local port (default: a free one)")
	cmd.Flags().DurationVar(&opts.Duration, "duration", 0, "ask for just-in-time access for this long (an approver must agree), e.g. 1h")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why you ask for access: shown to the approvers, e.g. \"INC-123\"")
	return cmd
}

func connectRun(ctx context.Context, f *factory, opts *ConnectOptions) error {
	var who api.Whoami
	gw, err := f.get(ctx, "/api/v1/whoami", &who)
	if err != nil {
		return err
	}
	user := who.Subject
	if opts.Duration > 0 {
		if err := requestAccess(ctx, f, gw, opts); err != nil {
			return err
		}
	}
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

// errAccess is a just-in-time request that ended without access: denied (exit 3) or
// expired or withdrawn (exit 4).
type errAccess struct {
	msg    string
	denied bool
}

func (e *errAccess) Error() string { return e.msg }

// requestAccess asks for time-boxed access and waits for the approvers' decision.
func requestAccess(ctx context.Context, f *factory, gw string, opts *ConnectOptions) error {
	tok, _, err := f.token(ctx, gw)
	if err != nil {
		return err
	}
	var rv api.Review
	req := api.AccessRequest{Connection: opts.Connection, Duration: opts.Duration.String(), Reason: opts.Reason}
	if err := client.Call(ctx, f.http, "POST", gw, "/api/v1/access", tok, req, &rv); err != nil {
		return err
	}
	fmt.Fprintf(f.io.ErrOut, "Asked for %s of access to %s (review %s, rule %s): %s\nWaiting for an approver (Ctrl-C gives up)…\n",
		opts.Duration, opts.Connection, rv.ID, rv.Rule, rv.URL)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for rv.State == api.ReviewPending {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if tok, _, err = f.token(ctx, gw); err != nil {
			return err
		}
		if err := client.Get(ctx, f.http, gw, "/api/v1/reviews/"+rv.ID, tok, &rv); err != nil {
			return err
		}
	}
	switch rv.State {
	case api.ReviewApproved:
		fmt.Fprintf(f.io.ErrOut, "Access to %s approved for %s.\n", opts.Connection, rv.Duration)
		return nil
	case api.ReviewDenied:
		who, why := "", ""
		if rv.Denial != nil {
			who, why = rv.Denial.By, rv.Denial.Reason
		}
		return &errAccess{msg: fmt.Sprintf("access to %s was denied by %s: %s", opts.Connection, who, why), denied: true}
	}
	return &errAccess{msg: fmt.Sprintf("access request %s %s", rv.ID, rv.State)}
}
