package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Texts of the sign-in pages.
const (
	msgLoginLost = "This sign-in has expired, or was started in another tab or browser. Open the review link again to sign in."
	msgIdPDown   = "The identity provider can't be reached right now. Try again in a moment."
)

// oidcProvider returns the issuer's discovered configuration, discovering it on first use.
// A failure is not remembered: the next sign-in tries again.
func (h *Handler) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), h.client), discoveryTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, h.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", h.cfg.Issuer, err)
	}
	h.provider = p
	return p, nil
}

func (h *Handler) oauth2Config(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	if h.cfg.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the body
	}
	return &oauth2.Config{
		ClientID:     h.cfg.ClientID,
		ClientSecret: h.cfg.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  h.public + "/callback",
		Scopes:       h.cfg.Scopes,
	}
}

// startLogin sends the browser to the IdP, remembering in a signed cookie the state, the
// nonce, the PKCE verifier and the review to come back to.
func (h *Handler) startLogin(w http.ResponseWriter, r *http.Request, review string) {
	p, err := h.oidcProvider(r.Context())
	if err != nil {
		h.log.Warn("web: sign-in", "error", err)
		h.message(w, http.StatusBadGateway, nil, messagePage{Title: "Sign-in unavailable", Error: msgIdPDown,
			Link: h.reviewPath(review), LinkText: "Try again"})
		return
	}
	l := login{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Review: review}
	if err := h.setCookie(w, loginCookie, h.callbackPath(), h.now().Add(loginLifetime), l); err != nil {
		h.internalError(w, "login cookie", err)
		return
	}
	u := h.oauth2Config(p).AuthCodeURL(l.State, oauth2.S256ChallengeOption(l.Verifier), oidc.Nonce(l.Nonce))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// callback completes a sign-in: it checks the state, exchanges the code, verifies the ID
// token and its nonce, and sets the session cookie.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	var l login
	if err := h.readCookie(r, loginCookie, &l); err != nil {
		h.message(w, http.StatusBadRequest, nil, messagePage{Title: "Sign-in failed", Error: msgLoginLost})
		return
	}
	h.clearCookie(w, loginCookie, h.callbackPath()) // one answer per sign-in
	again := messagePage{Title: "Sign-in failed", Link: h.reviewPath(l.Review), LinkText: "Sign in again"}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.State)) != 1 {
		again.Error = msgLoginLost
		h.message(w, http.StatusBadRequest, nil, again)
		return
	}
	if e := q.Get("error"); e != "" {
		desc := q.Get("error_description")
		if desc == "" {
			desc = e
		}
		again.Error = "The identity provider did not sign you in: " + desc
		h.message(w, http.StatusForbidden, nil, again)
		return
	}
	code := q.Get("code")
	if code == "" {
		again.Error = "The identity provider's answer has no authorization code."
		h.message(w, http.StatusBadRequest, nil, again)
		return
	}
	p, err := h.oidcProvider(r.Context())
	if err != nil {
		h.log.Warn("web: sign-in", "error", err)
		again.Error = msgIdPDown
		h.message(w, http.StatusBadGateway, nil, again)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), exchangeTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, h.client)
	tok, err := h.oauth2Config(p).Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		h.log.Warn("web: sign-in: code exchange", "error", err)
		again.Error = "The identity provider did not accept the sign-in. Sign in again."
		h.message(w, http.StatusBadGateway, nil, again)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		again.Error = "The identity provider returned no ID token; the client must be allowed the openid scope."
		h.message(w, http.StatusBadGateway, nil, again)
		return
	}
	who, err := h.cfg.Verify(ctx, raw)
	if err != nil {
		again.Error = "Your ID token was not accepted: " + err.Error()
		h.message(w, http.StatusUnauthorized, nil, again)
		return
	}
	if n, err := tokenNonce(raw); err != nil || subtle.ConstantTimeCompare([]byte(n), []byte(l.Nonce)) != 1 {
		again.Error = "The ID token was not issued for this sign-in (its nonce does not match)."
		h.message(w, http.StatusUnauthorized, nil, again)
		return
	}
	if !h.now().Before(who.Expiry) {
		again.Error = "The ID token has already expired; check the clocks of the gateway and the identity provider."
		h.message(w, http.StatusUnauthorized, nil, again)
		return
	}
	s := session{ID: randomToken(), Who: who}
	if err := h.setCookie(w, sessionCookie, h.sessionPath(), who.Expiry, s); err != nil {
		h.log.Warn("web: session cookie", "who", who.String(), "groups", len(who.Groups), "error", err)
		again.Error = "Your identity (name, e-mail and groups) is too large to keep in a browser cookie."
		again.Link = ""
		h.message(w, http.StatusInternalServerError, nil, again)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.reviewPath(l.Review), http.StatusSeeOther)
}

// tokenNonce reads the nonce claim of a JWT whose signature Verify has already checked.
func tokenNonce(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("id token: %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("id token payload: %w", err)
	}
	var c struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("id token claims: %w", err)
	}
	return c.Nonce, nil
}
