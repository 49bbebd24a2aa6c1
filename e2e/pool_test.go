package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAsyncpgPoolReset: asyncpg's pool resets a connection when it takes it back
// ("SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;"). As a reader
// through the gateway the reset is harmless and allowed, the connection is used again, and
// it is still read-only after RESET ALL (the gateway starts a reader's session with
// default_transaction_read_only = on, which RESET ALL returns to).
func TestAsyncpgPoolReset(t *testing.T) {
	py := evasionPython()
	if err := exec.Command(py, "-c", "import asyncpg").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("asyncpg is missing (%s): .ci/run installs python3-asyncpg", py)
		}
		t.Skip("asyncpg not installed")
	}
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	script := filepath.Join(t.TempDir(), "pool.py")
	if err := os.WriteFile(script, []byte(`
import asyncio, sys, asyncpg

async def main(dsn):
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    pids = set()
    for i in range(3):
        async with pool.acquire() as conn:   # released with the reset each time
            pids.add(await conn.fetchval("select pg_backend_pid()"))
            print("count", await conn.fetchval("select count(*) from customers"))
            print("read_only", await conn.fetchval("show transaction_read_only"))
    print("connections", len(pids))
    async with pool.acquire() as conn:
        try:
            await conn.execute("create temp table t (x int)")
            print("write allowed")
        except asyncpg.PostgresError as e:
            print("write refused", e.sqlstate)
    await pool.close()

asyncio.run(main(sys.argv[1]))
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, script, dsn(addr)).CombinedOutput()
	if err != nil {
		t.Fatalf("asyncpg pool through the gateway: %v\n%s", err, out)
	}
	got := string(out)
	if strings.Count(got, "count 100\n") != 3 || strings.Count(got, "read_only on\n") != 3 ||
		!strings.Contains(got, "connections 1\n") || !strings.Contains(got, "write refused") {
		t.Errorf("asyncpg pool: want three reads of 100 customers on one read-only connection, reset in between, and a write refused; got:\n%s", got)
	}
}
