package devidp

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
)

// maxFormBytes bounds a login or device form body.
const maxFormBytes = 16 << 10

// Texts shown to the person. One text for a wrong name and a wrong password:
// the form does not tell which accounts exist.
const (
	msgBadCredentials = "Invalid username or password."
	msgUnknownCode    = "Unknown or expired code. Check the code your terminal shows, or start again."
	msgUnknownLogin   = "This sign-in request is unknown or has expired. Start again from the application."
	msgUnknownTicket  = "This approval has expired. Enter the code again."
)

type page struct {
	Title    string
	Error    string
	Message  string
	Action   string // form action path
	ID       string // auth request id
	Ticket   string
	UserCode string
	Username string
	ClientID string
	Scopes   []string
}

func (p *Provider) render(w http.ResponseWriter, status int, name string, data page) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		slog.Error("devidp render", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

func (p *Provider) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "message", page{Title: "Bad request", Error: "The form could not be read."})
		return false
	}
	return true
}

// loginPage shows the form for the auth request ?id=.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if _, err := p.store.AuthRequestByID(r.Context(), id); err != nil {
		p.render(w, http.StatusBadRequest, "message", page{Title: "Sign in", Error: msgUnknownLogin})
		return
	}
	p.render(w, http.StatusOK, "login", page{Title: "Sign in", Action: p.basePath + "/login", ID: id})
}

// loginSubmit checks the password and sends the browser to op's callback,
// which issues the code and redirects to the client.
func (p *Provider) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !p.parseForm(w, r) {
		return
	}
	id, name, password := r.PostForm.Get("id"), r.PostForm.Get("username"), r.PostForm.Get("password")
	if _, err := p.store.AuthRequestByID(r.Context(), id); err != nil {
		p.render(w, http.StatusBadRequest, "message", page{Title: "Sign in", Error: msgUnknownLogin})
		return
	}
	u, err := p.store.checkPassword(name, password)
	if err != nil {
		p.render(w, http.StatusOK, "login", page{
			Title: "Sign in", Action: p.basePath + "/login", ID: id, Username: name, Error: msgBadCredentials,
		})
		return
	}
	if err := p.store.completeLogin(id, u.Name); err != nil {
		p.render(w, http.StatusBadRequest, "message", page{Title: "Sign in", Error: msgUnknownLogin})
		return
	}
	callback := p.basePath + p.op.AuthorizationEndpoint().Relative() + "/callback?id=" + url.QueryEscape(id)
	http.Redirect(w, r, callback, http.StatusSeeOther)
}

// devicePage is the verification URI: it asks for the user code (prefilled
// from verification_uri_complete), the username and the password.
func (p *Provider) devicePage(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "device", page{
		Title: "Connect a device", Action: p.basePath + "/device", UserCode: r.URL.Query().Get("user_code"),
	})
}

// deviceSubmit checks the password and the code, then asks for approval.
func (p *Provider) deviceSubmit(w http.ResponseWriter, r *http.Request) {
	if !p.parseForm(w, r) {
		return
	}
	code, name, password := r.PostForm.Get("user_code"), r.PostForm.Get("username"), r.PostForm.Get("password")
	again := page{Title: "Connect a device", Action: p.basePath + "/device", UserCode: code, Username: name}
	u, err := p.store.checkPassword(name, password)
	if err != nil {
		again.Error = msgBadCredentials
		p.render(w, http.StatusOK, "device", again)
		return
	}
	ticket, clientID, scopes, err := p.store.deviceLogin(code, u.Name)
	if err != nil {
		again.Error = msgUnknownCode
		p.render(w, http.StatusOK, "device", again)
		return
	}
	p.render(w, http.StatusOK, "confirm", page{
		Title: "Approve sign-in", Action: p.basePath + "/device/approve",
		Ticket: ticket, Username: u.Name, ClientID: clientID, Scopes: scopes,
	})
}

// deviceApprove records the decision; the device's next poll gets tokens
// or access_denied.
func (p *Provider) deviceApprove(w http.ResponseWriter, r *http.Request) {
	if !p.parseForm(w, r) {
		return
	}
	approve := r.PostForm.Get("action") == "approve"
	subject, err := p.store.deviceDecide(r.PostForm.Get("ticket"), approve)
	switch {
	case errors.Is(err, errUnknownDevice):
		p.render(w, http.StatusBadRequest, "message", page{Title: "Connect a device", Error: msgUnknownCode})
	case err != nil:
		p.render(w, http.StatusBadRequest, "message", page{Title: "Connect a device", Error: msgUnknownTicket})
	case approve:
		p.render(w, http.StatusOK, "message", page{Title: "Device approved",
			Message: "Signed in as " + subject + ". You can close this page and return to your terminal."})
	default:
		p.render(w, http.StatusOK, "message", page{Title: "Request denied",
			Message: "The device was not signed in. You can close this page."})
	}
}

const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · hoop dev</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
label { display: block; margin: 0 0 1rem; }
input { display: block; width: 100%; box-sizing: border-box; padding: .4rem; margin-top: .25rem; }
button { padding: .4rem 1rem; margin-right: .5rem; }
.error { color: #b00020; }
.note { color: #666; font-size: .85rem; margin-top: 2rem; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{end}}

{{define "foot"}}<p class="note">hoop development identity provider: local test users only.</p>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" .}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input name="username" value="{{.Username}}" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
{{template "foot" .}}{{end}}

{{define "device"}}{{template "head" .}}
<p>Enter the code shown in your terminal, then sign in.</p>
<form method="post" action="{{.Action}}">
<label>Code <input name="user_code" value="{{.UserCode}}" autocomplete="off" required></label>
<label>Username <input name="username" value="{{.Username}}" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Continue</button>
</form>
{{template "foot" .}}{{end}}

{{define "confirm"}}{{template "head" .}}
<p>Allow <strong>{{.ClientID}}</strong> on your device to sign in as <strong>{{.Username}}</strong>?</p>
{{if .Scopes}}<p>It asks for: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}.</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="ticket" value="{{.Ticket}}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>
{{template "foot" .}}{{end}}

{{define "message"}}{{template "head" .}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{template "foot" .}}{{end}}
`
