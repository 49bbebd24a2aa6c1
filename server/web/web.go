package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/identity"
)

// Config is what the gateway gives the web pages.
type Config struct {
	PublicURL    string   // the gateway's URL as browsers reach it: "http://127.0.0.1:8443"
	Issuer       string   // OIDC issuer URL: "http://127.0.0.1:8443/oidc"
	ClientID     string   // the public client: "hoop-cli"
	ClientSecret string   // "" for a public client
	Scopes       []string // ["openid", "email", "profile", "groups"]; nil means those
	// Verify checks an ID token and returns who it proves (the gateway's server/identity).
	Verify func(ctx context.Context, rawIDToken string) (identity.Identity, error)
	// Review returns a review who may see; any error shows the "not found" page.
	Review func(id string, who identity.Identity) (api.Review, error)
	// Decide approves or denies a review as who. Its error message is shown to the person
	// ("nobody approves their own request"); an error with a method HTTPStatus() int
	// chooses the page's status, which is 403 otherwise.
	Decide     func(id string, who identity.Identity, approve bool, reason string) (api.Review, error)
	Key        []byte       // 32 or more random bytes: signs the cookies and the CSRF tokens
	HTTPClient *http.Client // for the IdP; nil is http.DefaultClient
}

// DefaultScopes are the scopes asked for when Config.Scopes is nil.
var DefaultScopes = []string{oidc.ScopeOpenID, "email", "profile", "groups"}

// MinKeyBytes is the shortest Config.Key New accepts.
const MinKeyBytes = 32

// Errors returned by New.
var (
	// ErrConfig means a Config field is missing or malformed; the message names it.
	ErrConfig = errors.New("invalid web config")
)

// Limits on what a browser sends.
const (
	maxFormBytes   = 16 << 10 // a decision form
	maxReasonRunes = 1000     // a denial's reason
)

// Timeouts of the calls to the identity provider.
const (
	discoveryTimeout = 10 * time.Second
	exchangeTimeout  = 15 * time.Second
)

// reviewID is what a review id may look like ("r-5f3a…"); anything else is not found.
var reviewID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Handler serves the review pages and the sign-in callback. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	public   string // PublicURL without a trailing slash
	basePath string // PublicURL's path without a trailing slash: "" or "/hoop"
	origin   string // "http://127.0.0.1:8443"
	secure   bool   // PublicURL is https: cookies are Secure
	client   *http.Client
	cookies  signer
	csrfKey  []byte
	now      func() time.Time
	log      *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first sign-in
}

