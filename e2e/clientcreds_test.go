package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/store"
)

// TestClientCredentials: a CI job with only a client id and secret of the identity
// provider (HOOP_CLIENT_ID, HOOP_CLIENT_SECRET) runs hoop exec, as the machine identity
// the gateway's auth.machines gives it; a wrong secret and a machine the gateway does not
// know are "not logged in" (exit 5).
func TestClientCredentials(t *testing.T) {
	cfg := strings.Replace(readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml")), "auth:\n", `auth:
  machines:
    - client_id: ci-bot
      audience: hoop
      identity: "machine:ci-bot"
      groups: [ci-deploy]
`, 1)
	gw := startGateway(t, gatewayOptions{config: cfg, machines: []devidp.Machine{
		{ID: "ci-bot", Secret: "ci-bot-secret", Audience: "hoop"},
		{ID: "ci-stranger", Secret: "ci-stranger-secret", Audience: "hoop"}, // not in auth.machines
	}})
	env := func(id, secret string) map[string]string {
		return map[string]string{"HOOP_CONFIG_DIR": t.TempDir(), "HOOP_KEYRING": "file", "HOOP_GATEWAY": gw.URL,
			"HOOP_CLIENT_ID": id, "HOOP_CLIENT_SECRET": secret}
	}

	code, out, errOut := runCLI(t, env("ci-bot", "ci-bot-secret"), "exec", "db-prod", "-i", "select 1")
	if code != 0 {
		t.Fatalf("exec as ci-bot: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if err := gw.G.SyncRecords(context.Background()); err != nil {
		t.Fatal(err)
	}
	sessions, err := gw.Store.ListSessions(context.Background(), store.SessionFilter{User: "machine:ci-bot"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].Subject != "machine:ci-bot" || sessions[0].Connection != "db-prod" ||
		!slices.Equal(sessions[0].Groups, []string{"ci-deploy"}) {
		t.Errorf("sessions of machine:ci-bot: got %+v, want one on db-prod in ci-deploy", sessions)
	}

	tests := []struct {
		name, id, secret, want string
	}{
		{"wrong secret", "ci-bot", "guess", "invalid_client"},
		{"a machine the gateway does not know", "ci-stranger", "ci-stranger-secret", `unknown client "ci-stranger"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, env(tt.id, tt.secret), "exec", "db-prod", "-i", "select 1")
			if code != 5 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 5 and %q\nstdout: %s", code, errOut, tt.want, out)
			}
		})
	}
}
