package e2e

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// TestUpstreamTLS: with sslmode=verify-full the gateway logs in over TLS (SCRAM inside),
// checks the server's certificate, and sends cancels over TLS too.
func TestUpstreamTLS(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithSSL(), pgtest.WithApp())
	conn := func(name, mode, extra string) string {
		return `  - name: ` + name + `
    type: postgres
    host: localhost
    port: ` + strconv.Itoa(pg.Port) + `
    database: app
    sslmode: ` + mode + `
` + extra + `    user: ` + pg.App.ROUser + `
    password: ` + pg.App.ROPassword + `
`
	}
	cfg := readFile(t, sharedExamples(t)+"/gateway.yaml")
	cfg = strings.Replace(cfg, "connections:\n", "connections:\n"+
		conn("db-tls", "verify-full", "    sslrootcert: "+pg.CACertFile+"\n")+
		conn("db-tls-wrong-ca", "verify-full", "    sslrootcert: "+otherCA(t)+"\n"), 1)
	gw := startGateway(t, gatewayOptions{config: cfg})
	tok := gw.login(t, "dana")
	ctx := context.Background()

	addr, _ := gw.connect(t, tok, "db-tls")
	c := connectPgx(t, addr)
	var ssl bool
	if err := c.QueryRow(ctx, "select ssl from pg_stat_ssl where pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Fatalf("upstream session: ssl=%v, err=%v; want TLS", ssl, err)
	}

	pc, err := pgconn.Connect(ctx, dsn(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	res := make(chan error, 1)
	go func() {
		_, err := pc.Exec(ctx, "select pg_sleep(60)").ReadAll()
		res <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sendCancel(t, addr, pc.PID(), pc.SecretKey())
		select {
		case err := <-res:
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
				t.Fatalf("cancel over TLS: got %v, want 57014", err)
			}
			goto wrongCA
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancel over TLS did not stop the query within 20s")
		}
	}
wrongCA:
	addr, _ = gw.connect(t, tok, "db-tls-wrong-ca")
	_, err = pgconn.Connect(ctx, dsn(addr))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "08001" {
		t.Fatalf("a server certificate from another CA: got %v, want 08001", err)
	}
	if !strings.Contains(gw.Logs.String(), "certificate signed by unknown authority") {
		t.Error("the gateway's log does not say why the upstream login failed")
	}
}

// otherCA writes the certificate of an unrelated CA to a file and returns its path.
func otherCA(t *testing.T) string {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return path
}
