// Package web serves the one-click approval page of a review: a person opens the link the
// requester was given, signs in at the identity provider, and approves or denies the held
// statement (or access request) on a server-rendered page that works without JavaScript.
//
// The gateway mounts the Handler at /reviews/ and /callback and gives it three functions:
// Verify (the gateway's ID token check), Review (a review the person may see) and Decide.
// The package imports nothing of the gateway.
//
// Sign-in is the OpenID Connect authorization code flow with PKCE (S256), for the same
// public client the CLI uses:
//
//	browser ── GET /reviews/r-1 (no session) ──────────▶ web
//	        ◀─ 302 IdP /authorize?state&nonce&code_challenge ─ Set-Cookie login (signed, 10 min)
//	        ── sign in at the IdP ─────────────────────▶ IdP
//	        ◀─ 302 /callback?code&state ────────────────
//	        ── GET /callback (login cookie) ───────────▶ web ── code + verifier ─▶ IdP token endpoint
//	                                                        ◀─ ID token ─────────
//	                                                        Verify(ID token), check the nonce
//	        ◀─ 303 /reviews/r-1 ─ Set-Cookie session (signed: identity, expiry of the ID token)
//	        ── GET /reviews/r-1 ───────────────────────▶ web ── Review(r-1, who)
//	        ── POST /reviews/r-1 action=approve csrf ─▶ web ── Decide(r-1, who, true, "")
//	        ◀─ 303 /reviews/r-1 ─ Set-Cookie flash "Approved by dana@example.com — the statement runs"
//
// Cookies are HMAC-SHA256 signed with keys derived from Config.Key, and carry their own
// expiry; the signature covers the cookie's name, so one cookie can't stand in for another.
// A POST needs a CSRF token that is an HMAC of the session's random id and the review id,
// and, when the browser sends Origin or Referer, the gateway's own origin. The session
// cookie is SameSite=Lax, so a cross-site form can't carry it either.
package web
