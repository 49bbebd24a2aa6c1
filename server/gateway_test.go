package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/server/config"
)

// TestNewRefusesBadUpstreamConfig: a connection whose TLS settings cannot be loaded stops
// the gateway at start, naming the file and line, instead of failing each session later.
func TestNewRefusesBadUpstreamConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", "version: 1\nrules:\n  - name: r\n    groups: [g]\n    connections: [\"*\"]\n    allow: [read]\n")
	write("gateway.yaml", `listen: 127.0.0.1:0
auth:
  oidc:
    issuer: http://127.0.0.1:1/oidc
connections:
  - name: db
    type: postgres
    host: db.internal
    port: 5432
    database: app
    sslmode: verify-full
    sslrootcert: `+filepath.Join(dir, "missing-ca.pem")+`
    user: app
    password: pw
policy_files: [policy.yaml]
`)
	cfg, err := config.Load(filepath.Join(dir, "gateway.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Config: cfg})
	if err == nil {
		t.Fatal("New accepted a connection whose CA file does not exist")
	}
	for _, want := range []string{"gateway.yaml:6", "missing-ca.pem"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "'pw'") {
		t.Errorf("the error leaks the password: %v", err)
	}
}
