package classify_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/internal/pgtest"
)

var updatePsqlMeta = flag.Bool("update-psql-meta", false,
	"capture psql -E's catalog queries from a real server into testdata/psql_meta.sql")

const psqlMetaFile = "testdata/psql_meta.sql"

// psqlMetaCommands are the meta-commands whose queries are captured. \x and \conninfo
// send no query at all.
var psqlMetaCommands = []string{
	`\d`, `\d customers`, `\d+ customers`, `\d orders_customer_id_idx`, `\d+ customer_totals`,
	`\dt`, `\dt+`, `\dt public.*`, `\l`, `\l+`, `\df`, `\df+`, `\df+ total_for`, `\dn`, `\dn+`,
	`\du`, `\dg`, `\dv`, `\dv+`, `\di`, `\di+`, `\ds`, `\dm`, `\dE`, `\dT`, `\dT+`, `\dD`,
	`\dx`, `\dx+`, `\dp`, `\dp customers`, `\ddp`, `\dd`, `\dc`, `\dC`, `\db`, `\des`, `\dew`,
	`\deu`, `\dy`, `\dL`, `\do`, `\dF`, `\dFd`, `\dFp`, `\dFt`, `\dRp`, `\dRs`, `\dconfig`,
	`\dconfig work_mem`, `\drds`, `\dO`, `\dX`, `\dA`, `\dAc`, `\dAf`, `\dAo`, `\dAp`,
	`\sf total_for`, `\sv customer_totals`, `\lo_list`, `\z customers`, `\dS`, `\dS+ pg_class`,
}

// psqlMetaSeed adds what some meta-commands need to show something.
const psqlMetaSeed = `
CREATE VIEW customer_totals AS
	SELECT c.id, c.name, sum(o.amount) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
CREATE FUNCTION total_for(id int) RETURNS numeric LANGUAGE sql STABLE
	AS 'SELECT sum(amount) FROM orders WHERE customer_id = id';
GRANT SELECT ON customer_totals TO app_ro;
`

// TestUpdatePsqlMeta runs psql -E against a real PostgreSQL as the read-only role, in a
// read-only session, and writes the queries it echoes to testdata/psql_meta.sql. That the
// server ran them all under default_transaction_read_only proves they only read.
func TestUpdatePsqlMeta(t *testing.T) {
	if !*updatePsqlMeta {
		t.Skip("run with -update-psql-meta to capture the queries again")
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql: %v", err)
	}
	srv := pgtest.Start(t, pgtest.WithApp())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := srv.ExecIn(ctx, srv.App.DB, psqlMetaSeed); err != nil {
		t.Fatal(err)
	}
	version, err := exec.CommandContext(ctx, psql, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "-- The catalog queries %s sends for its meta-commands (psql -E).\n", strings.TrimSpace(string(version)))
	fmt.Fprintf(&out, "-- Captured by: go test ./classify -run TestUpdatePsqlMeta -update-psql-meta\n")
	fmt.Fprintf(&out, "-- Each entry starts with a \"-- psql:\" line naming the meta-command; every query is one statement.\n")
	dsn := srv.DSN(srv.App.ROUser, srv.App.ROPassword, srv.App.DB)
	n := 0
	for _, meta := range psqlMetaCommands {
		cmd := exec.CommandContext(ctx, psql, "-X", "-E", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", meta)
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c default_transaction_read_only=on")
		stdout, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("psql %s: %v: %s", meta, err, stderr)
		}
		queries := echoedQueries(string(stdout))
		if len(queries) == 0 {
			t.Errorf("psql %s echoed no query", meta)
		}
		for _, q := range queries {
			fmt.Fprintf(&out, "\n-- psql: %s\n%s;\n", meta, q)
			n++
		}
	}
	if err := os.WriteFile(psqlMetaFile, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d queries to %s", n, psqlMetaFile)
}

// echoedQueries returns the queries psql -E printed between its QUERY banners.
func echoedQueries(out string) []string {
	const begin, end = "********* QUERY **********\n", "\n**************************"
	var qs []string
	for {
		i := strings.Index(out, begin)
		if i < 0 {
			return qs
		}
		out = out[i+len(begin):]
		j := strings.Index(out, end)
		if j < 0 {
			return qs
		}
		qs = append(qs, strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(out[:j]), ";")))
		out = out[j+len(end):]
	}
}

// metaEntry is one captured query.
type metaEntry struct {
	meta string // `\d+ customers`
	sql  string
}

// readPsqlMeta reads testdata/psql_meta.sql back into its entries.
func readPsqlMeta(t *testing.T) []metaEntry { return readPsqlMetaTB(t) }

func readPsqlMetaTB(t testing.TB) []metaEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(psqlMetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var entries []metaEntry
	for i, chunk := range strings.Split(string(b), "\n-- psql: ") {
		if i == 0 {
			continue // the header
		}
		meta, sql, _ := strings.Cut(chunk, "\n")
		entries = append(entries, metaEntry{meta: meta, sql: strings.TrimSpace(sql)})
	}
	return entries
}

// TestPsqlMetaCommandsRead checks that every catalog query psql sends for its
// meta-commands is read: a read-only grant must be able to use \d and friends.
func TestPsqlMetaCommandsRead(t *testing.T) {
	entries := readPsqlMeta(t)
	if len(entries) < len(psqlMetaCommands) {
		t.Fatalf("got %d queries in %s, want at least %d", len(entries), psqlMetaFile, len(psqlMetaCommands))
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, e := range entries {
			assertRead(t, c, p.name+" psql "+e.meta, e.sql, 1)
		}
	}
}

// assertRead checks that sql is n statements, each read and not merely always allowed.
func assertRead(t *testing.T, c *classify.Classifier, what, sql string, n int) []classify.Statement {
	t.Helper()
	sts, err := c.Classify(sql)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return nil
	}
	if n > 0 && len(sts) != n {
		t.Errorf("%s: got %d statements, want %d", what, len(sts), n)
	}
	for _, st := range sts {
		if st.Class != read || st.Always {
			t.Errorf("%s: got class %q (always %v, reason %q), want read:\n%s", what, st.Class, st.Always, st.Reason, st.Text)
		}
	}
	return sts
}
