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

// TestMaskingFollowsReload: a live masked session follows the reloaded policy's masking
// (partial, then redact) without reconnecting; a session that was not masked at all is
// ended when the new policy masks it, and masked once it reconnects.
func TestMaskingFollowsReload(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	if err := gw.G.WatchPolicy(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	email := func(conn *pgx.Conn) (string, error) {
		var e string
		err := conn.QueryRow(ctx, "select email from customers order by id limit 1", pgx.QueryExecModeSimpleProtocol).Scan(&e)
		return e, err
	}
	annAddr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	ann := connectPgx(t, annAddr)
	danaTok := gw.login(t, "dana")
	danaAddr, danaStatus := gw.connect(t, danaTok, "db-prod")
	dana := connectPgx(t, danaAddr)
	masked, err := email(ann)
	if err != nil || !strings.Contains(masked, "@example.") || strings.Contains(masked, "REDACTED") {
		t.Fatalf("ann before: %q, %v; want a partly masked e-mail", masked, err)
	}
	raw, err := email(dana)
	if err != nil || strings.Contains(raw, "*") {
		t.Fatalf("dana before: %q, %v; want the raw e-mail (exempt)", raw, err)
	}

	path := gw.Dir + "/policy.yaml"
	pol := readFile(t, path)
	edited := strings.Replace(pol, "    exempt_groups: [dba]\n    mode: partial", "    exempt_groups: []\n    mode: redact", 1)
	if edited == pol {
		t.Fatal("the example policy changed shape: update this test")
	}
	writeFile(t, path, edited)
	waitFor(t, "ann's live session to follow the new masking", func() bool {
		e, err := email(ann)
		return err == nil && e == "[REDACTED:email]"
	})
	waitFor(t, "dana's unmasked session to be ended", func() bool {
		_, err := email(dana)
		return err != nil
	})
	waitFor(t, "hoop connect to say why", func() bool {
		return strings.Contains(danaStatus.String(), "masking now applies")
	})
	// hoop connect reconnects; the new session is masked.
	waitFor(t, "dana's new session to be masked", func() bool {
		conn, err := pgx.Connect(ctx, dsn(danaAddr))
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		e, err := email(conn)
		return err == nil && e == "[REDACTED:email]"
	})
}
