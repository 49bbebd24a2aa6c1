package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"
	"github.com/muesli/termenv"

	"github.com/hoopgw/hoop/api"
)

// The UI's tests drive the model as a plain function: fixed key messages and an 80×24
// window, with its commands run for real against the fake gateway over HTTP. A command
// that does not finish within the timeout fails the test; nothing waits on the clock.

const cmdTimeout = 10 * time.Second

// newTestModel is the UI as token's holder sees it, with the list the gateway gives,
// its clock stopped at the fake's now, in an 80×24 window.
func newTestModel(t *testing.T, g *fakeGateway, token string) approvalsModel {
	t.Helper()
	c := newReviewClient(g.factory(token))
	list, err := c.Reviews(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	m := newApprovalsModel(approvalsConfig{
		api:     c,
		reviews: list,
		styles:  newApprovalsStyles(approvalsRenderer(io.Discard, g.env(token))),
		now:     func() time.Time { return g.now },
	})
	return drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
}

// drive gives the model each message in turn, and after each one the messages of the
// commands it returned, as a program would.
func drive(t *testing.T, m approvalsModel, msgs ...tea.Msg) approvalsModel {
	t.Helper()
	for _, msg := range msgs {
		next, cmd := m.Update(msg)
		m = next.(approvalsModel)
		for _, res := range runCmd(t, cmd) {
			m = drive(t, m, res)
		}
	}
	return m
}

func runCmd(t *testing.T, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(cmdTimeout):
		t.Fatal("a command did not finish")
	}
	switch msg := msg.(type) {
	case nil, tea.QuitMsg:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, runCmd(t, c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// keys are the key presses that type s.
func keys(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		if r == ' ' {
			out = append(out, tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		} else {
			out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		}
	}
	return out
}

var (
	enter = tea.KeyMsg{Type: tea.KeyEnter}
	esc   = tea.KeyMsg{Type: tea.KeyEsc}
)

// screen is the model's view, checked to fit its window and to carry no escape codes
// (the test renderer writes to no terminal).
func screen(t *testing.T, m approvalsModel) string {
	t.Helper()
	v := m.View()
	lines := strings.Split(v, "\n")
	if len(lines) > m.height {
		t.Errorf("%d lines on a %d-line terminal:\n%s", len(lines), m.height, v)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > m.width {
			t.Errorf("line %d is %d cells wide on a %d-cell terminal: %q", i+1, w, m.width, l)
		}
	}
	if strings.ContainsAny(v, "\x1b\x07\u202e") {
		t.Errorf("escape codes or bidirectional overrides in the view: %q", v)
	}
	return v
}

func wantIn(t *testing.T, view string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(view, w) {
			t.Errorf("the screen does not show %q:\n%s", w, view)
		}
	}
}

// rowShown says whether the list on the screen has a row for review id.
func rowShown(view, id string) bool {
	return strings.Contains(view, "\n  "+id+"  ") || strings.Contains(view, "\n> "+id+"  ")
}

func wantNotIn(t *testing.T, view string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(view, w) {
			t.Errorf("the screen shows %q:\n%s", w, view)
		}
	}
}

func statusLine(t *testing.T, m approvalsModel) string {
	t.Helper()
	lines := strings.Split(screen(t, m), "\n")
	return lines[len(lines)-2]
}

// TestApprovalsTUIList: the pending reviews, oldest first, with how long each has
// waited, the first selected; the waiting times move on with the clock.
func TestApprovalsTUIList(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	want := strings.Join([]string{
		"hoop approvals · 3 pending · live",
		"  ID   REQUESTER          CONNECTION  WAITING  WHAT",
		"> r-2  bob@example.com    db-prod     1d02h    access 1h: INC-456 disk full",
		"  r-3  dana@example.com   db-staging  5h10m    DELETE FROM sessions WHERE expir…",
		"  r-1  alice@example.com  db-prod     2h05m    UPDATE accounts SET balance = ba…",
	}, "\n") + strings.Repeat("\n", 24-5) +
		"enter details • a approve (y/n) • d deny (a reason) • / filter • ? help • q quit"
	got := screen(t, m)
	if got != want {
		t.Errorf("screen (-want +got):\n%s", cmp.Diff(strings.Split(want, "\n"), strings.Split(got, "\n")))
	}

	m = drive(t, m, tickMsg(g.now.Add(2*time.Minute+time.Second)))
	wantIn(t, screen(t, m), "1d02h", "5h12m", "2h07m")
}

// TestApprovalsTUIApprove: a asks, n leaves the review alone, y approves it; the gateway
// gets the POST, the status line says so and the review leaves the list.
func TestApprovalsTUIApprove(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	m = drive(t, m, keys("jja")...)
	if got, want := statusLine(t, m), "Approve r-1 by alice@example.com on db-prod? y/n"; !strings.HasPrefix(got, want) {
		t.Errorf("status line %q, want %q", got, want)
	}
	m = drive(t, m, keys("n")...)
	if len(g.decisions()) != 0 {
		t.Fatalf("n sent %v", g.decisions())
	}
	if got, want := statusLine(t, m), "not approved: r-1"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}

	m = drive(t, m, keys("ay")...)
	want := []fakePost{{Path: "/api/v1/reviews/r-1/approve", Caller: "dana@example.com"}}
	if diff := cmp.Diff(want, g.decisions()); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if got, want := statusLine(t, m), "approved r-1"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
	v := screen(t, m)
	wantIn(t, v, "2 pending")
	if rowShown(v, "r-1") || !rowShown(v, "r-2") || !rowShown(v, "r-3") {
		t.Errorf("want r-2 and r-3 listed, r-1 gone:\n%s", v)
	}
}

