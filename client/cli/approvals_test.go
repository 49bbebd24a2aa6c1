package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/api"
)

// runHoop runs hoop in-process with env and returns its exit code, stdout and stderr.
func runHoop(t *testing.T, env Env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = Run(ctx, args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, env)
	return code, out.String(), errOut.String()
}

func indentJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestApprovalsCLI runs hoop approvals list, approve and deny against a real HTTP server
// with the gateway's review rules, and checks what scripts see: stdout exactly, the exit
// code, the error, and the request the gateway got.
func TestApprovalsCLI(t *testing.T) {
	const pendingTable = "" +
		"ID   KIND       REQUESTER          CONNECTION  WAITING  WHAT\n" +
		"r-2  access     bob@example.com    db-prod     1d02h    access 1h: INC-456 disk full\n" +
		"r-3  statement  dana@example.com   db-staging  5h10m    DELETE FROM sessions WHERE expires < now()\n" +
		"r-1  statement  alice@example.com  db-prod     2h05m    UPDATE accounts SET balance = balance - $1, updated_at = no…\n"
	const allTable = "" +
		"ID   KIND       STATE     REQUESTER          CONNECTION  WAITING  WHAT\n" +
		"r-0  statement  approved  alice@example.com  db-prod     -        TRUNCATE audit_tmp\n" +
		"r-2  access     pending   bob@example.com    db-prod     1d02h    access 1h: INC-456 disk full\n" +
		"r-3  statement  pending   dana@example.com   db-staging  5h10m    DELETE FROM sessions WHERE expires < now()\n" +
		"r-1  statement  pending   alice@example.com  db-prod     2h05m    UPDATE accounts SET balance = balance - $1, updated_at = no…\n"

	tests := []struct {
		name     string
		token    string
		args     []string
		code     int
		stdout   string    // exactly; "json:pending" and "json:r-1" are the fake's own JSON
		stderr   string    // contained
		decision *fakePost // the POST the gateway must have had; nil: none
	}{
		{name: "list", token: "tok-dana", args: []string{"list"}, stdout: pendingTable},
		{name: "list json", token: "tok-dana", args: []string{"list", "--output", "json"}, stdout: "json:pending"},
		{name: "list all", token: "tok-dana", args: []string{"list", "--all"}, stdout: allTable},
		{name: "list none", token: "tok-eve", args: []string{"list"}, stderr: "No pending reviews."},
		{name: "list none json", token: "tok-eve", args: []string{"list", "-o", "json"}, stdout: "[]\n"},
		{name: "list token rejected", token: "tok-expired", args: []string{"list"}, code: ExitUnauthorized, stderr: "hoop: token rejected: run hoop login"},
		{name: "list bad output", token: "tok-dana", args: []string{"list", "--output", "yaml"}, code: ExitUsage, stderr: `--output "yaml": want table or json`},
		{name: "list extra argument", token: "tok-dana", args: []string{"list", "r-1"}, code: ExitUsage, stderr: "takes no arguments"},

		{name: "approve", token: "tok-dana", args: []string{"approve", "r-1"}, stdout: "r-1 approved\n",
			decision: &fakePost{Path: "/api/v1/reviews/r-1/approve", Caller: "dana@example.com"}},
		{name: "approve json with reason", token: "tok-dana", args: []string{"approve", "r-1", "--reason", "checked with alice", "-o", "json"},
			stdout: "json:r-1", decision: &fakePost{Path: "/api/v1/reviews/r-1/approve", Caller: "dana@example.com", Reason: "checked with alice"}},
		{name: "approve one of two", token: "tok-alice", args: []string{"approve", "r-3"}, stdout: "r-3 pending: 1 of 2 approvals\n",
			decision: &fakePost{Path: "/api/v1/reviews/r-3/approve", Caller: "alice@example.com"}},
		{name: "approve own request", token: "tok-dana", args: []string{"approve", "r-3"}, code: ExitDenied,
			stderr:   "hoop: approve r-3: you may not approve or deny your own request r-3\n",
			decision: &fakePost{Path: "/api/v1/reviews/r-3/approve", Caller: "dana@example.com"}},
		{name: "approve not an approver", token: "tok-eve", args: []string{"approve", "r-1"}, code: ExitDenied, stderr: "eve@example.com may not decide r-1",
			decision: &fakePost{Path: "/api/v1/reviews/r-1/approve", Caller: "eve@example.com"}},
		{name: "approve unknown", token: "tok-dana", args: []string{"approve", "r-404"}, code: ExitError, stderr: "hoop: approve r-404: no review r-404\n",
			decision: &fakePost{Path: "/api/v1/reviews/r-404/approve", Caller: "dana@example.com"}},
		{name: "approve decided", token: "tok-dana", args: []string{"approve", "r-0"}, code: ExitError, stderr: "r-0 is approved, no longer pending",
			decision: &fakePost{Path: "/api/v1/reviews/r-0/approve", Caller: "dana@example.com"}},
		{name: "approve token rejected", token: "nope", args: []string{"approve", "r-1"}, code: ExitUnauthorized},
		{name: "approve without id", token: "tok-dana", args: []string{"approve"}, code: ExitUsage, stderr: "wants a review id"},

		{name: "deny", token: "tok-dana", args: []string{"deny", "r-1", "--reason", "not during the freeze"}, stdout: "r-1 denied: not during the freeze\n",
			decision: &fakePost{Path: "/api/v1/reviews/r-1/deny", Caller: "dana@example.com", Reason: "not during the freeze"}},
		{name: "deny json", token: "tok-dana", args: []string{"deny", "r-1", "--reason", "not during the freeze", "--output", "json"}, stdout: "json:r-1",
			decision: &fakePost{Path: "/api/v1/reviews/r-1/deny", Caller: "dana@example.com", Reason: "not during the freeze"}},
		{name: "deny without reason", token: "tok-dana", args: []string{"deny", "r-1"}, code: ExitUsage, stderr: "deny wants --reason"},
		{name: "deny blank reason", token: "tok-dana", args: []string{"deny", "r-1", "--reason", "  "}, code: ExitUsage, stderr: "deny wants --reason"},

		{name: "no terminal", token: "tok-dana", args: nil, code: ExitUsage, stderr: "in scripts use hoop approvals list"},
		{name: "unknown subcommand", token: "tok-dana", args: []string{"aprove", "r-1"}, code: ExitUsage, stderr: `unknown command "aprove"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGateway(t)
			want := tt.stdout
			switch want {
			case "json:pending":
				want = indentJSON(t, g.pending("dana@example.com"))
			}
			code, stdout, stderr := runHoop(t, g.env(tt.token), append([]string{"approvals"}, tt.args...)...)
			if want == "json:r-1" {
				g.mu.Lock()
				want = indentJSON(t, g.find("r-1"))
				g.mu.Unlock()
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s\ndiff (-want +got):\n%s", stdout, want, cmp.Diff(want, stdout))
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			var wantPosts []fakePost
			if tt.decision != nil {
				wantPosts = []fakePost{*tt.decision}
			}
			if diff := cmp.Diff(wantPosts, g.decisions()); diff != "" {
				t.Errorf("decisions the gateway got (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApprovalsCLIHostileText: a requester controls the statement text an approver
// reads. An escape sequence in it could clear or rewrite the approver's terminal, and a
// right-to-left override could make the statement read as another; the table shows both
// escaped, so what the approver reads is what they approve.
func TestApprovalsCLIHostileText(t *testing.T) {
	g := newFakeGateway(t)
	g.add(api.Review{
		ID: "r-9", Kind: api.ReviewStatement, State: api.ReviewPending, Requester: "mallory@example.com\x1b[2K",
		Connection: "db-prod", SQL: "SELECT 1 \x1b[2J\x1b]0;pwned\x07 /* \u202e */ DROP TABLE x",
		Created: g.now.Add(-time.Hour), Expires: g.now.Add(time.Hour), MinApprovals: 1,
	})
	code, stdout, stderr := runHoop(t, g.env("tok-dana"), "approvals", "list")
	if code != ExitOK {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	if strings.ContainsAny(stdout, "\x1b\x07\u202e") {
		t.Errorf("raw control characters reached the terminal: %q", stdout)
	}
	for _, want := range []string{`mallory@example.com\x1b[2K`, `SELECT 1 \x1b[2J\x1b]0;pwned\x07 /* \u202e */ DROP TABLE x`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout %q does not show %q", stdout, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a\nb", "a\nb"},
		{"a\tb", "a    b"},
		{"\x1b[31mred", `\x1b[31mred`},
		{"\u009b31m", `\u009b31m`},
		{"abc\u202edef", `abc\u202edef`},
		{"\xff\xfe", `\xff\xfe`},
		{"héllo ✓", "héllo ✓"},
		{"\x7f", `\x7f`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatWait(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{42*time.Second + 900*time.Millisecond, "42s"},
		{3*time.Minute + 7*time.Second, "3m07s"},
		{2*time.Hour + 5*time.Minute + 59*time.Second, "2h05m"},
		{75*time.Hour + 10*time.Minute, "3d03h"},
	}
	for _, tt := range tests {
		if got := formatWait(tt.d); got != tt.want {
			t.Errorf("formatWait(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	for in, want := range map[string]string{"1h0m0s": "1h", "1h30m0s": "1h30m", "45m0s": "45m", "90s": "1m30s", "bogus": "bogus"} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%q) = %q, want %q", in, got, want)
		}
	}
}
