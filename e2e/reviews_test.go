package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/creack/pty"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/testchrome"
)

// apiCall calls the gateway's API with a token and decodes the answer into out; it
// returns the HTTP status.
func apiCall(t *testing.T, gw *gateway, token, method, path string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, gw.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// pendingReview waits for the one pending review dana can see and returns it.
func pendingReview(t *testing.T, gw *gateway, token string) api.Review {
	t.Helper()
	var got api.Review
	waitFor(t, "a pending review", func() bool {
		var list []api.Review
		apiCall(t, gw, token, "GET", "/api/v1/reviews", nil, &list)
		if len(list) == 1 {
			got = list[0]
			return true
		}
		return false
	})
	return got
}

// TestHeldStatements: an engineer's write is held for review; the client is told the
// review's id and URL and waits; a DBA's approval runs it (once), a denial refuses it with
// who and why, a cancel withdraws it; nobody approves their own request; the recording
// keeps the review id.
func TestHeldStatements(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	deletableTable(t, pg, "held", 10)
	gw := startGateway(t, gatewayOptions{})
	alice := gw.login(t, "alice")
	dana := gw.login(t, "dana")
	addr, status := gw.connect(t, alice, "db-prod")
	var notices []string
	cfg, _ := pgx.ParseConfig(dsn(addr))
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	run := func(sql string, args ...any) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := conn.Exec(ctx, sql, args...)
			done <- err
		}()
		return done
	}
	count := func() int {
		var n int
		direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close(ctx)
		direct.QueryRow(ctx, "select count(*) from held").Scan(&n)
		return n
	}

	// Approved: the DELETE runs, once.
	done := run("delete from held where id = 1", pgx.QueryExecModeSimpleProtocol)
	rv := pendingReview(t, gw, dana)
	if rv.Requester != "alice@example.com" || rv.SQL != "delete from held where id = 1" || rv.Rule != "engineers-read-prod" || rv.Class != "write" ||
		rv.Connection != "db-prod" || !strings.HasPrefix(rv.URL, gw.URL+"/reviews/r-") || rv.Session == "" {
		t.Errorf("review: %+v", rv)
	}
	var apiErr api.Error
	if code := apiCall(t, gw, alice, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, &apiErr); code != 403 || !strings.Contains(apiErr.Error, "nobody approves or denies their own request") {
		t.Errorf("self-approval: %d %+v", code, apiErr)
	}
	var approved api.Review
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", api.ReviewAnswer{}, &approved); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("the approved delete: %v", err)
	}
	if n := count(); n != 9 {
		t.Fatalf("rows after the approved delete: %d, want 9", n)
	}
	if len(notices) == 0 || !strings.Contains(notices[0], rv.ID) || !strings.Contains(notices[0], rv.URL) {
		t.Errorf("notices: %q; want the review id and URL", notices)
	}
	waitFor(t, "hoop connect to show the review", func() bool { return strings.Contains(status.String(), rv.ID) })
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, &apiErr); code != 409 {
		t.Errorf("approving a used review again: %d %+v", code, apiErr)
	}

	// Denied: the client gets who and why; nothing runs.
	done = run("delete from held where id = 2", pgx.QueryExecModeSimpleProtocol)
	rv = pendingReview(t, gw, dana)
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{}, &apiErr); code != 400 {
		t.Errorf("deny without a reason: %d", code)
	}
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{Reason: "not during the freeze"}, nil)
	err = <-done
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "denied by dana@example.com: not during the freeze") {
		t.Fatalf("denied delete: %v", err)
	}

	// Cancelled while waiting: the review is withdrawn.
	cctx, cancel := context.WithCancel(ctx)
	cdone := make(chan error, 1)
	go func() {
		_, err := conn.Exec(cctx, "delete from held where id = 3", pgx.QueryExecModeSimpleProtocol)
		cdone <- err
	}()
	rv = pendingReview(t, gw, dana)
	cancel()
	if err := <-cdone; err == nil {
		t.Fatal("the cancelled delete succeeded")
	}
	waitFor(t, "the review to be withdrawn", func() bool {
		var r api.Review
		apiCall(t, gw, dana, "GET", "/api/v1/reviews/"+rv.ID, nil, &r)
		return r.State == api.ReviewWithdrawn
	})
	if n := count(); n != 9 {
		t.Fatalf("rows: %d, want 9", n)
	}

	// The extended protocol: a prepared statement approved once runs once.
	conn2 := connectPgx(t, addr)
	done2 := make(chan error, 1)
	go func() {
		_, err := conn2.Exec(ctx, "delete from held where id = $1", 4)
		done2 <- err
	}()
	rv = pendingReview(t, gw, dana)
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, nil)
	if err := <-done2; err != nil {
		t.Fatalf("approved prepared delete: %v", err)
	}
	_, err = conn2.Exec(ctx, "delete from held where id = $1", 5)
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "approved this statement to run once") {
		t.Fatalf("second run of the approved statement: %v", err)
	}
	if n := count(); n != 8 {
		t.Fatalf("rows: %d, want 8", n)
	}

	// The recording shows the held statements with their reviews.
	conn.Close(ctx)
	conn2.Close(ctx)
	waitFor(t, "alice's sessions to end", func() bool {
		for _, s := range sessionsOf(t, gw.Store, "alice") {
			if s.EndedAt.IsZero() {
				return false
			}
		}
		return true
	})
	var withReview []string
	for _, s := range sessionsOf(t, gw.Store, "alice") {
		_, sts, _ := gw.Store.GetSession(ctx, s.ID)
		for _, st := range sts {
			if st.ReviewID != "" {
				withReview = append(withReview, fmt.Sprintf("%s:%s:%s", st.State, st.Decision, st.SQL))
			}
		}
	}
	want := []string{"done:review:delete from held where id = 1", "refused:review:delete from held where id = 2"}
	for _, w := range want {
		found := false
		for _, g := range withReview {
			found = found || g == w
		}
		if !found {
			t.Errorf("recording: no %q among %q", w, withReview)
		}
	}
}