// TestApprovalsTUIDeny: d asks for a reason, refuses an empty one, and sends the one
// typed; esc cancels.
func TestApprovalsTUIDeny(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")

	m = drive(t, m, keys("d")...)
	m = drive(t, m, esc)
	if got, want := statusLine(t, m), "not denied: r-2"; got != want {
		t.Errorf("after esc, status line %q, want %q", got, want)
	}

	m = drive(t, m, keys("d")...)
	wantIn(t, statusLine(t, m), "Deny r-2, reason: ")
	m = drive(t, m, keys("   ")...)
	m = drive(t, m, enter)
	if len(g.decisions()) != 0 {
		t.Fatalf("a blank reason was sent: %v", g.decisions())
	}
	wantIn(t, screen(t, m), "a denial needs a reason")

	m = drive(t, m, keys("not during the freeze")...)
	m = drive(t, m, enter)
	want := []fakePost{{Path: "/api/v1/reviews/r-2/deny", Caller: "dana@example.com", Reason: "not during the freeze"}}
	if diff := cmp.Diff(want, g.decisions()); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if got, want := statusLine(t, m), "denied r-2"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
	if v := screen(t, m); rowShown(v, "r-2") {
		t.Errorf("r-2 is still listed:\n%s", v)
	}
}

// TestApprovalsTUISelfApproval: the gateway refuses dana's approval of her own request;
// the status line shows its reason and the review stays.
func TestApprovalsTUISelfApproval(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	m = drive(t, m, keys("jay")...)
	if got := len(g.decisions()); got != 1 {
		t.Fatalf("%d decisions sent, want 1", got)
	}
	if got, want := statusLine(t, m), "could not approve r-3: you may not approve or deny your own request r-3"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
	wantIn(t, screen(t, m), "3 pending", "> r-3")
}

// TestApprovalsTUIFilter: / filters by requester, connection or text as it is typed;
// enter keeps the filter, esc clears it; a decision acts on the review shown.
func TestApprovalsTUIFilter(t *testing.T) {
	tests := []struct {
		filter string
		shown  []string
	}{
		{"BOB", []string{"r-2"}},
		{"staging", []string{"r-3"}},
		{"accounts", []string{"r-1"}},
		{"INC-", []string{"r-2", "r-1"}},
		{"nothing like it", nil},
	}
	g := newFakeGateway(t)
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			m := newTestModel(t, g, "tok-dana")
			m = drive(t, m, keys("/"+tt.filter)...)
			wantIn(t, statusLine(t, m), "Filter: "+tt.filter)
			m = drive(t, m, enter)
			v := screen(t, m)
			wantIn(t, v, fmt.Sprintf("%d of 3 pending match %q", len(tt.shown), tt.filter))
			for _, id := range []string{"r-1", "r-2", "r-3"} {
				if shown := rowShown(v, id); shown != slices.Contains(tt.shown, id) {
					t.Errorf("%s shown: %v, want %v:\n%s", id, shown, !shown, v)
				}
			}
			if len(tt.shown) == 0 {
				wantIn(t, v, "No pending review matches")
			} else {
				m = drive(t, m, keys("a")...)
				wantIn(t, statusLine(t, m), "Approve "+tt.shown[0]+" ")
				m = drive(t, m, keys("n")...)
			}
			m = drive(t, m, esc)
			if v := screen(t, m); !rowShown(v, "r-1") || !rowShown(v, "r-2") || !rowShown(v, "r-3") {
				t.Errorf("esc did not clear the filter:\n%s", v)
			}
		})
	}
}

