package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDeadTarget: a webhook that never answers blocks neither Review nor the other
// target. Review drops what the dead target's queue can't hold and counts it; the live
// target gets every review; Close gives up on the dead one at its deadline and counts
// what it held as dropped.
func TestDeadTarget(t *testing.T) {
	const n = 500
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer dead.Close()
	defer close(release)
	delivered := make(chan struct{}, n)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered <- struct{}{}
	}))
	defer live.Close()

	log, logs := testLog()
	nt, err := New([]Config{
		{Type: TypeWebhook, URL: dead.URL + "/dead", Queue: 10, Timeout: time.Hour},
		{Type: TypeWebhook, URL: live.URL + "/live", Queue: n},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	r := statementReview()
	start := time.Now()
	for i := range n {
		r.ID = fmt.Sprintf("r-%d", i)
		nt.Review(t.Context(), r)
	}
	// Review returned n times: nothing waited for the dead target.
	deadName, liveName := "webhook:"+dead.URL+"/dead", "webhook:"+live.URL+"/live"
	if dropped := nt.Dropped()[deadName]; dropped < n-10-1 {
		t.Errorf("dead target dropped %d before Close, want at least %d (its queue holds 10, its worker 1)", dropped, n-10-1)
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-delivered:
		case <-timeout:
			t.Fatalf("the live target got %d of %d reviews in 30s", i, n)
		}
	}
	select {
	case <-arrived: // the dead target is stuck in a request now
	case <-timeout:
		t.Fatal("the dead target got no request in 30s")
	}
	if err := closeWithin(t, nt, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: got %v, want the deadline error (the dead target never answered)", err)
	}
	sent, dropped := nt.Sent(), nt.Dropped()
	if sent[deadName] != 0 || dropped[deadName] != n {
		t.Errorf("dead target: sent %d, dropped %d; want 0, %d", sent[deadName], dropped[deadName], n)
	}
	if sent[liveName] != n || dropped[liveName] != 0 {
		t.Errorf("live target: sent %d, dropped %d; want %d, 0", sent[liveName], dropped[liveName], n)
	}
	// One line per 10 s at most, and at least one.
	if c, most := strings.Count(logs.String(), `why="queue full"`), 1+int(time.Since(start)/logEvery); c < 1 || c > most {
		t.Errorf("log: got %d queue-full lines, want 1 to %d:\n%s", c, most, logs)
	}

	// After Close, a review is dropped and counted, for every target.
	nt.Review(t.Context(), r)
	if d := nt.Dropped(); d[deadName] != n+1 || d[liveName] != 1 {
		t.Errorf("Review after Close: dropped %v, want %d and 1", d, n+1)
	}
	if err := nt.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestReviewCopies: the caller may change its review once Review returns; the target
// sends what it was given.
func TestReviewCopies(t *testing.T) {
	hold := make(chan struct{})
	bodies := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
		<-hold
	}))
	defer srv.Close()
	n, _ := notifyOne(t, Config{Type: TypeWebhook, URL: srv.URL})
	n.Review(t.Context(), accessReview()) // the worker waits in this one's request…
	r := statementReview()
	p := "42"
	r.Params = []*string{&p}
	n.Review(t.Context(), r) // …while this one waits in the queue, and the caller edits it
	r.Groups[0], p = "changed", "changed"
	close(hold)
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if sent := sum(n.Sent()); sent != 2 {
		t.Fatalf("sent %d, want 2", sent)
	}
	<-bodies
	if got := <-bodies; !strings.Contains(got, `"groups":["engineering"]`) || !strings.Contains(got, `"params":["42"]`) {
		t.Errorf("body: got %s, want the review as it was given", got)
	}
}

