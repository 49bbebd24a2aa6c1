package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/pgtest"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/internal/testenv"
	"github.com/hoopgw/hoop/server"
	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/store"
)

// sharedExamples returns the directory of the contract examples.
func sharedExamples(t testing.TB) string { return testenv.SharedExamples(t) }

var (
	pgOnce sync.Once
	pgSrv  *pgtest.Server
	pgErr  error
)

// sharedPG starts one PostgreSQL for the whole test binary, with the sample app and
// pgbench's tables readable by both app roles.
func sharedPG(t testing.TB) *pgtest.Server {
	t.Helper()
	pgOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "hoop-e2e-pg-")
		if err != nil {
			pgErr = err
			return
		}
		pgSrv, pgErr = pgtest.StartServer(ctx, dir, pgtest.Options{App: true})
		if pgErr != nil {
			return
		}
		pgErr = pgSrv.ExecIn(ctx, "app", pgbenchSchema)
	})
	if errors.Is(pgErr, pgtest.ErrNotFound) && os.Getenv("CI") != "true" {
		t.Skip(pgErr)
	}
	if pgErr != nil {
		t.Fatalf("postgres: %v", pgErr)
	}
	return pgSrv
}

// pgbenchSchema is what pgbench -i -s 1 makes, small, readable by the app roles.
const pgbenchSchema = `
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
INSERT INTO pgbench_branches SELECT 1, 0, '';
INSERT INTO pgbench_tellers SELECT g, 1, 0, '' FROM generate_series(1, 10) g;
INSERT INTO pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 100000) g;
GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO app_ro, app_rw;
GRANT INSERT, UPDATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO app_rw;
ANALYZE;
`

// gateway is an in-process hoopd --dev on a loopback port.
type gateway struct {
	URL   string
	G     *server.Gateway
	Store *store.Store
	Dir   string
	Logs  *syncBuffer
	stop  func()
}

type gatewayOptions struct {
	env    map[string]string // extra variables for the config
	config string            // gateway.yaml text; default: the shared example
	policy string            // policy.yaml text; default: the shared example
	tokens time.Duration     // ID token lifetime; default the provider's (1h)
	// jwtAccessTokens makes the provider issue the CLI's access tokens as signed JWTs.
	jwtAccessTokens bool
	// machines are the embedded provider's client_credentials clients; the gateway
	// trusts those that config's auth.machines names.
	machines []devidp.Machine
}

// startGateway runs the gateway with the shared example config (or opts.config) against
// the shared PostgreSQL, with the embedded identity provider as in --dev.
func startGateway(t *testing.T, opts gatewayOptions) *gateway {
	t.Helper()
	pg := sharedPG(t)
	dir := t.TempDir()
	ex := sharedExamples(t)
	cfgText, polText := opts.config, opts.policy
	if cfgText == "" {
		cfgText = readFile(t, filepath.Join(ex, "gateway.yaml"))
	}
	if polText == "" {
		polText = readFile(t, filepath.Join(ex, "policy.yaml"))
	}
	writeFile(t, filepath.Join(dir, "gateway.yaml"), cfgText)
	writeFile(t, filepath.Join(dir, "policy.yaml"), polText)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	env := map[string]string{
		"HOOP_LISTEN":      ln.Addr().String(),
		"HOOP_PUBLIC_URL":  url,
		"HOOP_OIDC_ISSUER": url + "/oidc",
		"HOOP_STORE":       "sqlite://" + filepath.Join(dir, "hoop.db"),
		"DB_HOST":          pg.Host,
		"DB_PORT":          fmt.Sprint(pg.Port),
		"DB_NAME":          pg.App.DB,
		"DB_RO_USER":       pg.App.ROUser,
		"DB_RO_PASSWORD":   pg.App.ROPassword,
		"DB_RW_USER":       pg.App.RWUser,
		"DB_RW_PASSWORD":   pg.App.RWPassword,
	}
	for k, v := range opts.env {
		env[k] = v
	}
	cfg, err := config.Load(filepath.Join(dir, "gateway.yaml"), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	idp, err := devidp.New(devidp.Config{Issuer: url + "/oidc", Users: devidp.DefaultUsers(), IDTokenLifetime: opts.tokens, Machines: opts.machines,
		JWTAccessTokens: opts.jwtAccessTokens})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, cfg.Store, dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	g, err := server.New(server.Options{Config: cfg, Store: st, DevIDP: idp,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(ctx, ln)
	}()
	gw := &gateway{URL: url, G: g, Store: st, Dir: dir, Logs: logs}
	gw.stop = sync.OnceFunc(func() {
		cancel()
		<-done
		g.Close()
		st.Close()
	})
	t.Cleanup(func() {
		gw.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs)
		}
	})
	return gw
}

// login runs the real browser login (authorization code + PKCE) for a dev user and
// returns the ID token.
func (gw *gateway) login(t *testing.T, user string) string {
	t.Helper()
	return gw.loginTokens(t, user).IDToken
}

// loginTokens is login returning every token the provider gave: ID, access, refresh.
func (gw *gateway) loginTokens(t *testing.T, user string) *auth.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := auth.FetchInfo(ctx, nil, gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.LoginBrowser(ctx, info, auth.Options{
		OpenBrowser: func(u string) error { return testbrowser.Login(ctx, nil, u, user, user+"-dev") },
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return tok
}

// connect runs hoop connect's engine (client.Connect) for token and returns the local
// address; it stops with the test.
func (gw *gateway) connect(t *testing.T, token, connection string) (addr string, status *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	status = &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- client.Connect(ctx, client.ConnectOptions{
			Gateway:    gw.URL,
			Connection: connection,
			Token:      func(context.Context) (string, time.Time, error) { return token, time.Now().Add(time.Hour), nil },
			Status:     status,
			Ready:      func(a *net.TCPAddr) { ready <- a.String() },
			MaxBackoff: time.Second,
		})
	}()
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("connect %s: %v", connection, err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("connect: not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Error("connect did not stop within 10s")
		}
	})
	return addr, status
}

// dsn is a libpq URL for a local port, with a user name that the gateway ignores.
func dsn(addr string) string {
	return "postgres://anyone@" + addr + "/ignored?sslmode=disable"
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runHoopd starts a hoopd process, which the test's end kills (its log shown if the test
// failed), and waits until it listens on port.
func runHoopd(t *testing.T, cmd *exec.Cmd, port int) {
	t.Helper()
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("hoopd log:\n%s", logs)
		}
	})
	waitFor(t, "hoopd to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// syncBuffer is a goroutine-safe buffer for logs and status output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deletableTable makes a table name of ids 1..rows in the sample database, which the read
// role may read and the write role read and delete from, for the length of the test.
func deletableTable(t *testing.T, pg *pgtest.Server, name string, rows int) {
	t.Helper()
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, fmt.Sprintf(`CREATE TABLE %[1]s (id int PRIMARY KEY); INSERT INTO %[1]s SELECT generate_series(1, %[2]d);
		GRANT SELECT, DELETE ON %[1]s TO %[3]s; GRANT SELECT ON %[1]s TO %[4]s`, name, rows, pg.App.RWUser, pg.App.ROUser)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, "DROP TABLE "+name) })
}
