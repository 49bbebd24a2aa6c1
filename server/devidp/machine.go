package devidp

import (
	"context"
	"crypto/subtle"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Machine is a confidential client that gets access tokens for itself with the
// client_credentials grant (RFC 6749 section 4.4), as a CI job would at an IdP that
// issues machine clients. Its access token is a signed JWT: iss the issuer, sub and
// client_id the machine's ID, aud [Audience], plus Claims.
type Machine struct {
	ID       string         // client id and the token's sub: "ci-bot"
	Secret   string         // client secret: "ci-bot-secret"
	Audience string         // the token's aud: "hoop"
	Claims   map[string]any // extra claims: {"groups": ["ci-deploy"]}
}

// reservedClaims are set by the provider; a Machine's Claims may not name them.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "azp"}

func checkMachines(list []Machine, publicID string, users map[string]User) (map[string]Machine, error) {
	machines := make(map[string]Machine, len(list))
	for i, m := range list {
		switch {
		case m.ID == "":
			return nil, fmt.Errorf("machine %d: %w: empty id", i, ErrBadMachine)
		case m.Secret == "":
			return nil, fmt.Errorf("machine %q: %w: empty secret", m.ID, ErrBadMachine)
		case m.Audience == "":
			return nil, fmt.Errorf("machine %q: %w: empty audience", m.ID, ErrBadMachine)
		case m.ID == publicID:
			return nil, fmt.Errorf("machine %q: %w: id is the CLI's client id", m.ID, ErrBadMachine)
		}
		if _, ok := users[m.ID]; ok {
			// sub would name a person: a token for the machine must not pass for theirs.
			return nil, fmt.Errorf("machine %q: %w: id is a user's name", m.ID, ErrBadMachine)
		}
		if _, dup := machines[m.ID]; dup {
			return nil, fmt.Errorf("machine %q: %w: id used twice", m.ID, ErrBadMachine)
		}
		for _, c := range reservedClaims {
			if _, ok := m.Claims[c]; ok {
				return nil, fmt.Errorf("machine %q: %w: claim %s is set by the provider", m.ID, ErrBadMachine, c)
			}
		}
		m.Claims = maps.Clone(m.Claims)
		machines[m.ID] = m
	}
	return machines, nil
}

// machineClient is a Machine as op sees it; it implements op.Client.
type machineClient struct{ m Machine }

var (
	_ op.Client                   = machineClient{}
	_ op.ClientCredentialsStorage = (*storage)(nil)
)

func (c machineClient) GetID() string                       { return c.m.ID }
func (c machineClient) RedirectURIs() []string              { return nil }
func (c machineClient) PostLogoutRedirectURIs() []string    { return nil }
func (c machineClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c machineClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c machineClient) ResponseTypes() []oidc.ResponseType  { return nil }
func (c machineClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c machineClient) LoginURL(string) string               { return "" }
func (c machineClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c machineClient) IDTokenLifetime() time.Duration       { return 0 }
func (c machineClient) DevMode() bool                        { return false }
func (c machineClient) IsScopeAllowed(string) bool           { return false }
func (c machineClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c machineClient) ClockSkew() time.Duration             { return 0 }
func (c machineClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c machineClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// machineRequest is a client_credentials token request; it implements op.TokenRequest.
type machineRequest struct {
	clientID string
	audience []string
	scopes   []string
}

func (r *machineRequest) GetSubject() string    { return r.clientID }
func (r *machineRequest) GetClientID() string   { return r.clientID }
func (r *machineRequest) GetAudience() []string { return r.audience }
func (r *machineRequest) GetScopes() []string   { return r.scopes }

// checkSecret compares in constant time, and compares even for an unknown client, so
// neither the answer nor its timing tells which client ids exist.
func (s *storage) checkSecret(id, secret string) (Machine, error) {
	m, ok := s.machines[id]
	want := m.Secret
	if !ok {
		want = "\x00no such client"
	}
	match := subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
	if !ok || !match {
		return Machine{}, oidc.ErrInvalidClient().WithDescription("invalid client id or secret")
	}
	return m, nil
}

// ClientCredentials authenticates a machine for the client_credentials grant. A refusal
// is an invalid_client error, since op's server interface would answer a plain error
// with a 500 (its handler wraps either in invalid_client).
func (s *storage) ClientCredentials(_ context.Context, clientID, clientSecret string) (op.Client, error) {
	m, err := s.checkSecret(clientID, clientSecret)
	if err != nil {
		return nil, err
	}
	return machineClient{m}, nil
}

// ClientCredentialsTokenRequest makes the request whose token has the machine's
// audience. Scopes are passed through: they grant nothing here.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	m, ok := s.machines[clientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("invalid client id or secret")
	}
	return &machineRequest{clientID: m.ID, audience: []string{m.Audience}, scopes: slices.Clone(scopes)}, nil
}
