package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/internal/testchrome"
)

func newBrowser(t *testing.T) context.Context { return testchrome.New(t) }

func navigate(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	return testchrome.Navigate(t, ctx, what, actions...)
}

// signIn opens the review page, is sent to the dev IdP's form, signs in and comes back.
func signIn(t *testing.T, ctx context.Context, e *env, review, name string) {
	t.Helper()
	navigate(t, ctx, "open the review", chromedp.Navigate(e.url+"/reviews/"+review))
	if loc := location(t, ctx); !strings.HasPrefix(loc, e.url+"/oidc/login") {
		t.Fatalf("opening the review without a session lands on %s, want the IdP's login page", loc)
	}
	status := navigate(t, ctx, "sign in as "+name,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), name+"-dev"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	if loc, want := location(t, ctx), e.url+"/reviews/"+review; loc != want || status != 200 {
		t.Fatalf("after signing in: %s status %d, want %s status 200", loc, status, want)
	}
	if viewer, want := text(t, ctx, "viewer"), "Signed in as "+name+"@example.com"; viewer != want {
		t.Fatalf("viewer %q, want %q", viewer, want)
	}
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return testchrome.Location(t, ctx)
}

// text is the visible text of the element with the id.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// An approver opens the link, signs in at the IdP, approves with one click; then denies
// another review with a reason.
func TestBrowserApprove(t *testing.T) {
	start := time.Now()
	e := newEnv(t, pendingReview("r-1", "UPDATE accounts SET plan = 'pro' WHERE id = 42"), pendingReview("r-2", "DROP TABLE audit"))
	ctx := newBrowser(t)
	signIn(t, ctx, e, "r-1", "dana")

	if got, want := text(t, ctx, "sql"), "UPDATE accounts SET plan = 'pro' WHERE id = 42"; got != want {
		t.Errorf("statement shown %q, want %q", got, want)
	}
	if got := text(t, ctx, "state"); got != "pending" {
		t.Errorf("state %q, want pending", got)
	}
	status := navigate(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")))
	if status != 200 {
		t.Errorf("page after Approve: status %d, want 200", status)
	}
	if got, want := text(t, ctx, "flash"), "Approved by dana@example.com — the statement runs."; got != want {
		t.Errorf("after Approve the page says %q, want %q", got, want)
	}
	if got := text(t, ctx, "state"); got != "approved" {
		t.Errorf("state %q, want approved", got)
	}

	navigate(t, ctx, "open r-2", chromedp.Navigate(e.url+"/reviews/r-2"))
	navigate(t, ctx, "deny r-2",
		chromedp.SendKeys(chromedp.ID("deny-reason"), "not during the freeze"),
		chromedp.Click(chromedp.ID("deny")),
	)
	if got, want := text(t, ctx, "flash"), "Denied by dana@example.com — the statement does not run. Reason: not during the freeze"; got != want {
		t.Errorf("after Deny the page says %q, want %q", got, want)
	}

	want := []decideCall{
		{ID: "r-1", Who: "dana@example.com", Approve: true},
		{ID: "r-2", Who: "dana@example.com", Approve: false, Reason: "not during the freeze"},
	}
	if diff := cmp.Diff(want, e.reviews.decisions()); diff != "" {
		t.Errorf("Decide calls (-want +got):\n%s", diff)
	}
	// Chromium sent the page's own origin, so the Origin check ran and passed.
	if diff := cmp.Diff([]string{e.url, e.url}, e.cookies.postOrigins()); diff != "" {
		t.Errorf("Origin of the POSTs (-want +got):\n%s", diff)
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// The requester opens her own review: Approve shows the gateway's refusal, and a denial
// with a reason reaches Decide with that reason (and is refused too).
func TestBrowserRequesterRefused(t *testing.T) {
	start := time.Now()
	e := newEnv(t, pendingReview("r-1", "DELETE FROM accounts WHERE id = 42"))
	ctx := newBrowser(t)
	signIn(t, ctx, e, "r-1", "alice")

	status := navigate(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")))
	if status != 403 {
		t.Errorf("page after a self-approval: status %d, want 403", status)
	}
	if got, want := text(t, ctx, "error"), "alice@example.com asked for review r-1: nobody approves or denies their own request"; got != want {
		t.Errorf("after Approve the page says %q, want %q", got, want)
	}

	// Submitting without a reason is stopped by the browser: the field is required.
	valid, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#deny-reason").checkValidity()`))
	if err != nil {
		t.Fatal(err)
	}
	if valid {
		t.Error("the deny form accepts an empty reason")
	}
	status = navigate(t, ctx, "deny",
		chromedp.SendKeys(chromedp.ID("deny-reason"), "wrong ticket"),
		chromedp.Click(chromedp.ID("deny")),
	)
	if status != 403 {
		t.Errorf("page after a self-denial: status %d, want 403", status)
	}
	if got := text(t, ctx, "error"); !strings.Contains(got, "nobody approves or denies their own request") {
		t.Errorf("after Deny the page says %q", got)
	}
	if got := text(t, ctx, "state"); got != "pending" {
		t.Errorf("state %q, want pending", got)
	}

	want := []decideCall{
		{ID: "r-1", Who: "alice@example.com", Approve: true},
		{ID: "r-1", Who: "alice@example.com", Approve: false, Reason: "wrong ticket"},
	}
	if diff := cmp.Diff(want, e.reviews.decisions()); diff != "" {
		t.Errorf("Decide calls (-want +got):\n%s", diff)
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
