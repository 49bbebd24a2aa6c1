package testbrowser

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		html string
		want []form
	}{
		{
			name: "login form",
			html: `<form method="post" action="/oidc/login">
<input type="hidden" name="id" value="a&#43;b">
<label>Username <input name="username" value="" required></label>
<label>Password <input type=password name='password'></label>
<button type="submit">Sign in</button></form>`,
			want: []form{{method: "post", action: "/oidc/login",
				values: url.Values{"id": {"a+b"}, "username": {""}, "password": {""}}}},
		},
		{
			name: "buttons and checkboxes",
			html: `<p>x</p><FORM METHOD=POST ACTION="/approve"><input type="hidden" name="ticket" value="t1">
<input type="checkbox" name="remember" value="yes" checked><input type="checkbox" name="spam" value="yes">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button></FORM>`,
			want: []form{{method: "POST", action: "/approve",
				values:  url.Values{"ticket": {"t1"}, "remember": {"yes"}},
				buttons: []url.Values{{"action": {"approve"}}, {"action": {"deny"}}}}},
		},
		{name: "no form", html: `<p class="error">nope</p>`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseForms(tt.html)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(form{})); diff != "" {
				t.Errorf("parseForms (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ body, want string }{
		{`<h1>Sign in</h1><p class="error" role="alert">Invalid username &amp; password.</p><form></form>`,
			`"Invalid username & password."`},
		{`<html><style>p{}</style><body><p>Just   text</p></body></html>`, `"Just text"`},
	}
	for _, tt := range tests {
		p := &page{body: tt.body}
		if got := p.quote(); got != tt.want {
			t.Errorf("quote(%q): got %s, want %s", tt.body, got, tt.want)
		}
	}
}

// TestLoginStopsAtRedirectURI drives Login against a tiny fake provider:
// the login page, a cookie it must send back, and a redirect to the callback.
func TestLoginStopsAtRedirectURI(t *testing.T) {
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
	}))
	defer cb.Close()
	redirectURI := cb.URL + "/callback"

	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/authorize":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
			http.Redirect(w, r, "/login", http.StatusFound)
		case r.URL.Path == "/login" && r.Method == http.MethodGet:
			w.Write([]byte(`<form method="post" action="login"><input name="username"><input type="password" name="password"></form>`))
		case r.URL.Path == "/login":
			c, err := r.Cookie("session")
			if err != nil || c.Value != "s1" || r.PostFormValue("password") != "pw" {
				w.Write([]byte(`<p class="error">Invalid username or password.</p>`))
				return
			}
			http.Redirect(w, r, redirectURI+"?code=c1&state="+r.PostFormValue("username"), http.StatusSeeOther)
		}
	}))
	defer idp.Close()
	authURL := idp.URL + "/authorize?" + url.Values{"redirect_uri": {redirectURI}}.Encode()

	ctx := context.Background()
	if err := Login(ctx, nil, authURL, "alice", "wrong"); !errors.Is(err, ErrRejected) ||
		!strings.Contains(err.Error(), "Invalid username or password.") {
		t.Errorf("wrong password: got %v, want ErrRejected quoting the page", err)
	}
	if err := Login(ctx, nil, authURL, "alice", "pw"); err != nil {
		t.Fatalf("login: %v", err)
	}
	select {
	case q := <-got:
		if q.Get("code") != "c1" || q.Get("state") != "alice" {
			t.Errorf("callback query: got %v, want code c1 state alice", q)
		}
	default:
		t.Errorf("callback not reached")
	}
}
