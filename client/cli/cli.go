// Package cli is the hoop command line: thin cobra commands that parse flags into an
// options struct and call a function that does the work with injected I/O. Errors map to
// exit codes in one place (exitCode), so scripts can tell a denial from a login problem.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/debug"
	"github.com/hoopgw/hoop/tunnel"
)

// Exit codes, for scripts.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitDenied       = 3
	ExitReview       = 4
	ExitUnauthorized = 5
)

// IOStreams are the command's standard streams; tests use buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer // data
	ErrOut io.Writer // progress and status
}

// Env gives the command its environment (os.LookupEnv in production).
type Env func(string) (string, bool)

// Main runs hoop with the process's arguments and streams and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.LookupEnv)
}

// Run runs hoop with args and returns its exit code.
func Run(ctx context.Context, args []string, io IOStreams, env Env) int {
	f := &factory{io: io, env: env, http: http.DefaultClient}
	root := newRoot(f)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if code == ExitUsage {
		fmt.Fprintf(io.ErrOut, "hoop: %v\nRun 'hoop --help' for usage.\n", err)
	} else {
		fmt.Fprintf(io.ErrOut, "hoop: %v\n", err)
	}
	return code
}

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode maps an error to the exit code scripts see.
func exitCode(err error) int {
	var (
		ue *usageError
		ae *client.APIError
		he *tunnel.HTTPError
		ea *errAccess
		ee *execError
	)
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, auth.ErrNotLoggedIn):
		return ExitUnauthorized
	case errors.As(err, &ae):
		return statusExit(ae.StatusCode)
	case errors.As(err, &he):
		return statusExit(he.StatusCode)
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ea):
		if ea.denied {
			return ExitDenied
		}
		return ExitReview
	}
	return ExitError
}

func statusExit(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return ExitUnauthorized
	case http.StatusForbidden:
		return ExitDenied
	}
	return ExitError
}

func newRoot(f *factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "hoop",
		Short:         "hoop: reach databases through the hoop gateway",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `hoop connects you to databases through the hoop gateway: one browser login,
then psql, DBeaver or any client on a local port. Every statement is decided,
masked and recorded by the gateway.

The gateway URL comes from --gateway, else HOOP_GATEWAY, else what hoop login saved.
The token comes from HOOP_TOKEN, else the one hoop login saved.

Exit codes: 0 ok, 1 error, 2 usage, 3 denied by policy, 4 review pending,
5 not logged in or token rejected.`,
	}
	root.PersistentFlags().StringVar(&f.gatewayFlag, "gateway", "", "gateway URL, e.g. https://hoop.example.com")
	root.PersistentFlags().StringVar(&f.debugAddr, "debug-addr", "", "serve Go runtime profiles (pprof) on this loopback address")
	_ = root.PersistentFlags().MarkHidden("debug-addr")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f.debugAddr == "" {
			return nil
		}
		addr, err := debug.Serve(f.debugAddr)
		if err == nil {
			fmt.Fprintf(f.io.ErrOut, "hoop: runtime profiles at http://%s/debug/pprof/\n", addr)
		}
		return err
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(
		newLoginCmd(f),
		newLogoutCmd(f),
		newWhoamiCmd(f),
		newConnectionsCmd(f),
		newSessionsCmd(f),
		newAuditCmd(f),
		newConnectCmd(f),
		newApprovalsCmd(f),
		newExecCmd(f),
		newPolicyCmd(f),
		newVersionCmd(f),
	)
	for _, c := range root.Commands() {
		if c.Args == nil {
			c.Args = cobra.NoArgs
		}
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	return root
}

// Version is the CLI's version, set at build time.
var Version = "dev"

func newVersionCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hoop's version",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.io.Out, "hoop %s\n", Version)
			return nil
		},
	}
}