// TestJustInTimeAccess: a contractor with no standing access asks for time-boxed access
// under the policy's jit rule; hoop connect waits, says why when denied (exit 3); once a
// DBA approves, the tunnel opens, and it and its sessions end when the grant does.
func TestJustInTimeAccess(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	carl := gw.login(t, "carl")
	dana := gw.login(t, "dana")
	env := map[string]string{"HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": carl}
	if code, _, errOut := runCLI(t, env, "connect", "db-prod"); code != 3 || !strings.Contains(errOut, "just-in-time access may be requested (contractors-prod)") {
		t.Fatalf("connect without access: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "connect", "db-prod", "--duration", "5h", "--reason", "INC-7"); code != 1 || !strings.Contains(errOut, "allows at most 4h0m0s") {
		t.Fatalf("too long: exit %d, %q", code, errOut)
	}

	// Denied: hoop connect tells who and why, exit 3.
	type result struct {
		code   int
		errOut string
	}
	res := make(chan result, 1)
	go func() {
		code, _, errOut := runCLI(t, env, "connect", "db-prod", "--duration", "1h", "--reason", "INC-7")
		res <- result{code, errOut}
	}()
	rv := pendingReview(t, gw, dana)
	if rv.Kind != api.ReviewAccess || rv.Reason != "INC-7" || rv.Duration != "1h0m0s" || rv.Rule != "contractors-prod" || rv.Class != "read" {
		t.Errorf("access review: %+v", rv)
	}
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{Reason: "use the replica"}, nil)
	r := <-res
	if r.code != 3 || !strings.Contains(r.errOut, "denied by dana@example.com: use the replica") || !strings.Contains(r.errOut, rv.URL) {
		t.Fatalf("denied: exit %d, %q", r.code, r.errOut)
	}

	// Approved for a few seconds: the tunnel opens and ends with the grant.
	var asked api.Review
	if code := apiCall(t, gw, carl, "POST", "/api/v1/access", api.AccessRequest{Connection: "db-prod", Duration: "4s", Reason: "INC-8"}, &asked); code != 201 {
		t.Fatalf("access request: %d", code)
	}
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+asked.ID+"/approve", nil, nil)
	addr, status := gw.connect(t, carl, "db-prod")
	conn := connectPgx(t, addr)
	ctx := context.Background()
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n == 0 {
		t.Fatalf("read under the grant: %d, %v", n, err)
	}
	if _, err := conn.Exec(ctx, "delete from orders"); err == nil {
		t.Fatal("a write under a read grant was allowed")
	}
	waitFor(t, "the session to end with the grant", func() bool {
		err := conn.Ping(ctx)
		return err != nil
	})
	waitFor(t, "hoop connect to say why", func() bool {
		return strings.Contains(status.String(), "just-in-time access to db-prod (review "+asked.ID+") ended")
	})
}

