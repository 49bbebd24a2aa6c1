package e2e

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hoopgw/hoop/client/cli"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/internal/testissuer"
	"github.com/hoopgw/hoop/server"
)

// stopPG wraps the test run so the shared PostgreSQL stops after it.
type stopPG struct{ m *testing.M }

func (s stopPG) Run() int {
	code := s.m.Run()
	if pgSrv != nil {
		pgSrv.Stop()
		os.RemoveAll(pgSrv.Dir)
	}
	return code
}

func TestMain(m *testing.M) {
	testscript.Main(stopPG{m}, map[string]func(){
		"hoop":     func() { os.Exit(cli.Main()) },
		"hoopd":    func() { os.Exit(server.Main()) },
		"xdg-open": func() { os.Exit(devBrowser()) }, // what github.com/pkg/browser runs to open the login page
	})
}

// devBrowser logs in as $HOOP_DEV_USER on the page it is given, like a person would.
func devBrowser() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: xdg-open URL")
		return 2
	}
	user := os.Getenv("HOOP_DEV_USER")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := testbrowser.Login(ctx, nil, os.Args[1], user, user+"-dev"); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}
	return 0
}

func TestScripts(t *testing.T) {
	pg := sharedPG(t)
	ex := sharedExamples(t)
	ci := testissuer.New(t) // a CI system's own OIDC issuer, for hoop exec's stories
	if err := pg.ExecIn(context.Background(), pg.App.DB, `CREATE TABLE IF NOT EXISTS ci_runs (id serial PRIMARY KEY, job text NOT NULL);
		GRANT SELECT ON ci_runs TO app_ro; GRANT SELECT, INSERT, UPDATE, DELETE ON ci_runs TO app_rw;
		GRANT USAGE ON SEQUENCE ci_runs_id_seq TO app_rw;
		CREATE TABLE IF NOT EXISTS jobs (id int PRIMARY KEY); DELETE FROM jobs; INSERT INTO jobs SELECT generate_series(1, 5);
		GRANT SELECT ON jobs TO app_ro; GRANT SELECT, DELETE ON jobs TO app_rw`); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			gw := "http://127.0.0.1:" + strconv.Itoa(port)
			etc := filepath.Join(env.WorkDir, "etc")
			if err := os.MkdirAll(etc, 0o700); err != nil {
				return err
			}
			for _, f := range []string{"gateway.yaml", "policy.yaml"} {
				b, err := os.ReadFile(filepath.Join(ex, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(etc, f), b, 0o600); err != nil {
					return err
				}
			}
			// etc/ci: the example config trusting the CI issuer; the script brings its policy.
			if err := os.MkdirAll(filepath.Join(etc, "ci"), 0o700); err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(ex, "gateway.yaml"))
			if err != nil {
				return err
			}
			b = []byte(strings.Replace(string(b), "\nconnections:", ciWorkload+"\nconnections:", 1))
			if err := os.WriteFile(filepath.Join(etc, "ci", "gateway.yaml"), b, 0o600); err != nil {
				return err
			}
			for k, v := range map[string]string{
				"CI_ISSUER":         ci.URL(),
				"GW":                gw,
				"HOOP_LISTEN":       "127.0.0.1:" + strconv.Itoa(port),
				"HOOP_PUBLIC_URL":   gw,
				"HOOP_STORE":        "sqlite://" + filepath.Join(env.WorkDir, "hoop-data", "hoop.db"),
				"HOOP_CONFIG_DIR":   filepath.Join(env.WorkDir, ".config", "hoop"),
				"HOOP_KEYRING":      "file",
				"DB_HOST":           pg.Host,
				"DB_PORT":           strconv.Itoa(pg.Port),
				"DB_NAME":           pg.App.DB,
				"DB_RO_USER":        pg.App.ROUser,
				"DB_RO_PASSWORD":    pg.App.ROPassword,
				"DB_RW_USER":        pg.App.RWUser,
				"DB_RW_PASSWORD":    pg.App.RWPassword,
				"PGCONNECT_TIMEOUT": "10",
			} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waithttp": cmdWaitHTTP,
			"freeport": cmdFreePort,
			"waitport": cmdWaitPort,
			"pgxquery": cmdPgxQuery,
			"capture":  cmdCapture,
			"citoken":  func(ts *testscript.TestScript, neg bool, args []string) { cmdCIToken(ts, neg, args, ci) },
			"waitout":  cmdWaitOut,
		},
	})
}