// TestApprovalsTUIHelp: ? lists every key, ? again goes back.
func TestApprovalsTUIHelp(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	m = drive(t, m, keys("?")...)
	v := screen(t, m)
	for _, k := range newApprovalsKeys().all() {
		wantIn(t, v, k.Help().Key, k.Help().Desc)
	}
	wantIn(t, v, "y ", "n, esc", "ctrl+c")
	m = drive(t, m, keys("?")...)
	wantIn(t, screen(t, m), "> r-2")
}

// TestApprovalsTUIDetail: enter shows everything an approver needs; esc goes back.
func TestApprovalsTUIDetail(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	m = drive(t, m, keys("jj")...)
	m = drive(t, m, enter)
	r1 := g.pending("dana@example.com")[2]
	v := screen(t, m)
	wantIn(t, v,
		"hoop approvals · r-1 · 3 pending · live",
		"review      statement (write), pending",
		"requester   alice@example.com",
		"groups      engineering",
		"connection  db-prod, session s-11",
		"rule        prod-writes-need-review",
		"reason      INC-123",
		"waiting     2h05m, since "+clock(r1.Created, g.now),
		"expires     in 1h00m, at "+clock(r1.Expires, g.now),
		"approvals   0 of 1",
		"web         https://hoop.example.com/reviews/r-1",
		"statement\n  UPDATE accounts\n     SET balance = balance - $1, updated_at = now()\n   WHERE id = $2 AND owner = $3\n",
		`params`+"\n"+`  $1 = "100"`+"\n"+`  $2 = "42"`+"\n"+`  $3 = NULL`,
		"esc back",
	)
	m = drive(t, m, keys("a")...)
	wantIn(t, statusLine(t, m), "Approve r-1 by alice@example.com")
	m = drive(t, m, esc, esc)
	wantIn(t, screen(t, m), "> r-1", "enter details")

	// An access request says what access and for how long.
	m = drive(t, m, keys("g")...)
	m = drive(t, m, enter)
	v = screen(t, m)
	wantIn(t, v, "review      access for 1h, pending", "reason      INC-456 disk full")
	wantNotIn(t, v, "statement")
}

// TestApprovalsTUIDeparture: a review that leaves while its approval is being asked
// ends the question, and the status line says why.
func TestApprovalsTUIDeparture(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	m = drive(t, m, keys("jja")...)
	r1 := g.pending("dana@example.com")[2]
	r1.State = api.ReviewWithdrawn
	m = drive(t, m, reviewMsg{review: r1})
	if got, want := statusLine(t, m), "r-1 was withdrawn by its requester before you decided"; got != want {
		t.Errorf("status line %q, want %q", got, want)
	}
	m = drive(t, m, keys("y")...)
	if len(g.decisions()) != 0 {
		t.Errorf("a y after the question ended sent %v", g.decisions())
	}
	wantIn(t, screen(t, m), "2 pending", "> r-3")
}

