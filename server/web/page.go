package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/identity"
)

// timeLayout is how the pages write an instant.
const timeLayout = "2006-01-02 15:04:05 UTC"

// reviewPage is what the review template shows.
type reviewPage struct {
	Title     string
	Viewer    string // "dana@example.com"
	Review    api.Review
	Statement bool   // a held statement, not an access request
	Pending   bool   //
	Flash     string // the result of the viewer's decision
	Error     string // why the decision was refused
	Reason    string // the refused denial's reason, to fill the form again
	Action    string // the forms' target: "/reviews/r-…"
	CSRF      string //
	Asked     string // "2026-01-02 15:04:05 UTC"
	Waited    string // "12 minutes"
	Expires   string // "2026-01-02 15:34:05 UTC"
	ExpiresIn string // "in 18 minutes", "" when not pending
	Params    []param
	Approvals []decision
	Denial    *decision
	MaxReason int
}

type param struct {
	N     int    // 1 for $1
	Value string //
	Null  bool   //
}

type decision struct {
	By, At, Reason string
}

// messagePage is an error or a notice on its own page.
type messagePage struct {
	Title    string
	Viewer   string
	Error    string
	Link     string // a path to go on: "/reviews/r-…"
	LinkText string // "Open the review"
}

// reviewPage builds the page of rv for the session s.
func (h *Handler) reviewPage(rv api.Review, s session) reviewPage {
	now := h.now()
	pg := reviewPage{
		Title:     "Review " + rv.ID,
		Viewer:    s.Who.String(),
		Review:    rv,
		Statement: rv.Kind != api.ReviewAccess,
		Pending:   rv.State == api.ReviewPending,
		Action:    h.reviewPath(rv.ID),
		CSRF:      h.csrfToken(s.ID, rv.ID),
		Asked:     stamp(rv.Created),
		Expires:   stamp(rv.Expires),
		MaxReason: maxReasonRunes,
	}
	if !rv.Created.IsZero() {
		pg.Waited = ago(now.Sub(rv.Created))
	}
	if pg.Pending && !rv.Expires.IsZero() {
		if left := rv.Expires.Sub(now); left > 0 {
			pg.ExpiresIn = "in " + ago(left)
		} else {
			pg.ExpiresIn = "now"
		}
	}
	for i, p := range rv.Params {
		if p == nil {
			pg.Params = append(pg.Params, param{N: i + 1, Null: true})
		} else {
			pg.Params = append(pg.Params, param{N: i + 1, Value: *p})
		}
	}
	for _, a := range rv.Approvals {
		pg.Approvals = append(pg.Approvals, decision{By: a.By, At: stamp(a.At), Reason: a.Reason})
	}
	if d := rv.Denial; d != nil {
		pg.Denial = &decision{By: d.By, At: stamp(d.At), Reason: d.Reason}
	}
	return pg
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// ago writes a duration the way a person says it: "under a minute", "12 minutes", "2 h 5 min".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		m := int(d / time.Minute)
		return strconv.Itoa(m) + " " + plural(m, "minute", "minutes")
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// render writes a page with headers that keep it out of caches, frames and other origins.
// Referrer-Policy same-origin makes the browser send Origin on the page's own POSTs.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.internalError(w, "render "+name, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (h *Handler) message(w http.ResponseWriter, status int, who *identity.Identity, pg messagePage) {
	if who != nil {
		pg.Viewer = who.String()
	}
	h.render(w, status, "message", pg)
}

// internalError logs err and shows a page that says nothing of it.
func (h *Handler) internalError(w http.ResponseWriter, op string, err error) {
	h.log.Error("web: "+op, "error", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("Internal error: the review page could not be shown. The gateway's log has the details.\n"))
}

var pages = template.Must(template.New("pages").Parse(pagesHTML))

