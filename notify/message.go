package notify

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hoopgw/hoop/api"
)

// maxStatement is how much of a held statement a message shows, in characters; the
// review's page shows all of it.
const maxStatement = 300

// maxField is how much of any other field (a requester, a reason) a message shows.
const maxField = 200

// oneLine returns s on one line, at most limit characters: every run of white space and
// control characters (CR, LF, NUL, escape sequences) becomes one space, and bidirectional
// controls, which can make a statement read differently from what runs, become U+FFFD.
// A cut string ends with "…".
func oneLine(s string, limit int) string {
	var b strings.Builder
	n := 0
	space := false // a space is due before the next character
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = n > 0
			continue
		}
		if bidi(r) {
			r = utf8.RuneError
		}
		need := 1
		if space {
			need = 2
		}
		if n+need > limit {
			b.WriteString("…")
			return b.String()
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// bidi reports whether r is a bidirectional formatting character (Trojan Source,
// CVE-2021-42574).
func bidi(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// facts is what every message says about a review, each field on one line and cut to
// length; escape is applied to the text the review's fields carry (Slack's, or none).
type facts struct {
	Access     bool   // a request for access, not a held statement
	ID         string // "r-17"
	Requester  string // "alice@example.com"
	Connection string // "db-prod"
	What       string // "wants to run a write" or "asks for access"
	For        string // "1h" (access only)
	Statement  string // "DELETE FROM orders WHERE id = 1" (statement only)
	Class      string // "write"
	Rule       string // "prod-writes"
	Reason     string // "INC-123"
	Groups     string // "engineering, oncall"
	Expires    string // "2026-07-01 10:15 UTC"
	URL        string // "https://hoop.example.com/reviews/r-17"
}

func factsOf(r *api.Review) facts {
	f := facts{
		ID:         oneLine(r.ID, maxField),
		Requester:  oneLine(r.Requester, maxField),
		Connection: oneLine(r.Connection, maxField),
		Class:      oneLine(r.Class, maxField),
		Rule:       oneLine(r.Rule, maxField),
		Reason:     oneLine(r.Reason, maxField),
		Groups:     oneLine(strings.Join(r.Groups, ", "), maxField),
		URL:        oneLine(r.URL, 2000),
	}
	if f.Requester == "" {
		f.Requester = "someone"
	}
	if !r.Expires.IsZero() {
		f.Expires = r.Expires.UTC().Format("2006-01-02 15:04 UTC")
	}
	if r.Kind == api.ReviewAccess {
		f.Access = true
		f.What = "asks for access"
		f.For = oneLine(shortDuration(r.Duration), maxField)
		return f
	}
	f.What = "wants to run " + classPhrase(f.Class)
	f.Statement = oneLine(r.SQL, maxStatement)
	return f
}

// escape returns f with fn applied to every field that comes from the review.
func (f facts) escape(fn func(string) string) facts {
	for _, p := range []*string{&f.ID, &f.Requester, &f.Connection, &f.For, &f.Statement, &f.Class,
		&f.Rule, &f.Reason, &f.Groups, &f.Expires, &f.URL} {
		*p = fn(*p)
	}
	f.What = fn(f.What)
	return f
}

// headline is "alice@example.com wants to run a write on db-prod" or
// "alice@example.com asks for access to db-prod for 1h", with mark around the requester
// and the connection ("*" for Slack's bold).
func (f facts) headline(mark string) string {
	s := mark + f.Requester + mark + " " + f.What
	if !f.Access {
		return s + " on " + mark + f.Connection + mark
	}
	s += " to " + mark + f.Connection + mark
	if f.For != "" {
		s += " for " + f.For
	}
	return s
}

// classPhrase is what the requester wants to run: "a write", "DDL".
func classPhrase(class string) string {
	switch class {
	case "":
		return "a statement"
	case "read", "write":
		return "a " + class
	case "ddl":
		return "DDL"
	case "admin":
		return "an admin statement"
	}
	return "a " + class + " statement"
}

// shortDuration turns "1h0m0s" into "1h" and "1h30m0s" into "1h30m"; anything that is
// not a duration is left as it is.
func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return s
	}
	out := d.String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}