// TestApprovalsTUILive: the list follows the gateway's event stream: a new review
// appears, a withdrawn one leaves, and when the stream drops the watcher reconnects and
// lists again, so a review withdrawn while it was away leaves too. Real HTTP, real
// server-sent events, the real watcher; only its backoff is short.
func TestApprovalsTUILive(t *testing.T) {
	g := newFakeGateway(t)
	m := newTestModel(t, g, "tok-dana")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := make(chan tea.Msg, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchReviews(ctx, newReviewClient(g.factory("tok-dana")), feed, watchConfig{minBackoff: time.Millisecond, maxBackoff: 10 * time.Millisecond, stable: time.Hour})
	}()
	defer func() { cancel(); <-done }()

	// until feeds the watcher's messages to the model until one satisfies ok.
	until := func(what string, ok func(tea.Msg) bool) {
		t.Helper()
		timeout := time.After(cmdTimeout)
		for {
			select {
			case msg := <-feed:
				m = drive(t, m, msg)
				if ok(msg) {
					return
				}
			case <-timeout:
				t.Fatalf("no %s from the watcher", what)
			}
		}
	}
	isList := func(msg tea.Msg) bool { _, ok := msg.(reviewsMsg); return ok }
	isEvent := func(id, state string) func(tea.Msg) bool {
		return func(msg tea.Msg) bool {
			e, ok := msg.(reviewMsg)
			return ok && e.review.ID == id && e.review.State == state
		}
	}

	until("first list", isList)
	if n := <-g.connected; n != 1 {
		t.Fatalf("stream %d opened, want 1", n)
	}
	g.add(api.Review{
		ID: "r-7", Kind: api.ReviewStatement, State: api.ReviewPending, Requester: "carol@example.com",
		Connection: "db-prod", SQL: "DELETE FROM carts", Created: g.now.Add(-90 * time.Second), Expires: g.now.Add(time.Hour), MinApprovals: 1,
	})
	until("event for r-7", isEvent("r-7", api.ReviewPending))
	v := screen(t, m)
	wantIn(t, v, "4 pending", "r-7  carol@example.com  db-prod     1m30s    DELETE FROM carts")
	if strings.Index(v, "  r-1  ") > strings.Index(v, "  r-7  ") {
		t.Errorf("r-7, the newest, is not last:\n%s", v)
	}

	g.withdraw("r-1", true)
	until("event for r-1", isEvent("r-1", api.ReviewWithdrawn))
	v = screen(t, m)
	wantIn(t, v, "3 pending", "r-1 was withdrawn by its requester")
	if rowShown(v, "r-1") {
		t.Errorf("r-1 is still listed:\n%s", v)
	}

	g.dropAndWithdraw("r-2")
	until("stream down", func(msg tea.Msg) bool { _, ok := msg.(streamDownMsg); return ok })
	wantIn(t, screen(t, m), "reconnecting in")
	until("list after reconnecting", isList)
	if n := <-g.connected; n != 2 {
		t.Fatalf("stream %d opened, want 2", n)
	}
	v = screen(t, m)
	wantIn(t, v, "2 pending · live")
	if rowShown(v, "r-2") || !rowShown(v, "r-3") || !rowShown(v, "r-7") {
		t.Errorf("want r-3 and r-7 listed, r-2 gone:\n%s", v)
	}
}

