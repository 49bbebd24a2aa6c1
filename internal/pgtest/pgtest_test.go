package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// testCtx bounds every network step of a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// sqlState returns err's SQLSTATE, or "" when err is not a server error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestServer(t *testing.T) {
	ctx := testCtx(t)
	srv := pgtest.Start(t,
		pgtest.WithApp(),
		pgtest.WithSeed("app", "CREATE TABLE notes (id int); INSERT INTO notes VALUES (1), (2);"),
		pgtest.WithSetting("application_name", "pgtest-setting"),
	)
	if srv.Host != "127.0.0.1" || srv.Port == 0 {
		t.Fatalf("got address %s:%d, want 127.0.0.1 and a port", srv.Host, srv.Port)
	}
	if srv.App == nil {
		t.Fatal("got nil App after WithApp")
	}
	app := srv.App

	t.Run("superuser", func(t *testing.T) {
		conn := connect(t, ctx, srv.SuperDSN("postgres"))
		var user, enc, tz string
		var super bool
		var port int
		err := conn.QueryRow(ctx, `SELECT current_user, rolsuper, current_setting('password_encryption'),
			current_setting('TimeZone'), inet_server_port()
			FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &enc, &tz, &port)
		if err != nil {
			t.Fatal(err)
		}
		if user != srv.SuperUser || !super {
			t.Errorf("got user %q (superuser %v), want %q superuser", user, super, srv.SuperUser)
		}
		if enc != "scram-sha-256" {
			t.Errorf("got password_encryption %q, want %q", enc, "scram-sha-256")
		}
		if tz != "UTC" {
			t.Errorf("got TimeZone %q, want %q", tz, "UTC")
		}
		if port != srv.Port {
			t.Errorf("got server port %d, want %d", port, srv.Port)
		}
		var setting string
		if err := conn.QueryRow(ctx, `SELECT reset_val FROM pg_settings WHERE name = 'application_name'`).Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting != "pgtest-setting" {
			t.Errorf("got application_name default %q, want %q (WithSetting)", setting, "pgtest-setting")
		}
		if srv.Version == "" {
			t.Error("got empty Version")
		}
	})

	t.Run("host connections need the password", func(t *testing.T) {
		conn := connect(t, ctx, srv.SuperDSN("postgres"))
		rows, err := conn.Query(ctx, `SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type LIKE 'host%'`)
		if err != nil {
			t.Fatal(err)
		}
		methods, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(methods) != 1 || methods[0] != "scram-sha-256" {
			t.Errorf("got host auth methods %q, want only scram-sha-256", methods)
		}
		for _, user := range []string{srv.SuperUser, app.ROUser} {
			_, err := pgx.Connect(ctx, srv.DSN(user, "wrong-password", "postgres"))
			if got := sqlState(err); got != "28P01" {
				t.Errorf("%s with a wrong password: got SQLSTATE %q (%v), want 28P01", user, got, err)
			}
		}
	})

	t.Run("server runs unprivileged", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("reads /proc")
		}
		conn := connect(t, ctx, srv.SuperDSN("postgres"))
		var status string
		if err := conn.QueryRow(ctx, "SELECT pg_read_file('/proc/self/status')").Scan(&status); err != nil {
			t.Fatal(err)
		}
		uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindStringSubmatch(status)
		if uid == nil || uid[1] == "0" {
			t.Errorf("got backend Uid line %q, want a non-root user", uid)
		}
	})

	t.Run("unix socket is trusted", func(t *testing.T) {
		conn := connect(t, ctx, "host="+srv.SocketDir+" port="+strconv.Itoa(srv.Port)+" user="+srv.SuperUser+" dbname=postgres")
		var user string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
			t.Fatal(err)
		}
		if user != srv.SuperUser {
			t.Errorf("got user %q, want %q", user, srv.SuperUser)
		}
	})

	t.Run("sslmode=require fails without SSL", func(t *testing.T) {
		_, err := pgx.Connect(ctx, strings.Replace(srv.SuperDSN("postgres"), "sslmode=disable", "sslmode=require", 1))
		if err == nil {
			t.Fatal("got a connection, want an error: the server has no SSL")
		}
	})

	t.Run("app roles use SCRAM", func(t *testing.T) {
		conn := connect(t, ctx, srv.SuperDSN("postgres"))
		for _, role := range []string{app.ROUser, app.RWUser} {
			var pw string
			var login bool
			if err := conn.QueryRow(ctx, "SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = $1", role).Scan(&pw, &login); err != nil {
				t.Fatalf("%s: %v", role, err)
			}
			if !strings.HasPrefix(pw, "SCRAM-SHA-256$") || !login {
				t.Errorf("%s: got password %.20q... login %v, want a SCRAM verifier and LOGIN", role, pw, login)
			}
		}
		if app.ROPassword == "" || app.RWPassword == "" || app.ROPassword == app.RWPassword {
			t.Errorf("got passwords %q and %q, want two different random passwords", app.ROPassword, app.RWPassword)
		}
	})

	t.Run("app data", func(t *testing.T) {
		conn := connect(t, ctx, srv.DSN(app.ROUser, app.ROPassword, app.DB))
		var customers, orders, names, badRefs int
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
			(SELECT count(DISTINCT name) FROM customers),
			(SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL)`).
			Scan(&customers, &orders, &names, &badRefs)
		if err != nil {
			t.Fatal(err)
		}
		if customers != pgtest.AppCustomers || orders != pgtest.AppOrders {
			t.Errorf("got %d customers and %d orders, want %d and %d", customers, orders, pgtest.AppCustomers, pgtest.AppOrders)
		}
		if names < pgtest.AppCustomers/2 || badRefs != 0 {
			t.Errorf("got %d distinct names and %d dangling orders, want varied names and none dangling", names, badRefs)
		}
		rows, err := conn.Query(ctx, "SELECT email, phone, ssn FROM customers")
		if err != nil {
			t.Fatal(err)
		}
		email := regexp.MustCompile(`^[a-z0-9.]+@[a-z.]*example\.(com|org|net)$`)
		phone := regexp.MustCompile(`^(\(\d{3}\) |\+1 \d{3}-|\d{3}\.)555[-.]01\d\d$`)
		ssn := regexp.MustCompile(`^(00[1-9]|0[1-9]\d|[1-5]\d\d|6[0-57-9]\d|66[0-57-9]|[78]\d\d)-(0[1-9]|[1-9]\d)-\d{4}$`)
		n := 0
		for rows.Next() {
			var e, p, s string
			if err := rows.Scan(&e, &p, &s); err != nil {
				t.Fatal(err)
			}
			n++
			for _, c := range []struct {
				name, value string
				re          *regexp.Regexp
			}{{"email", e, email}, {"phone", p, phone}, {"ssn", s, ssn}} {
				if !c.re.MatchString(c.value) {
					t.Errorf("got %s %q, want a match for %s", c.name, c.value, c.re)
				}
			}
			if strings.HasSuffix(s, "-0000") {
				t.Errorf("got ssn %q with serial 0000", s)
			}
		}
		if err := rows.Err(); err != nil || n != pgtest.AppCustomers {
			t.Errorf("read %d rows (err %v), want %d", n, err, pgtest.AppCustomers)
		}
	})

	t.Run("privileges", func(t *testing.T) {
		ro := connect(t, ctx, srv.DSN(app.ROUser, app.ROPassword, app.DB))
		rw := connect(t, ctx, srv.DSN(app.RWUser, app.RWPassword, app.DB))
		const denied = "42501" // insufficient_privilege
		tests := []struct {
			name string
			conn *pgx.Conn
			sql  string
			want string // SQLSTATE, "" for success
		}{
			{"ro select", ro, "SELECT count(*) FROM customers JOIN orders ON orders.customer_id = customers.id", ""},
			{"ro select seeded table", ro, "SELECT count(*) FROM notes", ""},
			{"ro insert", ro, "INSERT INTO customers (name) VALUES ('x')", denied},
			{"ro update", ro, "UPDATE customers SET name = 'x' WHERE id = 1", denied},
			{"ro delete", ro, "DELETE FROM orders WHERE id = 1", denied},
			{"ro create table", ro, "CREATE TABLE t (id int)", denied},
			{"rw select", rw, "SELECT * FROM orders LIMIT 1", ""},
			{"rw insert", rw, "INSERT INTO customers (name, email) VALUES ('New Person', 'new@example.com')", ""},
			{"rw insert seeded table", rw, "INSERT INTO notes VALUES (3)", ""},
			{"rw update", rw, "UPDATE customers SET phone = NULL WHERE id = 1", ""},
			{"rw delete", rw, "DELETE FROM orders WHERE id = 1", ""},
			{"rw truncate", rw, "TRUNCATE orders", denied},
			{"rw create table", rw, "CREATE TABLE t (id int)", denied},
			{"rw drop table", rw, "DROP TABLE orders", denied},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Roll back so each case sees the same data.
				tx, err := tt.conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				_, err = tx.Exec(ctx, tt.sql)
				if got := sqlState(err); got != tt.want || (tt.want == "" && err != nil) {
					t.Errorf("%s: got SQLSTATE %q (%v), want %q", tt.sql, got, err, tt.want)
				}
			})
		}
	})

	t.Run("exec reports server errors", func(t *testing.T) {
		err := srv.Exec(ctx, "SELECT 1; SELECT no_such_column FROM pg_class")
		if got := sqlState(err); got != "42703" {
			t.Errorf("got SQLSTATE %q (%v), want 42703", got, err)
		}
		if err := srv.ExecIn(ctx, app.DB, "INSERT INTO notes VALUES (4); DELETE FROM notes WHERE id = 4"); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})

	t.Run("create app twice", func(t *testing.T) {
		again, err := srv.CreateApp(ctx)
		if err != nil || again != app {
			t.Errorf("got %p, %v; want the same App %p and no error", again, err, app)
		}
	})
}

