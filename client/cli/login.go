package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
		Short: "Revoke and forget the tokens for a gateway",
		Long: `Log out of a gateway: revoke the refresh token at the identity provider, when it
offers a revocation endpoint (RFC 7009), and remove the tokens from this machine. The
tokens are removed even when the provider cannot be reached or cannot revoke; the message
says so, since the refresh token then stays valid at the provider until it expires.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			gw, err := f.gateway()
			if err != nil {
				return err
			}
			return logoutRun(cmd.Context(), f, gw)
		},
	}
}

// revokeTimeout bounds the revocation, so that an unreachable identity provider does
// not keep tokens on the machine of someone who wants them gone.
const revokeTimeout = 15 * time.Second

func logoutRun(ctx context.Context, f *factory, gw string) error {
	s, err := f.tokenStore()
	if err != nil {
		return err
	}
	var revoked string
	switch tok, err := s.Load(gw); {
	case errors.Is(err, auth.ErrNotLoggedIn):
		return err
	case err != nil:
		// A corrupted entry is still removed: logout is how one gets rid of it.
		revoked = fmt.Sprintf("the saved token could not be read (%v), so nothing was revoked", err)
	default:
		revoked = revokeRefresh(ctx, f, gw, tok)
	}
	if err := s.Delete(gw); err != nil {
		return err
	}
	fmt.Fprintf(f.io.ErrOut, "Logged out of %s: tokens removed from this machine; %s.\n", gw, revoked)
	return nil
}

// revokeRefresh revokes tok's refresh token and says what became of it.
func revokeRefresh(ctx context.Context, f *factory, gw string, tok *auth.Token) string {
	if tok.RefreshToken == "" {
		return "there was no refresh token to revoke"
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	// The client secret, for the providers that give a native client one, is the
	// gateway's to tell; a gateway that cannot be reached leaves it out.
	var secret string
	if info, err := auth.FetchInfo(ctx, f.http, gw); err == nil && info.Issuer == tok.Issuer {
		secret = info.ClientSecret
	}
	err := auth.Revoke(ctx, tok, secret, f.http)
	switch {
	case err == nil:
		return "the refresh token was revoked at the identity provider"
	case errors.Is(err, auth.ErrNoRevocation):
		return "the identity provider offers no revocation endpoint, so the refresh token could not be revoked: it stays valid there until it expires"
	default:
		return fmt.Sprintf("could not revoke the refresh token (%v): it stays valid at the identity provider until it expires", err)
	}
}