// display prints a decoded value the way psql would.
func display(v any) string {
	switch x := v.(type) {
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case []byte:
		return fmt.Sprintf("\\x%x", x)
	case driver.Valuer:
		if dv, err := x.Value(); err == nil {
			return fmt.Sprint(dv)
		}
	}
	return fmt.Sprint(v)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waithttp URL: waits (up to 30s) until GET URL answers 200.
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waithttp URL")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(args[0])
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s not up after 30s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeport NAME: sets $NAME to a free loopback port.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: freeport NAME")
	}
	p, err := freePort()
	ts.Check(err)
	ts.Setenv(args[0], strconv.Itoa(p))
}

// waitport PORT: waits (up to 30s) until 127.0.0.1:PORT accepts connections.
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitport PORT")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("port %s not listening after 30s", args[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgxquery PORT SQL: runs SQL with pgx (extended protocol, binary results) through the
// local port and prints each row as tab-separated values.
func cmdPgxQuery(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: pgxquery PORT SQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://anyone@127.0.0.1:"+args[0]+"/ignored?sslmode=disable")
	if err != nil {
		if neg {
			fmt.Fprintln(ts.Stderr(), err)
			return
		}
		ts.Fatalf("pgx connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, args[1])
	if err == nil {
		for rows.Next() {
			vals, verr := rows.Values()
			if verr != nil {
				err = verr
				break
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = display(v)
			}
			fmt.Fprintln(ts.Stdout(), strings.Join(parts, "\t"))
		}
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		if neg {
			fmt.Fprintln(ts.Stderr(), err)
			return
		}
		ts.Fatalf("pgx query: %v", err)
	}
	if neg {
		ts.Fatalf("pgx query succeeded unexpectedly")
	}
}

// capture NAME REGEXP: sets $NAME to the first group of REGEXP's first match in the last
// command's stdout.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || neg {
		ts.Fatalf("usage: capture NAME REGEXP")
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		ts.Fatalf("capture: %v", err)
	}
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("capture: no match for %s in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}

// waitout SECONDS REGEXP COMMAND ARGS...: runs the command again, for up to SECONDS,
// until it succeeds with a stdout that matches REGEXP.
func cmdWaitOut(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 || neg {
		ts.Fatalf("usage: waitout SECONDS REGEXP COMMAND ARGS...")
	}
	secs, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("waitout: %v", err)
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		ts.Fatalf("waitout: %v", err)
	}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for {
		err := ts.Exec(args[2], args[3:]...)
		if err == nil && re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitout: %s did not print %s within %ds (last error: %v)", args[2], args[1], secs, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ciWorkload goes into the example config's auth section for the CI stories: the CI issuer is
// trusted for audience "hoop", main-branch tokens of acme/app deploy, other branches read.
const ciWorkload = `
  workload:
    - name: ci
      issuer: ${CI_ISSUER}
      audience: hoop
      mappings:
        - when: {repository: acme/app, ref: refs/heads/main}
          identity: "ci:{repository}@{ref_name}"
          groups: [ci-deploy]
        - when: {repository: acme/app}
          identity: "ci:{repository}@{ref_name}"
          groups: [ci-readonly]
`

// citoken NAME [claim=value...]: sets $NAME to a token of the CI issuer, for repository
// acme/app on main and audience hoop unless the claims say otherwise.
func cmdCIToken(ts *testscript.TestScript, neg bool, args []string, ci *testissuer.Issuer) {
	if len(args) < 1 || neg {
		ts.Fatalf("usage: citoken NAME [claim=value...]")
	}
	claims := map[string]any{"sub": "repo:acme/app:ref:refs/heads/main", "aud": "hoop", "repository": "acme/app",
		"repository_owner": "acme", "ref": "refs/heads/main", "ref_name": "main"}
	for _, kv := range args[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			ts.Fatalf("citoken: %q: want claim=value", kv)
		}
		claims[k] = v
	}
	ts.Setenv(args[0], ci.Token(claims))
}