// TestReviewRules: min_approvals counts distinct approvers; an unanswered review expires
// and its statement is refused, saying so.
func TestReviewRules(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	deletableTable(t, pg, "held2", 3)
	pol := readFile(t, sharedExamples(t)+"/policy.yaml")
	edited := strings.Replace(pol, "reviews:\n  approvers: [dba]             # never the requester, even if they are in this group\n  min_approvals: 1\n  expires_after: 30m",
		"reviews:\n  approvers: [dba, auditors]\n  min_approvals: 2\n  expires_after: 3s", 1)
	if edited == pol {
		t.Fatal("the example policy changed shape: update this test")
	}
	gw := startGateway(t, gatewayOptions{policy: edited})
	alice, dana, audrey := gw.login(t, "alice"), gw.login(t, "dana"), gw.login(t, "audrey")
	addr, _ := gw.connect(t, alice, "db-prod")
	conn := connectPgx(t, addr)

	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "delete from held2 where id = 1", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	rv := pendingReview(t, gw, dana)
	var after api.Review
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, &after)
	if after.State != api.ReviewPending || len(after.Approvals) != 1 || after.MinApprovals != 2 {
		t.Fatalf("after one approval: %+v", after)
	}
	var apiErr api.Error
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, &apiErr); code != 409 || !strings.Contains(apiErr.Error, "already approved") {
		t.Errorf("the same approver twice: %d %+v", code, apiErr)
	}
	apiCall(t, gw, audrey, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, &after)
	if after.State != api.ReviewApproved && after.State != api.ReviewUsed {
		t.Fatalf("after two approvers: %+v", after)
	}
	if err := <-done; err != nil {
		t.Fatalf("approved by two: %v", err)
	}

	// Nobody answers: it expires.
	_, err := conn.Exec(ctx, "delete from held2 where id = 2", pgx.QueryExecModeSimpleProtocol)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "expired: no decision within 3s") {
		t.Fatalf("unanswered: %v", err)
	}
	var left int
	connectPgx(t, addr).QueryRow(ctx, "select count(*) from held2").Scan(&left)
	if left != 2 {
		t.Errorf("rows: %d, want 2", left)
	}
}

// TestReviewNotifications: when a statement is held, the config's notification targets
// get the review with its link: a Slack-compatible webhook and a generic JSON webhook
// (the SMTP target is tested against a real SMTP server in package notify).
func TestReviewNotifications(t *testing.T) {
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + string(b)
	}))
	defer hook.Close()
	cfg := readFile(t, sharedExamples(t)+"/gateway.yaml") +
		"\nreviews:\n  notify:\n    - type: slack\n      url: " + hook.URL + "/slack\n    - type: webhook\n      url: " + hook.URL + "/hook\n"
	gw := startGateway(t, gatewayOptions{config: cfg})
	addr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	conn := connectPgx(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn.Exec(ctx, "update orders set amount = 0 where id = 1", pgx.QueryExecModeSimpleProtocol)
	}()
	rv := pendingReview(t, gw, gw.login(t, "dana"))
	seen := map[string]string{}
	for len(seen) < 2 {
		select {
		case m := <-got:
			path, body, _ := strings.Cut(m, " ")
			seen[path] = body
		case <-time.After(20 * time.Second):
			t.Fatalf("notifications: got %v", seen)
		}
	}
	if !strings.Contains(seen["/slack"], rv.URL) || !strings.Contains(seen["/slack"], "alice@example.com") {
		t.Errorf("slack: %s", seen["/slack"])
	}
	if !strings.Contains(seen["/hook"], `"event":"review.opened"`) || !strings.Contains(seen["/hook"], rv.ID) {
		t.Errorf("webhook: %s", seen["/hook"])
	}
	cancel() // the client gives up: the review is withdrawn
	<-done
}