// TestApprovalsTUINoColor: with NO_COLOR set the screen has no escape code at all, on a
// terminal that has colors; without it, the same screens do have colors.
func TestApprovalsTUINoColor(t *testing.T) {
	g := newFakeGateway(t)
	colorTerm := termenv.WithEnvironment(environ{"TERM": "xterm-256color", "COLORTERM": "truecolor"})
	screens := func(env Env) string {
		r := approvalsRenderer(io.Discard, env, termenv.WithTTY(true), colorTerm)
		r.SetHasDarkBackground(true) // don't ask io.Discard for its background
		c := newReviewClient(g.factory("tok-dana"))
		list, err := c.Reviews(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		m := newApprovalsModel(approvalsConfig{api: c, reviews: list, styles: newApprovalsStyles(r), now: func() time.Time { return g.now }})
		var views []string
		for _, msgs := range [][]tea.Msg{
			{tea.WindowSizeMsg{Width: 80, Height: 24}},
			keys("j"),
			keys("a"),
			keys("y"), // refused: dana's own
			keys("d"),
			{esc, enter},
			keys("?"),
			keys("?/bob"),
		} {
			m = drive(t, m, msgs...)
			views = append(views, m.View())
		}
		return strings.Join(views, "\n")
	}
	if v := screens(g.env("tok-dana")); !strings.Contains(v, "\x1b[") {
		t.Fatalf("without NO_COLOR the screens have no colors, so this test proves nothing:\n%s", v)
	}
	if v := screens(g.env("tok-dana", "NO_COLOR", "1")); strings.Contains(v, "\x1b[") {
		t.Errorf("escape codes with NO_COLOR set: %q", v)
	}
}

// environ is a termenv environment from a map.
type environ map[string]string

func (e environ) Getenv(k string) string { return e[k] }
func (e environ) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// TestApprovalsTUIFits: on an 80×24 terminal, with more reviews than rows and long
// values, every screen fits (screen checks it) and the selection stays on screen.
func TestApprovalsTUIFits(t *testing.T) {
	g := newFakeGateway(t)
	long := strings.Repeat("very_long_identifier_", 8)
	for i := range 30 {
		g.add(api.Review{
			ID: fmt.Sprintf("r-%03d-%s", 100+i, strings.Repeat("f", 20)), Kind: api.ReviewStatement, State: api.ReviewPending,
			Requester: fmt.Sprintf("someone.with.a.long.name%d@subsidiary.example.com", i), Groups: []string{"engineering", "contractors", long},
			Connection: "analytics-warehouse-replica-eu-west-1", SQL: "WITH x AS (\n\tSELECT " + long + "\n)\nUPDATE t SET c = 1 -- " + long + "\n" + long,
			Rule: long, Reason: long + " " + long, Created: g.now.Add(-time.Duration(i) * time.Minute), Expires: g.now.Add(time.Hour), MinApprovals: 2,
			Params: []*string{str(long + long), nil},
		})
	}
	// And a requester who tries to paint the approver's screen (see
	// TestApprovalsCLIHostileText): screen fails on any escape that gets through.
	g.add(api.Review{
		ID: "r-666\x1b[2J", Kind: api.ReviewStatement, State: api.ReviewPending, Requester: "mallory\x1b]0;pwned\x07@example.com",
		Connection: "db-prod", SQL: "SELECT 1 \x1b[2J /* \u202e */ DROP TABLE x", Reason: "\x1b[31mred", Groups: []string{"\x1b[1m"},
		Created: g.now.Add(-time.Hour), Expires: g.now.Add(time.Hour), MinApprovals: 1,
	})
	m := newTestModel(t, g, "tok-dana")
	screen(t, m)
	m = drive(t, m, keys("/mallory")...)
	m = drive(t, m, enter, enter)
	wantIn(t, screen(t, m), `SELECT 1 \x1b[2J /* \u202e */ DROP TABLE x`, `mallory\x1b]0;pwned\x07@example.com`)
	m = drive(t, m, keys("a")...)
	wantIn(t, screen(t, m), `Approve r-666\x1b[2J by mallory`)
	m = drive(t, m, esc, esc, esc)
	m = drive(t, m, keys("G")...)
	v := screen(t, m)
	wantIn(t, v, "> r-100-ffff")

	m = drive(t, m, enter)
	screen(t, m)
	for range 40 {
		m = drive(t, m, keys("j")...)
	}
	wantIn(t, screen(t, m), "$2 = NULL")
	m = drive(t, m, keys("d")...)
	m = drive(t, m, keys(strings.Repeat("because ", 30))...)
	wantIn(t, screen(t, m), "because")
	m = drive(t, m, esc, esc, keys("?")[0])
	screen(t, m)
	m = drive(t, m, esc, keys("/")[0])
	m = drive(t, m, keys(long)...)
	screen(t, m)
}

// TestApprovalsTUIProgram runs the UI as a terminal program: bytes in, screen out, the
// real watcher on the real event stream. j j a y approves r-1; q quits.
func TestApprovalsTUIProgram(t *testing.T) {
	g := newFakeGateway(t)
	c := newReviewClient(g.factory("tok-dana"))
	list, err := c.Reviews(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	in, typing := io.Pipe()
	defer typing.Close()
	var out lockedBuffer
	decided := make(chan decidedMsg, 1)
	watch := func(_ tea.Model, msg tea.Msg) tea.Msg {
		if d, ok := msg.(decidedMsg); ok {
			decided <- d
		}
		return msg
	}
	ran := make(chan error, 1)
	go func() {
		ran <- runApprovalsProgram(context.Background(), approvalsConfig{
			api: c, reviews: list, styles: newApprovalsStyles(approvalsRenderer(io.Discard, g.env("tok-dana"))),
			watch: watchConfig{minBackoff: time.Millisecond, maxBackoff: 10 * time.Millisecond, stable: time.Hour},
		}, in, &out, tea.WithoutSignalHandler(), tea.WithFilter(watch))
	}()
	select {
	case <-g.connected:
	case <-time.After(cmdTimeout):
		t.Fatal("the UI did not open the event stream")
	}
	// One key a write: bubbletea reads runes that come together as one key press.
	for _, k := range []string{"j", "j", "a", "y"} {
		if _, err := io.WriteString(typing, k); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case d := <-decided:
		if d.err != nil || d.id != "r-1" {
			t.Fatalf("decision %+v", d)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("no decision")
	}
	if _, err := io.WriteString(typing, "q"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("q did not quit")
	}
	want := []fakePost{{Path: "/api/v1/reviews/r-1/approve", Caller: "dana@example.com"}}
	if diff := cmp.Diff(want, g.decisions()); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	// The last frame; the renderer may skip the ones between.
	wantIn(t, out.String(), "approved r-1")
}

// lockedBuffer is a strings.Builder the program may write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
