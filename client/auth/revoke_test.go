package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testissuer"
)

// TestLogoutRevocation: logging out revokes the refresh token at the real dev identity
// provider over HTTP (RFC 7009), so a copy of it left behind gets no new ID token. Another
// login's refresh token, not revoked, still refreshes: the refusal is the revocation's
// doing, not the provider's.
func TestLogoutRevocation(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := browserLogin(t, ctx, e, &out)
	other := deviceLogin(t, ctx, e, &out)

	if err := auth.Revoke(ctx, tok, "", nil); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	_, err := auth.Refresh(ctx, e.info, tok, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("Refresh with the revoked refresh token: got %v, want invalid_grant", err)
	}
	if _, err := auth.Refresh(ctx, e.info, other, nil); err != nil {
		t.Fatalf("Refresh with another login's refresh token: %v", err)
	}
	// Revoking again is not an error: the token is unknown now (RFC 7009 section 2.2).
	if err := auth.Revoke(ctx, tok, "", nil); err != nil {
		t.Errorf("Revoke again: %v", err)
	}
}

// TestLogoutRevocationRefused: a client that did not get the token cannot revoke it, and
// says what the provider answered; the token still refreshes.
func TestLogoutRevocationRefused(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := deviceLogin(t, ctx, e, &out)
	stranger := *tok
	stranger.ClientID = "someone-else"
	err := auth.Revoke(ctx, &stranger, "", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("Revoke as another client: got %v, want invalid_client", err)
	}
	if _, err := auth.Refresh(ctx, e.info, tok, nil); err != nil {
		t.Fatalf("Refresh after a refused revocation: %v", err)
	}
}

// TestLogoutRevocationUnsupported: an identity provider whose discovery names no
// revocation_endpoint gets no request; the caller learns it could not revoke.
func TestLogoutRevocationUnsupported(t *testing.T) {
	is := testissuer.New(t)
	ctx := testContext(t)
	tok := &auth.Token{Issuer: is.URL(), ClientID: "hoop-cli", IDToken: "x", RefreshToken: "r-1"}
	if err := auth.Revoke(ctx, tok, "", nil); !errors.Is(err, auth.ErrNoRevocation) {
		t.Fatalf("Revoke: got %v, want ErrNoRevocation", err)
	}
	if err := auth.Revoke(ctx, &auth.Token{Issuer: is.URL(), ClientID: "hoop-cli"}, "", nil); !errors.Is(err, auth.ErrNoRefreshToken) {
		t.Fatalf("Revoke without a refresh token: got %v, want ErrNoRefreshToken", err)
	}
}
