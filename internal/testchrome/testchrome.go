// Package testchrome starts a headless Chromium for browser tests, driven with chromedp.
// Without Chromium a test is skipped, except in CI (CI=true), where it fails: .ci/run
// installs Debian's chromium.
package testchrome

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds one browser test, Chromium's start included.
const Timeout = 60 * time.Second

// Path returns the path of a Chromium or Chrome binary, or skips (fails in CI).
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH, and CI=true: install it (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// New starts a headless Chromium for the test and returns its context; it stops with
// the test.
func New(t testing.TB) context.Context {
	t.Helper()
	exe := Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil { // start the browser now, to fail early
		t.Fatalf("start %s: %v", exe, err)
	}
	return bctx
}

// Navigate runs actions that load a page and returns the page's HTTP status.
func Navigate(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// Location is the page's URL.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}
