package e2e

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/client/cli"
	"github.com/hoopgw/hoop/internal/testbrowser"
)

// runCLI runs hoop in-process with the given environment and returns its exit code and
// output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := cli.Run(ctx, args, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, lookup(env))
	return code, out.String(), errOut.String()
}

func lookup(env map[string]string) cli.Env {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// TestExitCodes pins the exit codes scripts rely on.
func TestExitCodes(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	cfg := t.TempDir()
	base := map[string]string{"HOOP_CONFIG_DIR": cfg, "HOOP_KEYRING": "file", "HOOP_GATEWAY": gw.URL}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	eve := gw.login(t, "eve")
	alice := gw.login(t, "alice")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stderr
	}{
		{"not logged in", base, []string{"whoami"}, cli.ExitUnauthorized, "not logged in"},
		{"forged token", with("HOOP_TOKEN", alice[:len(alice)-4]+"AAAA"), []string{"whoami"}, cli.ExitUnauthorized, "token refused"},
		{"usage: unknown flag", base, []string{"connect", "--nope"}, cli.ExitUsage, "unknown flag: --nope"},
		{"usage: missing argument", base, []string{"connect"}, cli.ExitUsage, "accepts 1 arg(s)"},
		{"usage: bad output", with("HOOP_TOKEN", alice), []string{"connections", "-o", "xml"}, cli.ExitUsage, `--output "xml"`},
		{"usage: no gateway", map[string]string{"HOOP_CONFIG_DIR": cfg, "HOOP_KEYRING": "file"}, []string{"whoami"}, cli.ExitUsage, "no gateway"},
		{"denied by policy", with("HOOP_TOKEN", eve), []string{"connect", "db-prod"}, cli.ExitDenied, "no rule grants eve@example.com access to connection db-prod"},
		{"unknown connection", with("HOOP_TOKEN", alice), []string{"connect", "nope"}, cli.ExitError, `no connection named "nope"`},
		{"ok", with("HOOP_TOKEN", alice), []string{"whoami", "-o", "json"}, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

// TestDeviceLogin: hoop login --device prints a URL and a code; a person enters the code
// on another machine's browser; the CLI gets its tokens and the gateway accepts them.
func TestDeviceLogin(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	env := map[string]string{"HOOP_CONFIG_DIR": t.TempDir(), "HOOP_KEYRING": "file"}
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		defer pw.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		done <- cli.Run(ctx, []string{"login", "--device", "--gateway", gw.URL},
			cli.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.MultiWriter(pw, &stderr)}, lookup(env))
	}()
	sc := bufio.NewScanner(pr)
	var verify, code string
	urlRE := regexp.MustCompile(`^\s+(http://\S+/device)$`)
	codeRE := regexp.MustCompile(`enter the code: (\S+)`)
	for sc.Scan() && (verify == "" || code == "") {
		if m := urlRE.FindStringSubmatch(sc.Text()); m != nil && verify == "" {
			verify = m[1]
		}
		if m := codeRE.FindStringSubmatch(sc.Text()); m != nil {
			code = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if verify == "" || code == "" {
		t.Fatalf("no verification URL and code in the output: %q", stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testbrowser.Device(ctx, nil, verify, code, "dana", "dana-dev"); err != nil {
		t.Fatal(err)
	}
	if c := <-done; c != 0 {
		t.Fatalf("hoop login --device: exit %d, stderr %q", c, stderr.String())
	}
	code2, out, errOut := runCLI(t, env, "whoami")
	if code2 != 0 || !strings.Contains(out, "dana") {
		t.Fatalf("whoami after device login: exit %d, out %q, err %q", code2, out, errOut)
	}
}
