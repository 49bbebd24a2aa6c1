package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hoopgw/hoop/server/identity"
)

// Cookie names. The session cookie covers the whole gateway path; the login cookie only
// /callback; the flash cookie only the review page it is for.
const (
	sessionCookie = "hoop_review_session"
	loginCookie   = "hoop_review_login"
	flashCookie   = "hoop_review_flash"
)

// Lifetimes of the short-lived cookies.
const (
	loginLifetime = 10 * time.Minute // from the redirect to the IdP to /callback
	flashLifetime = time.Minute      // from the 303 after a decision to the page that shows it
)

// maxCookieBytes keeps a cookie under what every browser stores (4096 bytes with its name).
const maxCookieBytes = 4000

// Errors of signed cookies. None reaches a person: a bad cookie is a missing cookie.
var (
	errCookieMissing  = errors.New("cookie missing")
	errCookieTampered = errors.New("cookie signature does not verify")
	errCookieExpired  = errors.New("cookie expired")
	errCookieTooLarge = errors.New("cookie too large")
)

// signer seals values into cookies: base64url(JSON) "." base64url(HMAC-SHA256(name, JSON)).
type signer struct {
	key []byte
}

// envelope is what a cookie holds: a value and when it stops being valid.
type envelope struct {
	Exp int64           `json:"exp"` // unix seconds
	V   json.RawMessage `json:"v"`
}

func (s signer) mac(name, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// seal encodes v for the cookie name, valid until exp.
func (s signer) seal(name string, exp time.Time, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", name, err)
	}
	env, err := json.Marshal(envelope{Exp: exp.Unix(), V: raw})
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", name, err)
	}
	payload := base64.RawURLEncoding.EncodeToString(env)
	value := payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(name, payload))
	if len(name)+len(value) > maxCookieBytes {
		return "", fmt.Errorf("seal %s: %w (%d bytes)", name, errCookieTooLarge, len(value))
	}
	return value, nil
}

// open checks the signature and the expiry of a cookie value and decodes it into v.
func (s signer) open(name, value string, now time.Time, v any) error {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return fmt.Errorf("open %s: %w", name, errCookieTampered)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(name, payload)) {
		return fmt.Errorf("open %s: %w", name, errCookieTampered)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, errCookieTampered)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("open %s: %w", name, errCookieTampered)
	}
	if !now.Before(time.Unix(env.Exp, 0)) {
		return fmt.Errorf("open %s: %w", name, errCookieExpired)
	}
	if err := json.Unmarshal(env.V, v); err != nil {
		return fmt.Errorf("open %s: %w", name, errCookieTampered)
	}
	return nil
}

// session is the signed-in person: the identity the ID token proved, until it expires.
type session struct {
	ID  string            `json:"sid"` // random; binds CSRF tokens and flashes to this sign-in
	Who identity.Identity `json:"who"`
}

// login is the state of a sign-in in progress, between the redirect to the IdP and /callback.
type login struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"` // PKCE code verifier
	Review   string `json:"review"`   // the review to show after sign-in: "r-…"
}

// flash is the result of a decision, shown once on the page after the redirect.
type flash struct {
	SID    string `json:"sid"`    // the session that decided
	Review string `json:"review"` // "r-…"
	Text   string `json:"text"`   // "Approved by dana@example.com — the statement runs."
}

// randomToken returns 32 random bytes, base64url: state, nonce and session ids.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie sets a signed cookie; HttpOnly and SameSite=Lax always, Secure on https.
func (h *Handler) setCookie(w http.ResponseWriter, name, path string, exp time.Time, v any) error {
	value, err := h.cookies.seal(name, exp, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Expires:  exp,
		MaxAge:   max(int(exp.Sub(h.now()).Seconds()), 1),
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// clearCookie tells the browser to forget a cookie.
func (h *Handler) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// readCookie opens the signed cookie name of r into v.
func (h *Handler) readCookie(r *http.Request, name string, v any) error {
	c, err := r.Cookie(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, errCookieMissing)
	}
	return h.cookies.open(name, c.Value, h.now(), v)
}

// session returns the signed-in person of r, if any.
func (h *Handler) session(r *http.Request) (session, bool) {
	var s session
	if err := h.readCookie(r, sessionCookie, &s); err != nil || s.ID == "" {
		return session{}, false
	}
	if !h.now().Before(s.Who.Expiry) {
		return session{}, false
	}
	return s, true
}

// csrfToken binds a form to a session and a review: HMAC(session id, review id).
func (h *Handler) csrfToken(sid, review string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(sid))
	m.Write([]byte{0})
	m.Write([]byte(review))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether token is the one csrfToken gives for sid and review.
func (h *Handler) checkCSRF(sid, review, token string) bool {
	got, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || token == "" {
		return false
	}
	want, _ := base64.RawURLEncoding.DecodeString(h.csrfToken(sid, review))
	return hmac.Equal(got, want)
}

// deriveKey derives an independent key for one use from the configured key.
func deriveKey(key []byte, use string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hoop server/web v1: " + use))
	return m.Sum(nil)
}
