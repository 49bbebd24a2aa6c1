// Package devidp is the embedded OpenID Connect provider that `hoopd --dev`
// runs for local users and groups. It is built on zitadel/oidc's op package:
// real HTTP, real RS256-signed tokens, discovery and JWKS, so the gateway and
// the CLI talk to it exactly as they would to Okta, Keycloak or Dex.
//
// It is for development, demos and tests only: users and passwords live in
// the configuration, all state is in memory, and a plain-http issuer must be
// a loopback address.
//
// # Users
//
// DefaultUsers is the set `hoopd --dev` starts with. The password is the
// login name followed by "-dev":
//
//	user   password    groups
//	alice  alice-dev   engineering
//	dana   dana-dev    dba
//	ann    ann-dev     analytics
//	carl   carl-dev    contractors
//	eve    eve-dev     (none)
//	audrey audrey-dev  auditors
//
// The login name is the token's `sub`. E-mail addresses are
// <name>@example.com.
//
// # Client
//
// One public native client (Config.ClientID, "hoop-cli" by default): no
// secret (token endpoint auth method "none"), PKCE with S256 required,
// response type "code", grant types authorization_code, refresh_token and
// urn:ietf:params:oauth:grant-type:device_code. Its redirect URIs are
// http://127.0.0.1:<any port>/callback and http://localhost:<any port>/callback
// (RFC 8252 section 7.3: the port of a loopback redirect is not compared).
//
// # Tokens
//
// Scopes: openid, email (email, email_verified), profile (name,
// preferred_username), groups (groups, a string array, empty when the user
// has none) and offline_access (a refresh token). Claims follow the scopes
// asked for, and the ID token carries them itself (aud = the client id), so
// the CLI can use it as its bearer. A refresh returns a new ID token and a
// new refresh token; the old one stops working (rotation). Refresh tokens
// live 24 hours from their last use, and all of them are lost on restart.
//
// The CLI's access token is opaque; Config.JWTAccessTokens makes it a signed
// JWT (aud = the client id, client_id, no azp), as many providers issue them, so
// that tests can prove the gateway refuses it as a bearer. /revoke revokes a
// refresh token (RFC 7009) and the access token issued with it.
//
// The signing key is RSA 2048 (RS256). With Config.KeyFile set it is kept
// there as a PKCS #8 PEM file, created with mode 0600 when missing, so ID
// tokens stay valid across restarts; a key file readable by group or others
// is refused.
//
// # Endpoints
//
// Everything is served under the issuer's path, e.g. with the issuer
// http://127.0.0.1:8443/oidc:
//
//	/oidc/.well-known/openid-configuration   discovery
//	/oidc/keys                               JWKS
//	/oidc/authorize                          authorization endpoint
//	/oidc/oauth/token                        token endpoint
//	/oidc/device_authorization               device authorization (RFC 8628)
//	/oidc/userinfo, /oidc/revoke, /oidc/end_session, /oidc/oauth/introspect
//	/oidc/login                              the login form (this package)
//	/oidc/device                             the device verification page (this package)
//
// # Authorization code flow
//
//	CLI                      browser                     devidp
//	 |-- open /authorize?...&code_challenge=S256 -->|              |
//	 |                         |-- GET /authorize --------------->| store auth request
//	 |                         |<-- 302 /login?id=R ---------------|
//	 |                         |-- POST /login id,user,password ->| check password
//	 |                         |<-- 303 /authorize/callback?id=R --|
//	 |                         |-- GET /authorize/callback ------>| issue code
//	 |<-- GET 127.0.0.1:P/callback?code=C&state=S ---|              |
//	 |-- POST /oauth/token code, code_verifier ---------------------->|
//	 |<-- id_token, access_token, refresh_token ----------------------|
//
// # Device flow
//
//	CLI                                  person's browser              devidp
//	 |-- POST /device_authorization ------------------------------------>|
//	 |<-- device_code, user_code, verification_uri(_complete) -----------|
//	 |   (prints the URL and code)         |-- GET /device?user_code= ->|
//	 |                                     |-- POST /device code,user,pw>| check, show what is asked
//	 |                                     |-- POST /device/approve ---->| mark approved
//	 |-- POST /oauth/token device_code (polls every second) ------------>|
//	 |<-- authorization_pending ... then id_token, refresh_token --------|
package devidp