func TestSSL(t *testing.T) {
	ctx := testCtx(t)
	srv := pgtest.Start(t, pgtest.WithSSL())
	if !srv.SSL || len(srv.CACertPEM) == 0 {
		t.Fatalf("got SSL %v with %d bytes of certificate, want SSL on and a certificate", srv.SSL, len(srv.CACertPEM))
	}
	if b, err := os.ReadFile(srv.CACertFile); err != nil || string(b) != string(srv.CACertPEM) {
		t.Fatalf("CACertFile %s: got err %v or different content", srv.CACertFile, err)
	}
	base := strings.TrimSuffix(srv.SuperDSN("postgres"), "?sslmode=disable")
	tests := []struct {
		name    string
		query   string
		wantSSL bool
	}{
		{"disable", "sslmode=disable", false},
		{"require", "sslmode=require", true},
		{"verify-full", "sslmode=verify-full&sslrootcert=" + srv.CACertFile, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := connect(t, ctx, base+"?"+tt.query)
			var ssl bool
			if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
				t.Fatal(err)
			}
			if ssl != tt.wantSSL {
				t.Errorf("got ssl %v, want %v", ssl, tt.wantSSL)
			}
		})
	}
	t.Run("verify-full without the certificate fails", func(t *testing.T) {
		// The certificate is self-signed: only sslrootcert makes it trusted.
		t.Setenv("PGSSLROOTCERT", "")
		if _, err := pgx.Connect(ctx, base+"?sslmode=verify-full"); err == nil {
			t.Error("got a connection, want a certificate error")
		}
	})
}