// New checks cfg and returns a Handler. It does not reach the identity provider: discovery
// happens at the first sign-in and is retried until it succeeds, so the gateway may start
// before its IdP (the embedded one is served by the same listener).
func New(cfg Config) (*Handler, error) {
	u, err := url.Parse(cfg.PublicURL)
	switch {
	case cfg.PublicURL == "":
		return nil, fmt.Errorf("web new: %w: PublicURL is required", ErrConfig)
	case err != nil:
		return nil, fmt.Errorf("web new: %w: PublicURL: %v", ErrConfig, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.RawQuery != "", u.Fragment != "", u.User != nil:
		return nil, fmt.Errorf("web new: %w: PublicURL %q must be an absolute http or https URL without query or fragment", ErrConfig, cfg.PublicURL)
	case cfg.Issuer == "":
		return nil, fmt.Errorf("web new: %w: Issuer is required", ErrConfig)
	case cfg.ClientID == "":
		return nil, fmt.Errorf("web new: %w: ClientID is required", ErrConfig)
	case cfg.Verify == nil || cfg.Review == nil || cfg.Decide == nil:
		return nil, fmt.Errorf("web new: %w: Verify, Review and Decide are required", ErrConfig)
	case len(cfg.Key) < MinKeyBytes:
		return nil, fmt.Errorf("web new: %w: Key has %d bytes, want at least %d", ErrConfig, len(cfg.Key), MinKeyBytes)
	}
	if cfg.Scopes == nil {
		cfg.Scopes = slices.Clone(DefaultScopes)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	base := strings.TrimSuffix(u.Path, "/")
	return &Handler{
		cfg:      cfg,
		public:   u.Scheme + "://" + u.Host + base,
		basePath: base,
		origin:   origin(u),
		secure:   u.Scheme == "https",
		client:   client,
		cookies:  signer{key: deriveKey(cfg.Key, "cookies")},
		csrfKey:  deriveKey(cfg.Key, "csrf"),
		now:      time.Now,
		log:      slog.Default(),
	}, nil
}

// origin serializes u's origin the way browsers send it: no default port, lower case.
func origin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// ServeHTTP routes GET /reviews/{id}, POST /reviews/{id} and GET /callback. The paths may
// carry PublicURL's path as a prefix, or not (a proxy that strips it).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if h.basePath != "" && strings.HasPrefix(path, h.basePath+"/") {
		path = strings.TrimPrefix(path, h.basePath)
	}
	switch {
	case path == "/callback":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.methodNotAllowed(w, "GET")
			return
		}
		h.callback(w, r)
	case strings.HasPrefix(path, "/reviews/"):
		id := strings.TrimPrefix(path, "/reviews/")
		if !reviewID.MatchString(id) {
			h.notFound(w, nil)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.show(w, r, id)
		case http.MethodPost:
			h.decide(w, r, id)
		default:
			h.methodNotAllowed(w, "GET, POST")
		}
	default:
		h.notFound(w, nil)
	}
}

// reviewPath is the path of review id's page, PublicURL's path included.
func (h *Handler) reviewPath(id string) string { return h.basePath + "/reviews/" + id }

func (h *Handler) sessionPath() string  { return h.basePath + "/" }
func (h *Handler) callbackPath() string { return h.basePath + "/callback" }

// show serves the review page, or sends a stranger to sign in first.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, id string) {
	s, ok := h.session(r)
	if !ok {
		h.startLogin(w, r, id)
		return
	}
	rv, err := h.cfg.Review(id, s.Who)
	if err != nil {
		h.notFound(w, &s.Who)
		return
	}
	pg := h.reviewPage(rv, s)
	var f flash
	if err := h.readCookie(r, flashCookie, &f); err == nil && f.SID == s.ID && f.Review == id {
		pg.Flash = f.Text
	}
	if _, err := r.Cookie(flashCookie); err == nil {
		h.clearCookie(w, flashCookie, h.reviewPath(id))
	}
	h.render(w, http.StatusOK, "review", pg)
}

// decide handles the Approve and Deny forms.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, id string) {
	s, ok := h.session(r)
	if !ok {
		h.message(w, http.StatusForbidden, nil, messagePage{
			Title: "Sign in again",
			Error: "Your sign-in has expired, so your decision was not recorded. Open the review again to sign in, then decide.",
			Link:  h.reviewPath(id), LinkText: "Open the review",
		})
		return
	}
	if !h.sameOrigin(r) {
		h.message(w, http.StatusForbidden, &s.Who, messagePage{
			Title: "Request refused",
			Error: "This form was not sent from the review page, so it was refused.",
			Link:  h.reviewPath(id), LinkText: "Open the review",
		})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.message(w, http.StatusBadRequest, &s.Who, messagePage{Title: "Bad request", Error: "The form could not be read."})
		return
	}
	if !h.checkCSRF(s.ID, id, r.PostForm.Get("csrf")) {
		h.message(w, http.StatusForbidden, &s.Who, messagePage{
			Title: "Request refused",
			Error: "This form has expired or did not come from the review page, so it was refused. Reload the review and decide again.",
			Link:  h.reviewPath(id), LinkText: "Reload the review",
		})
		return
	}
	rv, err := h.cfg.Review(id, s.Who)
	if err != nil {
		h.notFound(w, &s.Who)
		return
	}
	var approve bool
	switch r.PostForm.Get("action") {
	case "approve":
		approve = true
	case "deny":
	default:
		h.message(w, http.StatusBadRequest, &s.Who, messagePage{Title: "Bad request", Error: "The form has no action: approve or deny."})
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var refusal string
	status := http.StatusBadRequest
	switch {
	case !approve && reason == "":
		refusal = "A reason is required to deny: the requester sees it."
	case utf8.RuneCountInString(reason) > maxReasonRunes:
		refusal = fmt.Sprintf("The reason is too long: at most %d characters.", maxReasonRunes)
	default:
		var got api.Review
		got, err = h.cfg.Decide(id, s.Who, approve, reason)
		if err == nil {
			h.decided(w, r, s, id, result(got, s.Who, approve, reason))
			return
		}
		status = decideStatus(err)
		if status == http.StatusNotFound {
			h.notFound(w, &s.Who)
			return
		}
		refusal = err.Error()
		if now, err := h.cfg.Review(id, s.Who); err == nil {
			rv = now
		}
	}
	pg := h.reviewPage(rv, s)
	pg.Error = refusal
	pg.Reason = reason
	h.render(w, status, "review", pg)
}

