package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPgDumpAsReader: a masked analyst (read access) runs pg_dump -Fc through the gateway.
// Its session setup (set_config of search_path to empty, SET synchronize_seqscans,
// set_config(name, …) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'),
// LOCK TABLE … IN ACCESS SHARE MODE per table, the system columns it selects and COPY … TO
// stdout are all a reader's; the dump restores cleanly into a scratch database with
// pg_restore, and holds the masked values, no raw one.
func TestPgDumpAsReader(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	pg := sharedPG(t)
	ctx := context.Background()
	// The read-only role reads what pg_dump reads: the tables and their sequences.
	if err := pg.ExecIn(ctx, pg.App.DB, "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "+pg.App.ROUser); err != nil {
		t.Fatal(err)
	}
	secrets := customerSecrets(t, pg)

	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	dump := filepath.Join(t.TempDir(), "db.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-t", "public.customers", "-t", "public.orders", "-f", dump, dsn(addr)).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump through the gateway as a reader: %v\n%s", err, out)
	}
	scratch := fmt.Sprintf("pgdump_%d", os.Getpid())
	if err := pg.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Exec(context.Background(), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)") })
	if out, err := exec.Command("pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "-d", pg.SuperDSN(scratch), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore of the reader's dump: %v\n%s", err, out)
	}
	restored, err := pgx.Connect(ctx, pg.SuperDSN(scratch))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close(ctx)
	var n int
	var all string
	if err := restored.QueryRow(ctx, "select count(*), string_agg(concat_ws('|', email, phone, ssn), E'\n') from customers").Scan(&n, &all); err != nil {
		t.Fatal(err)
	}
	if n != len(secrets)/3 {
		t.Errorf("restored %d customers, want %d", n, len(secrets)/3)
	}
	noLeaks(t, "the restored dump", all, secrets)
	if !strings.Contains(all, "***-**-") || !strings.Contains(all, "@example.") {
		t.Errorf("the restored dump lacks the masked forms (***-**-1234, ***@example.com):\n%.500s", all)
	}
	var orders int
	if err := restored.QueryRow(ctx, "select count(*) from orders").Scan(&orders); err != nil || orders == 0 {
		t.Errorf("restored orders: %d, %v", orders, err)
	}
}
