package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hoopgw/hoop/api"
)

// canaryFunctions makes, in the sample database, a canary row, a VOLATILE function that
// bumps it, a view that calls it and a STABLE SQL function that only reads.
const canaryFunctions = `
CREATE TABLE e2e_canary (id int PRIMARY KEY, touched int NOT NULL);
INSERT INTO e2e_canary VALUES (1, 0);
GRANT SELECT, UPDATE ON e2e_canary TO %[1]s;
GRANT SELECT ON e2e_canary TO %[2]s;
CREATE FUNCTION e2e_touch_canary() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN UPDATE e2e_canary SET touched = touched + 1 WHERE id = 1; RETURN 1; END$$;
CREATE FUNCTION e2e_canary_touched() RETURNS int LANGUAGE sql STABLE AS
  $$SELECT touched FROM e2e_canary WHERE id = 1$$;
CREATE VIEW e2e_canary_v AS SELECT e2e_touch_canary() AS t;
GRANT SELECT ON e2e_canary_v TO %[1]s, %[2]s;
`

// TestFunctionsThatWriteAreNotRead is the regression test of the class "functions that
// write are classed read": SELECT e2e_touch_canary(), a user-defined function that
// UPDATEs, was allowed as read, so an engineer (who logs in as the write role, and may
// read freely but writes only after a review) changed data with no review, whatever the
// call's position. Through a real tunnel with psql, the call is held for review as a
// write in every position and, once denied, leaves the canary row unchanged; an analyst
// (read only) is refused it as a write; a STABLE SQL function stays read.
func TestFunctionsThatWriteAreNotRead(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, strings.ReplaceAll(strings.ReplaceAll(canaryFunctions, "%[1]s", pg.App.RWUser), "%[2]s", pg.App.ROUser)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.ExecIn(context.Background(), pg.App.DB, "DROP VIEW e2e_canary_v; DROP FUNCTION e2e_touch_canary(), e2e_canary_touched(); DROP TABLE e2e_canary")
	})
	touched := func() int {
		t.Helper()
		direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close(ctx)
		var n int
		if err := direct.QueryRow(ctx, "SELECT touched FROM e2e_canary WHERE id = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	psql := func(addr, sql string) *exec.Cmd {
		cmd := exec.Command("psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, dsn(addr))
		return cmd
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not found")
	}

	gw := startGateway(t, gatewayOptions{})
	dana := gw.login(t, "dana")
	volatile := "function public.e2e_touch_canary() is VOLATILE; list it under functions.read in the policy if it only reads"
	positions := []string{
		"select e2e_touch_canary()",
		"select 1 where e2e_touch_canary() > 0",
		"select * from e2e_touch_canary()",
		"select * from e2e_canary c, lateral (select e2e_touch_canary()) x",
		"explain analyze select e2e_touch_canary()",
		"copy (select e2e_touch_canary()) to stdout",
		"with c as (select e2e_touch_canary()) select * from c",
		"select id from e2e_canary order by e2e_touch_canary()",
		"select * from e2e_canary_v",
	}

	// The engineer: each call is held as a write; denied, it never runs.
	alice := gw.login(t, "alice")
	addr, _ := gw.connect(t, alice, "db-prod")
	for _, sql := range positions {
		cmd := psql(addr, sql)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		rv := pendingReview(t, gw, dana)
		if rv.SQL != sql || rv.Class != "write" || rv.Rule != "engineers-read-prod" {
			t.Errorf("%s: review %+v; want it held as write by engineers-read-prod", sql, rv)
		}
		if !strings.Contains(rv.Reason, "e2e_touch_canary() is VOLATILE") {
			t.Errorf("%s: review reason %q; want it to say why it is a write", sql, rv.Reason)
		}
		apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{Reason: "it writes"}, nil)
		if err := <-done; err == nil || !strings.Contains(stderr.String(), "denied by dana@example.com: it writes") {
			t.Errorf("%s: psql: %v, stderr %q; want the denial", sql, err, stderr.String())
		}
		if strings.Contains(sql, "select e2e_touch_canary()") && !strings.Contains(stderr.String(), volatile) {
			t.Errorf("%s: stderr %q; want the notice to say %q", sql, stderr.String(), volatile)
		}
		if n := touched(); n != 0 {
			t.Fatalf("%s: the canary was touched %d times; want 0", sql, n)
		}
	}
	// A STABLE SQL function only reads: it runs at once.
	out, err := psql(addr, "select e2e_canary_touched(), count(*) from e2e_canary where e2e_canary_touched() = 0").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0|1" {
		t.Errorf("a STABLE SQL function: %v, %q; want it read, 0|1", err, out)
	}

	// The analyst may only read: the call is refused as a write, and says why.
	ann := gw.login(t, "ann")
	addr, _ = gw.connect(t, ann, "db-prod")
	for _, sql := range append(positions, "declare c cursor with hold for select e2e_touch_canary()") {
		out, err := psql(addr, sql).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "this statement is write") || !strings.Contains(string(out), "e2e_touch_canary() is VOLATILE") {
			t.Errorf("%s as an analyst: %v, %q; want it refused as write, saying why", sql, err, out)
		}
	}
	out, err = psql(addr, "select e2e_canary_touched()").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("a STABLE SQL function as an analyst: %v, %q; want 0", err, out)
	}
	if n := touched(); n != 0 {
		t.Fatalf("the canary was touched %d times; want 0", n)
	}
}
