// Command devbrowser is a headless stand-in for a web browser, for tests and
// the demo. Installed on PATH as xdg-open, it is what github.com/pkg/browser
// starts when `hoop login` opens the sign-in page:
//
//	HOOP_DEV_USER=alice HOOP_DEV_PASSWORD=alice-dev devbrowser URL
//
// signs in on the dev OIDC provider's page at URL and follows the redirects
// to the CLI's loopback callback. It exits 0 on success; otherwise it prints
// the error (quoting the page) and exits 1, or 2 on a usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/hoopgw/hoop/internal/testbrowser"
)

const timeout = time.Minute

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stderr)) }

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: devbrowser URL  (with HOOP_DEV_USER and HOOP_DEV_PASSWORD set)")
		return 2
	}
	user, password := getenv("HOOP_DEV_USER"), getenv("HOOP_DEV_PASSWORD")
	if user == "" || password == "" {
		fmt.Fprintln(stderr, "devbrowser: HOOP_DEV_USER and HOOP_DEV_PASSWORD must be set")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := testbrowser.Login(ctx, &http.Client{Timeout: timeout}, args[0], user, password); err != nil {
		fmt.Fprintf(stderr, "devbrowser: %v\n", err)
		return 1
	}
	return 0
}
