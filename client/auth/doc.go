// Package auth logs the hoop CLI in to a gateway's identity provider, keeps the
// tokens fresh and stores them.
//
// The CLI knows only the gateway's URL. It asks the gateway which OpenID Connect
// provider to use (GET /api/v1/info), discovers the provider's endpoints, and runs one
// of two flows:
//
//   - LoginBrowser: authorization code with PKCE (S256) and a loopback redirect
//     (RFC 8252). A random state ties the callback to this login and a random nonce
//     ties the ID token to it.
//   - LoginDevice: the device authorization grant (RFC 8628), for machines without a
//     browser: the user opens a URL elsewhere and types a short code.
//
// Either way the ID token is verified (signature, issuer, audience = client id,
// expiry) before it is accepted; it is the bearer the gateway checks.
//
//	CLI                      browser                gateway          identity provider
//	 │── GET /api/v1/info ─────────────────────────────▶│                    │
//	 │◀──────────────── issuer, client id, scopes ──────│                    │
//	 │── GET {issuer}/.well-known/openid-configuration ─────────────────────▶│
//	 │ listen 127.0.0.1:<port>                                               │
//	 │── open authorize?state,nonce,code_challenge ─▶│                       │
//	 │                          │── user logs in ───────────────────────────▶│
//	 │◀─ GET /callback?code&state ◀─────── 302 to 127.0.0.1:<port>/callback ─│
//	 │── POST token: code + code_verifier ──────────────────────────────────▶│
//	 │◀───────────────────────── id_token, access_token, refresh_token ──────│
//	 │ verify id_token (JWKS, iss, aud, exp, nonce); store it
//
// # Storage
//
// A Store keeps one Token per gateway URL in the OS keyring (service "hoop", key = the
// gateway URL) and, where no keyring answers (headless Linux without a D-Bus session,
// CI containers) or a token is too large for it (Windows limits a secret to 2.5 KB),
// in tokens.json (mode 0600) in the store's directory (mode 0700), by default
// os.UserConfigDir()/hoop. Every keyring call is bounded by a short timeout because a
// misconfigured D-Bus can make it hang.
//
// The environment variable HOOP_KEYRING=file makes the Store skip the keyring and use
// only the file; tests and containers use it. Any other value, or none, means "keyring,
// falling back to the file".
//
// The default gateway chosen by `hoop login` is kept in config.json (mode 0600) in the
// same directory.
//
// # Logout
//
// Revoke revokes the refresh token at the provider's revocation_endpoint (RFC 7009), so
// that a copy left in a backup or on a stolen disk gets no new ID token; `hoop logout`
// calls it before it removes the tokens, and removes them anyway when the provider offers
// no endpoint (ErrNoRevocation) or cannot be reached.
//
// Nothing in this package prints or logs a token: Token's String method shows only the
// gateway and the expiry.
package auth
