package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/client/auth"
)

// LoginOptions are hoop login's.
type LoginOptions struct {
	Gateway string
	Device  bool
}

func newLoginCmd(f *factory) *cobra.Command {
	opts := &LoginOptions{}
	cmd := &cobra.Command{
		Use:   "login [--gateway URL] [--device]",
		Short: "Log in to a gateway with your identity provider",
		Long: `Log in to a gateway. hoop asks the gateway which identity provider it trusts, opens
your browser there (the URL is printed too) and keeps the tokens in the OS keyring, or in
a 0600 file where no keyring is reachable. --device uses the device-code flow, for a
machine with no browser: open the printed URL anywhere and type the code.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			gw, err := f.gateway()
			if err != nil {
				return err
			}
			opts.Gateway = gw
			return loginRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Device, "device", false, "use the device-code flow (no browser on this machine)")
	return cmd
}

func loginRun(ctx context.Context, f *factory, opts *LoginOptions) error {
	info, err := auth.FetchInfo(ctx, f.http, opts.Gateway)
	if err != nil {
		return err
	}
	lo := auth.Options{Out: f.io.ErrOut, HTTPClient: f.http}
	var tok *auth.Token
	if opts.Device {
		tok, err = auth.LoginDevice(ctx, info, lo)
	} else {
		tok, err = auth.LoginBrowser(ctx, info, lo)
	}
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	tok.Gateway = opts.Gateway
	var who api.Whoami
	if err := client.Get(ctx, f.http, opts.Gateway, "/api/v1/whoami", tok.IDToken, &who); err != nil {
		return fmt.Errorf("login: the gateway refused the new token: %w", err)
	}
	s, err := f.tokenStore()
	if err != nil {
		return err
	}
	if err := s.Save(tok); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if err := s.SaveGateway(opts.Gateway); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Fprintf(f.io.ErrOut, "Logged in to %s as %s (groups: %s).\n", opts.Gateway, displayName(who), groups(who.Groups))
	return nil
}

func displayName(w api.Whoami) string {
	if w.Email != "" {
		return w.Email
	}
	return w.Subject
}

func groups(g []string) string {
	if len(g) == 0 {
		return "none"
	}
	return strings.Join(g, ", ")
}

func newLogoutCmd(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the tokens for a gateway",
		RunE: func(cmd *cobra.Command, args []string) error {
			gw, err := f.gateway()
			if err != nil {
				return err
			}
			s, err := f.tokenStore()
			if err != nil {
				return err
			}
			if err := s.Delete(gw); err != nil {
				return err
			}
			fmt.Fprintf(f.io.ErrOut, "Logged out of %s.\n", gw)
			return nil
		},
	}
}
