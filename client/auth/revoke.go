package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrNoRevocation means the identity provider's discovery document names no
// revocation_endpoint, so a refresh token cannot be revoked there (RFC 7009): it stays
// valid until it expires, even once the CLI forgets it.
var ErrNoRevocation = errors.New("identity provider offers no token revocation endpoint")

// maxRevokeBody bounds what Revoke reads of an error response.
const maxRevokeBody = 64 << 10

// Revoke revokes tok's refresh token at the identity provider that issued it (RFC 7009),
// found by discovery at tok.Issuer: a POST of the token to the revocation_endpoint as
// tok.ClientID, with clientSecret in HTTP Basic when the client has one. A revoked
// refresh token gets no new ID token, so a copy left on disk or in a backup is worthless;
// the provider revokes the access tokens of the same grant too (RFC 7009 section 2.1).
// It returns ErrNoRevocation when the provider offers no endpoint, ErrNoRefreshToken when
// tok has no refresh token.
func Revoke(ctx context.Context, tok *Token, clientSecret string, client *http.Client) error {
	if tok == nil || tok.RefreshToken == "" {
		return fmt.Errorf("revoke: %w", ErrNoRefreshToken)
	}
	if tok.Issuer == "" || tok.ClientID == "" {
		return errors.New("revoke: the saved token names no issuer or client id")
	}
	client = httpClient(client)
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), tok.Issuer)
	if err != nil {
		return fmt.Errorf("revoke: discover %s: %w", tok.Issuer, err)
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return fmt.Errorf("revoke: discover %s: %w", tok.Issuer, err)
	}
	if meta.Revocation == "" {
		return fmt.Errorf("revoke: %s: %w", tok.Issuer, ErrNoRevocation)
	}
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if clientSecret == "" {
		// A public client names itself in the body (RFC 6749 section 2.3.1).
		form.Set("client_id", tok.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.Revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(tok.ClientID), url.QueryEscape(clientSecret))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevokeBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg := e.Error
		if e.Description != "" {
			msg += ": " + e.Description
		}
		return fmt.Errorf("revoke: %s answered %s: %s", meta.Revocation, resp.Status, msg)
	}
	return fmt.Errorf("revoke: %s answered %s", meta.Revocation, resp.Status)
}
