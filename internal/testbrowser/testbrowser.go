// Package testbrowser stands in for a person with a web browser in tests and
// demos: it signs in on the pages of the dev OIDC provider (server/devidp)
// and follows redirects the way a browser does, with a cookie jar, until
// the authorization response reaches the CLI's loopback redirect URI.
//
// It understands plain server-rendered HTML forms and no JavaScript. It
// finds the sign-in form by its password field and the device approval form
// by its button named "action" with the value "approve".
package testbrowser

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Limits that keep a misbehaving server from looping or flooding a test.
const (
	maxRedirects = 10
	maxPageBytes = 1 << 20
	maxQuote     = 300 // characters of a page quoted in an error
)

// Errors returned by Login and Device; the message quotes the page.
var (
	// ErrNoForm means the page has no form the browser knows how to fill in.
	ErrNoForm = errors.New("no form to fill in")
	// ErrRejected means the provider showed an error (wrong password, unknown code, ...).
	ErrRejected = errors.New("rejected")
	// ErrDenied means the authorization response carried an error (access_denied, ...).
	ErrDenied = errors.New("authorization denied")
	// ErrTooManyRedirects means more than 10 redirects in a row.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// Login opens authURL (an OAuth2 authorization URL with a redirect_uri
// parameter), signs in as user, and follows redirects until the loopback
// redirect URI, which it GETs so the CLI's callback server receives the
// code. client may be nil; it is copied, given a cookie jar if it has none,
// and its redirect policy replaced.
func Login(ctx context.Context, client *http.Client, authURL, user, password string) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return fmt.Errorf("login: auth url: %w", err)
	}
	redirect, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		return fmt.Errorf("login: auth url %q has no absolute redirect_uri", authURL)
	}
	b, err := newBrowser(client, redirect)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	pg, err := b.get(ctx, authURL)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if pg.reachedRedirect {
		return nil // already signed in: the provider answered at once
	}
	form, ok := pg.findForm(func(f form) bool { return f.has("password") })
	if !ok {
		return fmt.Errorf("login: %w on %s (status %d): %s", ErrNoForm, pg.url, pg.status, pg.quote())
	}
	form.set("username", user)
	form.set("password", password)
	pg, err = b.submit(ctx, pg, form)
	if err != nil {
		return fmt.Errorf("login as %s: %w", user, err)
	}
	if !pg.reachedRedirect {
		return fmt.Errorf("login as %s: %w (status %d): %s", user, ErrRejected, pg.status, pg.quote())
	}
	return nil
}

// Device approves a device authorization: it opens verificationURL (the
// verification_uri, or verification_uri_complete with userCode ""), enters
// userCode, signs in as user and presses Approve.
func Device(ctx context.Context, client *http.Client, verificationURL, userCode, user, password string) error {
	b, err := newBrowser(client, nil)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	pg, err := b.get(ctx, verificationURL)
	if err != nil {
		return fmt.Errorf("device: %w", err)
	}
	f, ok := pg.findForm(func(f form) bool { return f.has("user_code") && f.has("password") })
	if !ok {
		return fmt.Errorf("device: %w on %s (status %d): %s", ErrNoForm, pg.url, pg.status, pg.quote())
	}
	if userCode != "" {
		f.set("user_code", userCode)
	}
	f.set("username", user)
	f.set("password", password)
	pg, err = b.submit(ctx, pg, f)
	if err != nil {
		return fmt.Errorf("device login as %s: %w", user, err)
	}
	f, ok = pg.findForm(func(f form) bool { return f.hasButton("action", "approve") })
	if !ok {
		return fmt.Errorf("device login as %s: %w (status %d): %s", user, ErrRejected, pg.status, pg.quote())
	}
	f.set("action", "approve")
	pg, err = b.submit(ctx, pg, f)
	if err != nil {
		return fmt.Errorf("device approve: %w", err)
	}
	if pg.status != http.StatusOK || pg.errorText() != "" {
		return fmt.Errorf("device approve: %w (status %d): %s", ErrRejected, pg.status, pg.quote())
	}
	return nil
}

type browser struct {
	client   *http.Client
	redirect *url.URL // stop here: the client's redirect URI (nil: none)
}

func newBrowser(c *http.Client, redirect *url.URL) (*browser, error) {
	cc := http.Client{}
	if c != nil {
		cc = *c
	}
	if cc.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, fmt.Errorf("cookie jar: %w", err)
		}
		cc.Jar = jar
	}
	// Redirects are followed by hand, to stop at the redirect URI.
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{client: &cc, redirect: redirect}, nil
}

// page is what the browser shows after a navigation.
type page struct {
	url             *url.URL
	status          int
	body            string
	reachedRedirect bool // the navigation ended at the redirect URI
}

func (b *browser) get(ctx context.Context, target string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", target, err)
	}
	return b.navigate(req)
}

