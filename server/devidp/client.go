package devidp

import (
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is the CLI's public native client; it implements op.Client.
type client struct {
	id              string
	loginPath       string // "/oidc/login"
	idTokenLifetime time.Duration
	jwtAccessToken  bool // access tokens are JWTs, not opaque (Config.JWTAccessTokens)
}

var _ op.Client = (*client)(nil)

// loopbackRedirects are matched by op without their port, because the
// client is native (RFC 8252 section 7.3): http://127.0.0.1:53682/callback
// is accepted, http://127.0.0.1:53682/other and http://example.com/callback
// are not.
var loopbackRedirects = []string{
	"http://127.0.0.1/callback",
	"http://localhost/callback",
	"http://[::1]/callback",
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return loopbackRedirects }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeNative }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
}

// LoginURL is a path, not an absolute URL, so the browser stays on the host
// it used to reach the gateway.
func (c *client) LoginURL(authRequestID string) string {
	return c.loginPath + "?id=" + url.QueryEscape(authRequestID)
}

func (c *client) AccessTokenType() op.AccessTokenType {
	if c.jwtAccessToken {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}
func (c *client) IDTokenLifetime() time.Duration   { return c.idTokenLifetime }
func (c *client) DevMode() bool                    { return false }
func (c *client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts email, name and groups in the ID token
// even though an access token is issued too: the CLI's bearer is the ID token.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
