package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDeepStatementDoesNotKillGateway: the attack is one statement nested deeper than the
// gateway's C parser can recurse, SELECT 1+1+...+1 with 30,000 terms (60 KB), sent by an
// ordinary user: it crashed hoopd with SIGSEGV, dropping every tunnel of every user. The
// test proves, through real tunnels, that psql sending it gets a clear refusal with
// SQLSTATE 54001 and its session goes on (SELECT 1 next), that pgx's extended protocol
// gets the same, that the refusal holds for a DBA whose grant is broad (the gateway cannot
// decide what it cannot read), and that another user's open session is untouched.
func TestDeepStatementDoesNotKillGateway(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	gw := startGateway(t, gatewayOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Another user's session, open before the attack.
	aliceAddr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	alice := connectPgx(t, aliceAddr)
	var n int
	if err := alice.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n == 0 {
		t.Fatalf("alice before: got %d, %v", n, err)
	}

	for _, user := range []string{"ann", "dana"} {
		addr, _ := gw.connect(t, gw.login(t, user), "db-prod")

		// psql, simple protocol: \gexec sends the generated statement as one Query.
		script := filepath.Join(t.TempDir(), "deep.sql")
		writeFile(t, script, "\\set VERBOSITY verbose\n"+
			"SELECT 'SELECT 1' || repeat('+1', 30000) \\gexec\n"+
			"SELECT 1 AS after;\n")
		cmd := exec.CommandContext(ctx, "psql", "-X", "-A", "-t", "-f", script, dsn(addr))
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: psql: %v\n%s", user, err, stderr.String())
		}
		if want := "ERROR:  54001: hoop: the statement is too complex for the gateway to analyse: it is nested too deeply"; !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: psql's stderr:\n%s\nwant %q", user, stderr.String(), want)
		}
		if got := strings.TrimSpace(stdout.String()); got != "1" {
			t.Errorf("%s: after the refusal, SELECT 1 gave %q, want 1 (stderr: %s)", user, got, stderr.String())
		}

		// pgx, extended protocol (Parse): the same refusal, and the connection lives on.
		conn := connectPgx(t, addr)
		_, err := conn.Exec(ctx, "select 1"+strings.Repeat("+1", 30000))
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "54001" || !strings.Contains(pgErr.Message, "it is refused") {
			t.Errorf("%s: pgx: got %v, want a 54001 refusal", user, err)
		}
		if err := conn.QueryRow(ctx, "select 42").Scan(&n); err != nil || n != 42 {
			t.Errorf("%s: pgx after the refusal: got %d, %v", user, n, err)
		}
	}

	if err := alice.QueryRow(ctx, "select 7").Scan(&n); err != nil || n != 7 {
		t.Errorf("alice's open session after the attack: got %d, %v", n, err)
	}
	if !strings.Contains(gw.Logs.String(), "statement too complex to analyse: refused") {
		t.Errorf("the gateway did not log the refusal:\n%s", gw.Logs.String())
	}
}
