package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hookServer is a webhook receiver: it answers each request with the next status of
// statuses (then 200), and keeps what it got.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
	headers  []http.Header
	paths    []string
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		h.mu.Lock()
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.bodies = append(h.bodies, string(body))
		h.headers = append(h.headers, r.Header.Clone())
		h.paths = append(h.paths, r.Method+" "+r.URL.Path)
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

// got returns the bodies, headers and "METHOD /path" of the requests so far.
func (h *hookServer) got() ([]string, []http.Header, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...), append([]http.Header(nil), h.headers...), append([]string(nil), h.paths...)
}

// notifyOne returns a Notifier with the one target cfg.
func notifyOne(t *testing.T, cfg Config) (*Notifier, *lockedBuffer) {
	t.Helper()
	log, logs := testLog()
	n, err := New([]Config{cfg}, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n, logs
}

// jsonString is s as a JSON string, for bodies written out in full.
func jsonString(s string) string {
	b, err := marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestSlack: the exact body of a held statement and of an access request: who, what,
// where, the rule and the review's link, in text and in blocks.
func TestSlack(t *testing.T) {
	h := newHookServer(t)
	n, _ := notifyOne(t, Config{Type: TypeSlack, URL: h.URL + "/services/T0/B0/secret"})
	n.Review(t.Context(), statementReview())
	n.Review(t.Context(), accessReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	bodies, headers, paths := h.got()
	if len(bodies) != 2 {
		t.Fatalf("got %d requests, want 2", len(bodies))
	}

	stmt := "*alice@example.com* wants to run a write on *db-prod*\n" +
		"```DELETE FROM orders WHERE id = 1```\n" +
		"Rule: prod-writes · Reason: INC-123\n" +
		"<https://hoop.example.com/reviews/r-17|Review r-17>"
	access := "*bob@example.com* asks for access to *db-prod* for 1h: INC-123\n" +
		"Rule: oncall-jit\n" +
		"<https://hoop.example.com/reviews/r-18|Review r-18>"
	body := func(text, foot string) string {
		return `{"text":` + jsonString(text) + `,"blocks":[` +
			`{"type":"section","text":{"type":"mrkdwn","text":` + jsonString(text) + `}},` +
			`{"type":"context","elements":[{"type":"mrkdwn","text":` + jsonString(foot) + `}]}]}`
	}
	want := []string{
		body(stmt, "Expires 2026-07-01 10:15 UTC · `hoop approvals approve r-17`"),
		body(access, "Expires 2026-07-01 10:30 UTC · `hoop approvals approve r-18`"),
	}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
	for i, hd := range headers {
		if got := hd.Get("Content-Type"); got != "application/json" {
			t.Errorf("request %d: Content-Type %q, want application/json", i, got)
		}
		if paths[i] != "POST /services/T0/B0/secret" {
			t.Errorf("request %d: got %q, want POST /services/T0/B0/secret", i, paths[i])
		}
	}
	host := strings.TrimPrefix(h.URL, "http://")
	if sent := n.Sent(); sent["slack:"+host] != 2 {
		t.Errorf("Sent: got %v, want 2 for slack:%s (the URL's path is its secret: not in the name)", sent, host)
	}
}

// TestSlackEscapes: a requester can't write Slack markup (a mention, a link), a long
// statement is cut, and a statement can't end its code block.
func TestSlackEscapes(t *testing.T) {
	r := statementReview()
	r.Requester = "<!channel> & <https://evil.example|click>"
	r.SQL = "SELECT '```' || 'a < b & c > d'" + strings.Repeat(" , x", 200)
	r.URL = "https://hoop.example.com/reviews/r-17?a=1&b=|"
	got, err := slackBody(&r)
	if err != nil {
		t.Fatal(err)
	}
	var msg slackMessage
	if err := json.Unmarshal(got, &msg); err != nil {
		t.Fatalf("unmarshal %s: %v", got, err)
	}
	lines := strings.Split(msg.Text, "\n")
	if want := "*&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;* wants to run a write on *db-prod*"; lines[0] != want {
		t.Errorf("headline: got %q, want %q", lines[0], want)
	}
	stmt := strings.TrimSuffix(strings.TrimPrefix(lines[1], "```"), "```")
	if !strings.HasPrefix(stmt, "SELECT '`\u200b`\u200b`' || 'a &lt; b &amp; c &gt; d' , x") || !strings.HasSuffix(stmt, "…") {
		t.Errorf("statement: got %q, want it escaped and cut", stmt)
	}
	if strings.Contains(stmt, "```") {
		t.Errorf("statement: got %q, want no ``` inside the code block", stmt)
	}
	// The cut is before escaping: 10 more for the entities, 2 for the zero-width spaces.
	if n := len([]rune(stmt)); n > maxStatement+1+10+2 {
		t.Errorf("statement: %d characters, want it cut near %d", n, maxStatement)
	}
	if want := "<https://hoop.example.com/reviews/r-17?a=1&amp;b=%7C|Review r-17>"; lines[len(lines)-1] != want {
		t.Errorf("link: got %q, want %q", lines[len(lines)-1], want)
	}
}

// TestWebhook: the exact body, {"event": "review.opened", "review": <api.Review>}, with
// the configured headers.
func TestWebhook(t *testing.T) {
	h := newHookServer(t)
	n, _ := notifyOne(t, Config{Type: TypeWebhook, URL: h.URL + "/hoop",
		Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Source": "hoop"}})
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	bodies, headers, paths := h.got()
	if len(bodies) != 1 {
		t.Fatalf("got %d requests, want 1", len(bodies))
	}
	want := `{"event":"review.opened","review":{"id":"r-17","kind":"statement","state":"pending",` +
		`"requester":"alice@example.com","groups":["engineering"],"connection":"db-prod","session":"s-1",` +
		`"sql":"DELETE FROM orders\n  WHERE id = 1","class":"write","rule":"prod-writes","reason":"INC-123",` +
		`"created":"2026-07-01T10:00:00Z","expires":"2026-07-01T10:15:00Z","min_approvals":1,` +
		`"url":"https://hoop.example.com/reviews/r-17"}}`
	if bodies[0] != want {
		t.Errorf("body:\ngot  %s\nwant %s", bodies[0], want)
	}
	for k, v := range map[string]string{"Authorization": "Bearer s3cret", "X-Source": "hoop",
		"Content-Type": "application/json", "User-Agent": "hoopd"} {
		if got := headers[0].Get(k); got != v {
			t.Errorf("header %s: got %q, want %q", k, got, v)
		}
	}
	if paths[0] != "POST /hoop" {
		t.Errorf("request: got %q, want POST /hoop", paths[0])
	}
}

// TestHTTPRetries: 5xx, 429 and 408 are tried again until a 2xx or the last attempt;
// another 4xx gives up at once. Every give-up is counted as dropped, and logged.
func TestHTTPRetries(t *testing.T) {
	tests := []struct {
		name           string
		statuses       []int
		attempts       int
		requests       int
		sent, dropped  uint64
		logGaveUp      bool
		logMentionsTry string
	}{
		{"503 then 502 then ok", []int{503, 502}, 5, 3, 1, 0, false, ""},
		{"429 and 408 then ok", []int{429, 408}, 5, 3, 1, 0, false, ""},
		{"500 until the last try", []int{500, 500, 500, 500}, 3, 3, 0, 1, true, "after 3 tries"},
		{"400 is final", []int{400}, 5, 1, 0, 1, true, "answered 400"},
		{"401 is final", []int{401}, 5, 1, 0, 1, true, "answered 401"},
		{"a redirect is not followed", []int{302}, 5, 1, 0, 1, true, "answered 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, typ := range []string{TypeSlack, TypeWebhook} {
				h := newHookServer(t, tt.statuses...)
				log, logs := testLog()
				n, err := New([]Config{{Type: typ, URL: h.URL + "/secret-path", Attempts: tt.attempts,
					Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}}, log)
				if err != nil {
					t.Fatal(err)
				}
				n.Review(t.Context(), statementReview())
				if err := closeWithin(t, n, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				bodies, _, _ := h.got()
				if len(bodies) != tt.requests {
					t.Errorf("%s: got %d requests, want %d", typ, len(bodies), tt.requests)
				}
				for i := range bodies {
					if bodies[i] != bodies[0] {
						t.Errorf("%s: try %d sent another body:\n%s\nfirst:\n%s", typ, i+1, bodies[i], bodies[0])
					}
				}
				if sent, dropped := sum(n.Sent()), sum(n.Dropped()); sent != tt.sent || dropped != tt.dropped {
					t.Errorf("%s: sent %d, dropped %d; want %d, %d", typ, sent, dropped, tt.sent, tt.dropped)
				}
				out := logs.String()
				if got := strings.Contains(out, "gave a review up"); got != tt.logGaveUp {
					t.Errorf("%s: log has a give-up: %v, want %v:\n%s", typ, got, tt.logGaveUp, out)
				}
				if !strings.Contains(out, tt.logMentionsTry) {
					t.Errorf("%s: log: want %q in:\n%s", typ, tt.logMentionsTry, out)
				}
				if typ == TypeSlack && strings.Contains(out, "secret-path") {
					t.Errorf("slack: the log shows the webhook URL's path, its credential:\n%s", out)
				}
			}
		})
	}
}

// TestSlackURLNotLogged: a network error names the URL, which for Slack is the
// credential; the log gets the cause without it.
func TestSlackURLNotLogged(t *testing.T) {
	h := newHookServer(t)
	url := h.URL + "/services/T0/B0/secret"
	h.Close() // nothing listens there now: every try fails with a network error
	log, logs := testLog()
	n, err := New([]Config{{Type: TypeSlack, URL: url, Attempts: 2, Backoff: time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if sum(n.Dropped()) != 1 || !strings.Contains(out, "gave a review up") || !strings.Contains(out, "connect") {
		t.Errorf("dropped %v; want 1, and a log line with the cause:\n%s", n.Dropped(), out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the log shows the webhook URL's path:\n%s", out)
	}
}

func sum(m map[string]uint64) uint64 {
	var s uint64
	for _, v := range m {
		s += v
	}
	return s
}