// decided sends the browser back to the review page, which shows text once.
func (h *Handler) decided(w http.ResponseWriter, r *http.Request, s session, id, text string) {
	f := flash{SID: s.ID, Review: id, Text: text}
	if err := h.setCookie(w, flashCookie, h.reviewPath(id), h.now().Add(flashLifetime), f); err != nil {
		h.log.Warn("web: flash", "review", id, "error", err) // the page still shows the new state
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.reviewPath(id), http.StatusSeeOther)
}

// decideStatus is the page's status for an error of Decide.
func decideStatus(err error) int {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) {
		if s := hs.HTTPStatus(); s >= 400 && s <= 599 {
			return s
		}
	}
	return http.StatusForbidden
}

// result is the sentence shown after a decision was recorded.
func result(rv api.Review, who identity.Identity, approve bool, reason string) string {
	by := who.String()
	access := rv.Kind == api.ReviewAccess
	switch {
	case rv.State == api.ReviewApproved || rv.State == api.ReviewUsed:
		if access {
			if rv.Duration != "" {
				return fmt.Sprintf("Approved by %s — access to %s is granted for %s.", by, rv.Connection, rv.Duration)
			}
			return fmt.Sprintf("Approved by %s — access to %s is granted.", by, rv.Connection)
		}
		return fmt.Sprintf("Approved by %s — the statement runs.", by)
	case rv.State == api.ReviewDenied:
		what := "the statement does not run"
		if access {
			what = "access is not granted"
		}
		return fmt.Sprintf("Denied by %s — %s. Reason: %s", by, what, reason)
	case rv.State == api.ReviewPending && approve:
		left := rv.MinApprovals - len(rv.Approvals)
		return fmt.Sprintf("Approved by %s (%d of %d approvals) — waiting for %d more %s.",
			by, len(rv.Approvals), rv.MinApprovals, left, plural(left, "approver", "approvers"))
	default:
		return fmt.Sprintf("Your decision was recorded; the review is %s.", rv.State)
	}
}

// sameOrigin reports whether a POST came from the gateway's own pages, when the browser
// says where it came from. Without Origin and Referer the CSRF token decides alone.
func (h *Handler) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return strings.EqualFold(o, h.origin)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Host != "" && strings.EqualFold(origin(u), h.origin)
	}
	return true
}

func (h *Handler) notFound(w http.ResponseWriter, who *identity.Identity) {
	h.message(w, http.StatusNotFound, who, messagePage{
		Title: "Review not found",
		Error: "There is no such review, or you may not see it. Reviews are shown to their requester and their approvers.",
	})
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	h.message(w, http.StatusMethodNotAllowed, nil, messagePage{Title: "Method not allowed", Error: "This page answers " + allow + " only."})
}
