package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPolicyReloadOnChange: editing the policy file changes the decisions of a live
// session within moments, without dropping it; a broken edit is refused, logged, and the
// policy before it stays in force.
func TestPolicyReloadOnChange(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	if err := gw.G.WatchPolicy(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	conn := connectPgx(t, addr)
	ctx := context.Background()
	read := func() error {
		_, err := conn.Exec(ctx, "select count(*) from orders", pgx.QueryExecModeSimpleProtocol)
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("before the edit: %v", err)
	}
	path := gw.Dir + "/policy.yaml"
	pol := readFile(t, path)
	edited := strings.Replace(pol, "  - name: analysts-read\n    groups: [analytics]\n    connections: [db-prod]\n    allow: [read]",
		"  - name: analysts-read\n    groups: [analytics]\n    connections: [db-prod]\n    deny: [read]", 1)
	if edited == pol {
		t.Fatal("the example policy changed shape: update this test")
	}
	writeFile(t, path, edited)
	refused := func() bool {
		err := read()
		return err != nil && strings.Contains(err.Error(), "denied by rule analysts-read: read statements are not allowed on db-prod")
	}
	waitFor(t, "the reloaded policy to refuse the read in the live session", refused)

	// A broken edit: the policy in force stays.
	writeFile(t, path, "version: 1\nrules:\n  - name: x\n    allow: [wirte]\n")
	waitFor(t, "the refused reload in the log", func() bool {
		return strings.Contains(gw.Logs.String(), "policy reload refused")
	})
	if !refused() {
		t.Fatal("after a broken edit: the last good policy is no longer in force")
	}
	if !strings.Contains(gw.Logs.String(), "unknown class 'wirte'") {
		t.Error("the log does not carry the broken file's errors")
	}
}