func TestNilNotifier(t *testing.T) {
	var n *Notifier
	n.Review(t.Context(), statementReview())
	if err := n.Close(t.Context()); err != nil || len(n.Sent()) != 0 || len(n.Dropped()) != 0 {
		t.Errorf("nil Notifier: Close %v, Sent %v, Dropped %v", err, n.Sent(), n.Dropped())
	}
	none, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	none.Review(t.Context(), statementReview())
	if err := none.Close(t.Context()); err != nil {
		t.Errorf("Close of a Notifier without targets: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	email := Config{Type: TypeEmail, Address: "smtp.example.com:587", From: "hoop@example.com", To: []string{"dba@example.com"}}
	with := func(f func(*Config)) Config {
		c := email
		c.To = append([]string(nil), email.To...)
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no type", Config{}, "notify target 0 (): no type (want slack, webhook or email)"},
		{"unknown type", Config{Type: "sms"}, `notify target 0 (sms): unknown type "sms" (want slack, webhook or email)`},
		{"slack without url", Config{Type: TypeSlack}, "notify target 0 (slack): want an http or https URL"},
		{"slack over http", Config{Type: TypeSlack, URL: "http://hooks.example.com/services/x"},
			"notify target 0 (slack:hooks.example.com): want an https URL (the URL is the webhook's credential; plain http only on a loopback address)"},
		{"slack with headers", Config{Type: TypeSlack, URL: "https://hooks.example.com/x", Headers: map[string]string{"A": "b"}},
			"notify target 0 (slack:hooks.example.com): headers are for a webhook target only"},
		{"webhook with a field of email", Config{Type: TypeWebhook, URL: "https://siem.example.com/hoop", To: []string{"a@example.com"}},
			"notify target 0 (webhook:https://siem.example.com/hoop): address, from, to, username, password and tls are for an email target only"},
		{"bad header name", Config{Type: TypeWebhook, URL: "https://siem.example.com/hoop", Headers: map[string]string{"Bad Header": "x"}},
			`notify target 0 (webhook:https://siem.example.com/hoop): bad header "Bad Header"`},
		{"header value on two lines", Config{Type: TypeWebhook, URL: "https://siem.example.com/hoop", Headers: map[string]string{"Authorization": "Bearer s3cret\r\nX: y"}},
			`notify target 0 (webhook:https://siem.example.com/hoop): bad header "Authorization"`},
		{"email address", with(func(c *Config) { c.Address = "smtp.example.com" }),
			"notify target 0 (email:smtp.example.com): address: want host:port, such as smtp.example.com:587"},
		{"email from", with(func(c *Config) { c.From = "hoop" }), `notify target 0 (email:smtp.example.com:587): from: "hoop": not an e-mail address`},
		{"email from with CRLF", with(func(c *Config) { c.From = "hoop@example.com\r\nBcc: x@example.com" }),
			"notify target 0 (email:smtp.example.com:587): from: want an e-mail address on one line"},
		{"email no to", with(func(c *Config) { c.To = nil }), "notify target 0 (email:smtp.example.com:587): to: want at least one address"},
		{"email to with LF", with(func(c *Config) { c.To = []string{"a@example.com\nRCPT TO:<x@example.com>"} }),
			"notify target 0 (email:smtp.example.com:587): to: want an e-mail address on one line"},
		{"email tls", with(func(c *Config) { c.TLS = "yes" }),
			`notify target 0 (email:smtp.example.com:587): unknown tls "yes" (want starttls, required or none)`},
		{"email password without user", with(func(c *Config) { c.Password = "s3cret" }),
			"notify target 0 (email:smtp.example.com:587): password set without username"},
		{"email auth in the clear", with(func(c *Config) { c.Username, c.Password, c.TLS = "hoop", "s3cret", TLSNone }),
			"notify target 0 (email:smtp.example.com:587): smtp auth refused without TLS to a host that is not loopback (tls: none)"},
		{"email url", with(func(c *Config) { c.URL = "https://x" }),
			"notify target 0 (email:smtp.example.com:587): url and headers are not used by an email target"},
	}
	for _, tt := range tests {
		n, err := New([]Config{tt.cfg}, nil)
		if got := fmt.Sprint(err); got != tt.want {
			t.Errorf("%s: New:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
		if n != nil {
			n.Close(t.Context())
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows a secret: %v", tt.name, err)
		}
	}
	if _, err := New([]Config{with(func(c *Config) { c.Username, c.Password, c.TLS, c.Address = "hoop", "pw", TLSNone, "127.0.0.1:25" })}, nil); err != nil {
		t.Errorf("auth in the clear to a loopback address: %v, want it allowed", err)
	}
}

// TestConfigHidesSecrets: a Config printed with any verb shows no password, no header
// value and no Slack URL path.
func TestConfigHidesSecrets(t *testing.T) {
	for _, c := range []Config{
		{Type: TypeEmail, Address: "smtp.example.com:587", From: "hoop@example.com", To: []string{"a@example.com"}, Username: "hoop", Password: "hunter2"},
		{Type: TypeWebhook, URL: "https://siem.example.com/hoop", Headers: map[string]string{"Authorization": "Bearer hunter2"}},
		{Type: TypeSlack, URL: "https://hooks.slack.com/services/T0/B0/hunter2"},
	} {
		for _, format := range []string{"%v", "%s", "%+v", "%#v"} {
			for _, v := range []any{c, []Config{c}} {
				if got := fmt.Sprintf(format, v); got == "" || strings.Contains(got, "hunter2") {
					t.Errorf("Sprintf(%q, %s config): got %q, want no secret", format, c.Type, got)
				}
			}
		}
	}
}

// TestNames: the names of Sent and Dropped carry no credential, and two targets with one
// name are told apart.
func TestNames(t *testing.T) {
	n, err := New([]Config{
		{Type: TypeSlack, URL: "https://hooks.slack.com/services/T0/B0/x"},
		{Type: TypeSlack, URL: "https://hooks.slack.com/services/T1/B1/y"},
		{Type: TypeWebhook, URL: "https://user:pw@siem.example.com/hoop?token=x"},
		{Type: TypeEmail, Address: "smtp.example.com:587", From: "hoop@example.com", To: []string{"a@example.com"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(t.Context())
	want := map[string]uint64{"slack:hooks.slack.com": 0, "slack:hooks.slack.com#2": 0,
		"webhook:https://siem.example.com/hoop": 0, "email:smtp.example.com:587": 0}
	if got := n.Sent(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Sent: got %v, want %v", got, want)
	}
}