func (b *browser) submit(ctx context.Context, from *page, f form) (*page, error) {
	action, err := from.url.Parse(f.action)
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", f.action, err)
	}
	method := strings.ToUpper(f.method)
	if method == "" {
		method = http.MethodGet
	}
	var req *http.Request
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, action.String(), strings.NewReader(f.values.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		action.RawQuery = f.values.Encode()
		req, err = http.NewRequestWithContext(ctx, method, action.String(), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", action, err)
	}
	return b.navigate(req)
}

// navigate sends req and follows redirects; at the redirect URI it checks
// the authorization response, GETs the URI and stops.
func (b *browser) navigate(req *http.Request) (*page, error) {
	for range maxRedirects {
		if b.atRedirect(req.URL) {
			return b.deliver(req)
		}
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s %s: read: %w", req.Method, req.URL, err)
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return &page{url: req.URL, status: resp.StatusCode, body: string(body)}, nil
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("%s %s: redirect to %q: %w", req.Method, req.URL, loc, err)
		}
		req, err = http.NewRequestWithContext(req.Context(), http.MethodGet, next.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("redirect to %s: %w", next, err)
		}
	}
	return nil, ErrTooManyRedirects
}

func (b *browser) atRedirect(u *url.URL) bool {
	r := b.redirect
	return r != nil && u.Scheme == r.Scheme && u.Host == r.Host && u.Path == r.Path
}

// deliver GETs the redirect URI, as the browser would, even when the
// response is an error: the CLI must learn about it too.
func (b *browser) deliver(req *http.Request) (*page, error) {
	q := req.URL.Query()
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deliver to %s: %w", b.redirect, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	resp.Body.Close()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrDenied, e, q.Get("error_description"))
	}
	pg := &page{url: req.URL, status: resp.StatusCode, body: string(body), reachedRedirect: true}
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("deliver to %s: status %d: %s", b.redirect, resp.StatusCode, pg.quote())
	}
	return pg, nil
}

// errorText returns the text of the page's element with class "error", if any.
func (p *page) errorText() string {
	m := errorRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return collapse(m[1])
}

// quote is what an error shows of a page: its error message, else its text.
func (p *page) quote() string {
	s := p.errorText()
	if s == "" {
		s = collapse(p.body)
	}
	if r := []rune(s); len(r) > maxQuote {
		s = string(r[:maxQuote]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func collapse(htmlText string) string {
	text := html.UnescapeString(tagRE.ReplaceAllString(htmlText, " "))
	return strings.Join(strings.Fields(text), " ")
}

func (p *page) findForm(match func(form) bool) (form, bool) {
	for _, f := range parseForms(p.body) {
		if match(f) {
			return f, true
		}
	}
	return form{}, false
}

// form is a parsed HTML form: hidden and prefilled values, and buttons.
type form struct {
	method  string
	action  string
	values  url.Values // inputs (not buttons) by name
	buttons []url.Values
}

func (f form) has(name string) bool { _, ok := f.values[name]; return ok }

func (f form) hasButton(name, value string) bool {
	for _, b := range f.buttons {
		if b.Get(name) == value {
			return true
		}
	}
	return false
}

func (f form) set(name, value string) { f.values.Set(name, value) }

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form\s*>`)
	fieldRE = regexp.MustCompile(`(?is)<(input|button)\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
	tagRE   = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)\s*>|<[^>]*>`)
	errorRE = regexp.MustCompile(`(?is)<\w+[^>]*\bclass\s*=\s*["'][^"']*\berror\b[^"']*["'][^>]*>(.*?)</\w+\s*>`)
)

// parseForms reads the forms of a page written by a server (no scripts). It
// is no general HTML parser: it is enough for plain server-rendered forms.
func parseForms(body string) []form {
	var forms []form
	for _, m := range formRE.FindAllStringSubmatch(body, -1) {
		attrs := parseAttrs(m[1])
		f := form{method: attrs.Get("method"), action: attrs.Get("action"), values: url.Values{}}
		for _, fm := range fieldRE.FindAllStringSubmatch(m[2], -1) {
			tag, a := strings.ToLower(fm[1]), parseAttrs(fm[2])
			name := a.Get("name")
			typ := strings.ToLower(a.Get("type"))
			switch {
			case tag == "button" || typ == "submit":
				if name != "" {
					f.buttons = append(f.buttons, url.Values{name: {a.Get("value")}})
				}
			case name == "":
			case typ == "checkbox" || typ == "radio":
				if _, checked := a["checked"]; checked {
					f.values.Add(name, a.Get("value"))
				}
			default:
				f.values.Add(name, a.Get("value"))
			}
		}
		forms = append(forms, f)
	}
	return forms
}

// parseAttrs parses the attributes of a tag; names are lowercased, values unescaped.
func parseAttrs(s string) url.Values {
	attrs := url.Values{}
	for _, m := range attrRE.FindAllStringSubmatch(s, -1) {
		attrs.Set(strings.ToLower(m[1]), html.UnescapeString(m[2]+m[3]+m[4]))
	}
	return attrs
}
