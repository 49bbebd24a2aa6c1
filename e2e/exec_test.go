package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hoopgw/hoop/api"
)

// TestExec: hoop exec runs a script statement by statement through the tunnel, with the
// same policy and reviews as a person: exit 0, 1 (stops at the first error), 3 (denied),
// 4 (held: the review id), then --review ID once approved, and --wait.
func TestExec(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	deletableTable(t, pg, "exec_t", 5)
	gw := startGateway(t, gatewayOptions{})
	alice, dana := gw.login(t, "alice"), gw.login(t, "dana")
	env := map[string]string{"HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": alice}
	count := func() int {
		conn, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		conn.QueryRow(ctx, "select count(*) from exec_t").Scan(&n)
		return n
	}

	code, out, errOut := runCLI(t, env, "exec", "db-prod", "-i", "select count(*) as n from exec_t; select id from exec_t order by id limit 2", "-o", "json")
	if code != 0 {
		t.Fatalf("reads: exit %d, %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first struct {
		Statement  string      `json:"statement"`
		Columns    []string    `json:"columns"`
		Rows       [][]*string `json:"rows"`
		CommandTag string      `json:"command_tag"`
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.Columns[0] != "n" || *first.Rows[0][0] != "5" ||
		first.CommandTag != "SELECT 1" || first.Statement != "select count(*) as n from exec_t" {
		t.Fatalf("json output: %s", out)
	}
	if !strings.Contains(errOut, "-- [2/2] select id from exec_t") {
		t.Errorf("progress on stderr: %q", errOut)
	}

	// Stops at the first error: the statement after it does not run.
	code, out, errOut = runCLI(t, env, "exec", "db-prod", "-i", "select 1; select 1/0; select 2", "-o", "csv")
	if code != 1 || !strings.Contains(errOut, "division by zero (SQLSTATE 22012)") || strings.Contains(errOut, "[3/3]") || out != "?column?\n1\n" {
		t.Fatalf("error: exit %d, out %q, err %q", code, out, errOut)
	}
	// Denied by policy: exit 3, with the rule.
	if code, _, errOut = runCLI(t, env, "exec", "db-prod", "-i", "drop table exec_t"); code != 3 || !strings.Contains(errOut, "denied by rule engineers-read-prod: ddl") {
		t.Fatalf("drop: exit %d, %q", code, errOut)
	}

	// Held: exit 4 with the review; approved, --review runs it once.
	script := "select count(*) from exec_t; delete from exec_t where id = 1"
	code, _, errOut = runCLI(t, env, "exec", "db-prod", "-i", script)
	m := regexp.MustCompile(`review (r-[a-z0-9]+) is waiting for an approver`).FindStringSubmatch(errOut)
	if code != 4 || m == nil {
		t.Fatalf("held: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "exec", "db-prod", "-i", script, "--review", m[1]); code != 4 || !strings.Contains(errOut, m[1]) {
		t.Fatalf("--review before approval: exit %d, %q", code, errOut)
	}
	var rv api.Review
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+m[1]+"/approve", nil, &rv); code != 200 {
		t.Fatalf("approve: %d %+v", code, rv)
	}
	if code, out, errOut := runCLI(t, env, "exec", "db-prod", "-i", script, "--review", m[1], "-o", "json"); code != 0 || !strings.Contains(out, `"command_tag":"DELETE 1"`) {
		t.Fatalf("--review after approval: exit %d, %s %s", code, out, errOut)
	}
	if n := count(); n != 4 {
		t.Fatalf("rows: %d, want 4", n)
	}
	if code, _, errOut := runCLI(t, env, "exec", "db-prod", "-i", script, "--review", m[1]); code != 3 || !strings.Contains(errOut, "it has run") {
		t.Fatalf("the same review again: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "exec", "db-prod", "-i", "delete from exec_t where id = 5", "--review", m[1]); code != 4 || strings.Contains(errOut, m[1]+" is") {
		t.Fatalf("another statement under the review: exit %d, %q", code, errOut)
	}

	// --wait: held until a DBA approves.
	done := make(chan int, 1)
	go func() {
		code, _, _ := runCLI(t, env, "exec", "db-prod", "-i", "delete from exec_t where id = 2", "--wait", "30s")
		done <- code
	}()
	waitFor(t, "the review", func() bool {
		var list []api.Review
		apiCall(t, gw, dana, "GET", "/api/v1/reviews", nil, &list)
		for _, r := range list {
			if r.SQL == "delete from exec_t where id = 2" {
				apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+r.ID+"/approve", nil, nil)
				return true
			}
		}
		return false
	})
	if code := <-done; code != 0 {
		t.Fatalf("--wait: exit %d", code)
	}
	if n := count(); n != 3 {
		t.Fatalf("rows: %d, want 3", n)
	}
	// Not authenticated: exit 5.
	if code, _, errOut := runCLI(t, map[string]string{"HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": "not-a-token"}, "exec", "db-prod", "-i", "select 1"); code != 5 {
		t.Fatalf("bad token: exit %d, %q", code, errOut)
	}
}