const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · hoop</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.4; }
header { display: flex; justify-content: space-between; color: #666; font-size: .9rem; border-bottom: 1px solid #ddd; padding-bottom: .5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { color: #666; }
dd { margin: 0; }
pre { background: #f5f5f5; border: 1px solid #ddd; padding: .75rem; overflow-x: auto; white-space: pre-wrap; }
.state { font-size: .8rem; padding: .1rem .5rem; border-radius: .8rem; background: #eee; vertical-align: middle; }
.state-pending { background: #fff3cd; } .state-approved, .state-used { background: #d4edda; } .state-denied { background: #f8d7da; }
.notice { padding: .6rem .8rem; border-radius: .3rem; }
.ok { background: #d4edda; } .error { background: #f8d7da; color: #721c24; }
.decide { display: flex; gap: 2rem; align-items: flex-end; flex-wrap: wrap; margin-top: 1.5rem; }
.decide label { display: block; }
.decide input[type=text] { width: 20rem; max-width: 100%; padding: .3rem; }
button { padding: .45rem 1.2rem; font-size: 1rem; cursor: pointer; }
.approve button { background: #1e7e34; color: #fff; border: 0; border-radius: .3rem; }
.muted { color: #666; }
</style>
</head>
<body>
<header><span>hoop · reviews</span>{{if .Viewer}}<span id="viewer">Signed in as {{.Viewer}}</span>{{end}}</header>
{{end}}

{{define "foot"}}</body>
</html>
{{end}}

{{define "review"}}{{template "head" .}}
{{with .Review}}
{{if $.Flash}}<p id="flash" class="notice ok" role="status">{{$.Flash}}</p>{{end}}
{{if $.Error}}<p id="error" class="notice error" role="alert">{{$.Error}}</p>{{end}}
<h1>{{if $.Statement}}Statement{{else}}Access{{end}} review {{.ID}} <span id="state" class="state state-{{.State}}">{{.State}}</span></h1>
<dl>
<dt>Requested by</dt><dd id="requester">{{.Requester}}{{if .Groups}} <span class="muted">(groups: {{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}})</span>{{end}}</dd>
<dt>Connection</dt><dd id="connection">{{.Connection}}</dd>
{{if $.Statement}}{{if .Class}}<dt>Class</dt><dd>{{.Class}}</dd>{{end}}{{else}}<dt>Access for</dt><dd>{{.Duration}}</dd>{{end}}
{{if .Rule}}<dt>Policy rule</dt><dd id="rule">{{.Rule}}</dd>{{end}}
<dt>Reason</dt><dd id="reason">{{if .Reason}}{{.Reason}}{{else}}<span class="muted">none given</span>{{end}}</dd>
{{if .Session}}<dt>Session</dt><dd>{{.Session}}</dd>{{end}}
{{if $.Asked}}<dt>Asked</dt><dd>{{$.Asked}}{{if $.Waited}} <span class="muted">({{if $.Pending}}waiting for {{$.Waited}}{{else}}{{$.Waited}} ago{{end}})</span>{{end}}</dd>{{end}}
{{if and $.Expires $.Pending}}<dt>Expires</dt><dd>{{$.Expires}}{{if $.ExpiresIn}} <span class="muted">({{$.ExpiresIn}})</span>{{end}}</dd>{{end}}
{{if and $.Expires (eq .State "expired")}}<dt>Expired</dt><dd>{{$.Expires}}</dd>{{end}}
<dt>Approvals</dt><dd id="approvals">{{len .Approvals}} of {{.MinApprovals}}{{range $.Approvals}}<br>{{.By}} <span class="muted">at {{.At}}</span>{{end}}</dd>
{{with $.Denial}}<dt>Denied by</dt><dd id="denial">{{.By}} <span class="muted">at {{.At}}</span>{{if .Reason}}: {{.Reason}}{{end}}</dd>{{end}}
</dl>
{{if $.Statement}}
<h2>Statement</h2>
<pre id="sql">{{.SQL}}</pre>
<p class="muted" id="masked-note">Shown as the session's recording keeps it: values the masking rules hide are masked here too, and the gateway runs the statement exactly as it was held.</p>
{{if $.Params}}<h2>Parameters</h2>
<dl id="params">{{range $.Params}}<dt>${{.N}}</dt><dd>{{if .Null}}<span class="muted">NULL</span>{{else}}<code>{{.Value}}</code>{{end}}</dd>{{end}}</dl>{{end}}
{{end}}
{{if $.Pending}}
<div class="decide">
<form class="approve" method="post" action="{{$.Action}}">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<input type="hidden" name="action" value="approve">
<button id="approve" type="submit">Approve</button>
</form>
<form class="deny" method="post" action="{{$.Action}}">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<input type="hidden" name="action" value="deny">
<label>Reason to deny <input id="deny-reason" type="text" name="reason" value="{{$.Reason}}" maxlength="{{$.MaxReason}}" required></label>
<button id="deny" type="submit">Deny</button>
</form>
</div>
<p class="muted">Approving lets {{if $.Statement}}this exact statement run once{{else}}the requester reach {{.Connection}} for {{.Duration}}{{end}}. Nobody approves their own request.</p>
{{end}}
{{end}}
{{template "foot" .}}{{end}}

{{define "message"}}{{template "head" .}}
<h1>{{.Title}}</h1>
{{if .Error}}<p id="error" class="notice error" role="alert">{{.Error}}</p>{{end}}
{{if .Link}}<p><a href="{{.Link}}">{{.LinkText}}</a></p>{{end}}
{{template "foot" .}}{{end}}
`