// TestWebApproval: the link in a held statement's notice opens the review's page; the
// approver signs in through the gateway's identity provider in a real (headless) Chromium
// and approves with one click; the statement runs.
func TestWebApproval(t *testing.T) {
	bctx := testchrome.New(t)
	pg := sharedPG(t)
	ctx := context.Background()
	deletableTable(t, pg, "held3", 2)
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	conn := connectPgx(t, addr)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "delete from held3 where id = 1", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	rv := pendingReview(t, gw, gw.login(t, "dana"))

	testchrome.Navigate(t, bctx, "open the review", chromedp.Navigate(rv.URL))
	if loc := testchrome.Location(t, bctx); !strings.HasPrefix(loc, gw.URL+"/oidc/login") {
		t.Fatalf("the review without a session lands on %s, want the IdP's login page", loc)
	}
	testchrome.Navigate(t, bctx, "sign in as dana",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "dana"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "dana-dev"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	if loc := testchrome.Location(t, bctx); loc != rv.URL {
		t.Fatalf("after signing in: %s, want %s", loc, rv.URL)
	}
	page, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil || !strings.Contains(page, "delete from held3 where id = 1") || !strings.Contains(page, "alice@example.com") {
		t.Fatalf("review page: %v\n%s", err, page)
	}
	if status := testchrome.Navigate(t, bctx, "approve", chromedp.Click(chromedp.ID("approve"))); status != 200 {
		t.Fatalf("approve: status %d", status)
	}
	if err := <-done; err != nil {
		t.Fatalf("the statement approved on the web page: %v", err)
	}
	var left int
	connectPgx(t, addr).QueryRow(ctx, "select count(*) from held3").Scan(&left)
	if left != 1 {
		t.Fatalf("rows: %d, want 1", left)
	}

	// The next one is denied on its page, with a reason.
	go func() {
		_, err := conn.Exec(ctx, "delete from held3 where id = 2", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	rv = pendingReview(t, gw, gw.login(t, "dana"))
	testchrome.Navigate(t, bctx, "open the second review", chromedp.Navigate(rv.URL))
	testchrome.Navigate(t, bctx, "deny",
		chromedp.SendKeys(chromedp.ID("deny-reason"), "not during the freeze"),
		chromedp.Click(chromedp.ID("deny")),
	)
	err = <-done
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "denied by dana@example.com: not during the freeze") {
		t.Fatalf("the statement denied on the web page: %v", err)
	}
}

// TestApprovalsTUI runs the real hoop approvals in a pseudo-terminal of 80×24 against the
// gateway: the held statement appears in the list, a then y approves it, and it runs.
func TestApprovalsTUI(t *testing.T) {
	hoop, err := exec.LookPath("hoop") // testscript.Main puts the test binary on PATH as hoop
	if err != nil {
		t.Fatal(err)
	}
	pg := sharedPG(t)
	ctx := context.Background()
	deletableTable(t, pg, "held4", 2)
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	conn := connectPgx(t, addr)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "delete from held4 where id = 2", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	dana := gw.login(t, "dana")
	rv := pendingReview(t, gw, dana)

	cmd := exec.Command(hoop, "approvals")
	cmd.Env = append(os.Environ(), "HOOP_GATEWAY="+gw.URL, "HOOP_TOKEN="+dana, "NO_COLOR=1", "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		tty.Close()
	}()
	screen := &syncBuffer{}
	go io.Copy(screen, tty)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screen:\n%q", screen.String())
		}
	})
	short := rv.ID[:12] // the list cuts long ids to fit 80 columns
	waitFor(t, "the review in the list", func() bool { return strings.Contains(screen.String(), "> "+short) })
	tty.Write([]byte("a"))
	waitFor(t, "the confirmation", func() bool { return strings.Contains(screen.String(), "Approve "+short) })
	tty.Write([]byte("y"))
	if err := <-done; err != nil {
		t.Fatalf("the statement approved in the TUI: %v", err)
	}
	waitFor(t, "the TUI to say so", func() bool { return strings.Contains(screen.String(), "approved "+short) })

	// Deny the next one, with a reason.
	go func() {
		_, err := conn.Exec(ctx, "delete from held4 where id = 1", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	rv2 := pendingReview(t, gw, dana)
	short2 := rv2.ID[:12]
	waitFor(t, "the new review in the list", func() bool { return strings.Contains(screen.String(), "> "+short2) })
	tty.Write([]byte("d"))
	waitFor(t, "the reason prompt", func() bool { return strings.Contains(screen.String(), "Deny "+short2) })
	tty.Write([]byte("use a migration\r"))
	err = <-done
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "denied by dana@example.com: use a migration") {
		t.Fatalf("the statement denied in the TUI: %v", err)
	}
	tty.Write([]byte("q"))
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("hoop approvals: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("hoop approvals did not quit on q")
	}
	if strings.Contains(screen.String(), "\x1b[3") && strings.Contains(screen.String(), "8;5;") {
		t.Error("colors with NO_COLOR set")
	}
}