func TestParallelAndStop(t *testing.T) {
	ctx := testCtx(t)
	// b uses a caller's directory, which Stop must leave in place. It sits
	// in t.TempDir (mode 0700), which must not keep out the server's user
	// when we run as root.
	parent := t.TempDir()
	dirs := []string{"", filepath.Join(parent, "pg")}

	type result struct {
		srv *pgtest.Server
		err error
	}
	results := make(chan result, len(dirs))
	for _, dir := range dirs {
		go func() {
			srv, err := pgtest.StartServer(ctx, dir, pgtest.Options{})
			results <- result{srv, err}
		}()
	}
	var servers []*pgtest.Server
	for range dirs {
		r := <-results
		if errors.Is(r.err, pgtest.ErrNotFound) && os.Getenv("CI") != "true" {
			t.Skip(r.err)
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		servers = append(servers, r.srv)
		t.Cleanup(func() { r.srv.Stop() })
	}
	a, b := servers[0], servers[1]
	if a.Dir == dirs[1] {
		a, b = b, a
	}
	if a.Port == b.Port {
		t.Fatalf("got the same port %d for both servers", a.Port)
	}
	if b.Dir != dirs[1] {
		t.Fatalf("got Dir %q, want %q", b.Dir, dirs[1])
	}

	if err := a.Exec(ctx, "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	if got := sqlState(b.Exec(ctx, "SELECT * FROM only_in_a")); got != "42P01" {
		t.Errorf("table of server a in server b: got SQLSTATE %q, want 42P01 (undefined_table)", got)
	}

	for _, s := range []*pgtest.Server{a, b} {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := s.Stop(); err != nil {
			t.Errorf("second stop: %v", err)
		}
		if err := s.Exec(ctx, "SELECT 1"); !errors.Is(err, pgtest.ErrStopped) {
			t.Errorf("exec after stop: got %v, want ErrStopped", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := pgconn.Connect(cctx, s.SuperDSN("postgres"))
		cancel()
		if err == nil {
			t.Errorf("connect after stop: got a connection to port %d", s.Port)
		}
	}
	if _, err := os.Stat(a.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s after stop: got %v, want it removed", a.Dir, err)
	}
	for _, f := range []string{b.LogFile, filepath.Join(b.DataDir, "PG_VERSION")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("caller dir after stop: %v, want it kept", err)
		}
	}
	if _, err := pgtest.StartServer(ctx, b.Dir, pgtest.Options{}); err == nil || errors.Is(err, pgtest.ErrNotFound) {
		t.Errorf("start in a used dir: got %v, want an error", err)
	}
}

// fakeTB records how Start ends a test without ending the real one.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Cleanup(func())               {}
func (f *fakeTB) Skip(args ...any)             { f.skipped, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any)            { f.failed, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(s string, args ...any) { f.Fatal(fmt.Sprintf(s, args...)) }

func TestStartWithoutPostgres(t *testing.T) {
	t.Setenv(pgtest.BinDirEnv, t.TempDir()) // holds no binaries
	tests := []struct {
		ci         string
		wantFailed bool
	}{
		{"true", true},
		{"", false},
		{"false", false},
	}
	for _, tt := range tests {
		t.Setenv("CI", tt.ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			pgtest.Start(f)
		}()
		<-done
		if f.failed != tt.wantFailed || f.skipped == tt.wantFailed {
			t.Errorf("CI=%q: got failed %v skipped %v, want failed %v", tt.ci, f.failed, f.skipped, tt.wantFailed)
		}
		if !strings.HasPrefix(f.msg, "postgres: initdb not found; ") {
			t.Errorf("CI=%q: got message %q, want it to start with %q", tt.ci, f.msg, "postgres: initdb not found; ")
		}
	}
}
