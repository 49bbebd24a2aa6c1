package classify

import (
	"context"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
)

var updateBuiltins = flag.Bool("update-builtins", false, "rewrite builtins.txt from the PostgreSQL the test starts")

// builtinsQuery selects what builtins.txt lists: the names of initdb's functions,
// operators and types (below FirstNormalOID).
const builtinsQuery = `SELECT 'f ' || proname FROM pg_catalog.pg_proc WHERE oid < 16384 AND prokind <> 'p'
UNION SELECT 'o ' || oprname FROM pg_catalog.pg_operator WHERE oid < 16384
UNION SELECT 't ' || typname FROM pg_catalog.pg_type WHERE oid < 16384 AND typname !~ '^_'
ORDER BY 1`

// TestBuiltinsList checks builtins.txt, which stands in for the catalog where there is none
// (hoop policy explain and test), against a real PostgreSQL of the version it was made
// from: go test ./classify -run TestBuiltinsList -update-builtins rewrites it.
func TestBuiltinsList(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, srv.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res := conn.ExecParams(ctx, builtinsQuery, nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, string(r[0]))
	}
	header := "# PostgreSQL " + srv.Version + " built-ins: go test ./classify -run TestBuiltinsList -update-builtins"
	if *updateBuiltins {
		if err := os.WriteFile("builtins.txt", []byte(header+"\n"+strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	first, rest, _ := strings.Cut(builtinList, "\n")
	if first != header {
		t.Skipf("builtins.txt was made from another PostgreSQL (%q); this is %s", first, srv.Version)
	}
	want := strings.Split(strings.TrimSpace(rest), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("builtins.txt differs from PostgreSQL %s's catalog (%d names, want %d): run go test ./classify -run TestBuiltinsList -update-builtins", srv.Version, len(want), len(got))
	}
}
