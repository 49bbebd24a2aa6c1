// Command pgtmp runs a throwaway PostgreSQL server for scripts (demo, bench).
//
//	go build -o /tmp/pgtmp ./scripts/pgtmp
//	/tmp/pgtmp -dir /tmp/demo/pg -app -env /tmp/demo/pg.env &
//	while [ ! -f /tmp/demo/pg.env ]; do sleep 0.1; done; . /tmp/demo/pg.env
//
// Once the server accepts connections, pgtmp prints shell export lines to
// stdout (and writes them to -env FILE, atomically): PGHOST (the unix socket
// directory, where the superuser needs no password), PGPORT, PGUSER,
// HOOP_TEST_PG_SUPERUSER, HOOP_TEST_PG_SUPERPASSWORD, DB_HOST, DB_PORT and,
// with -app, DB_NAME, DB_RO_USER, DB_RO_PASSWORD, DB_RW_USER, DB_RW_PASSWORD;
// with -ssl, HOOP_TEST_PG_SSLROOTCERT. It then runs until SIGINT or SIGTERM
// and stops PostgreSQL on the way out. It exits 1 if PostgreSQL dies first.
//
// Signal pgtmp itself, not "go run": go run does not pass SIGTERM on.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoopgw/hoop/internal/pgtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are pgtmp's flags.
type options struct {
	dir     string // "/tmp/demo/pg"; a temporary directory, removed at exit, when empty
	ssl     bool
	app     bool
	envFile string // "/tmp/demo/pg.env"
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("pgtmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", "", "directory for the server's files (data/, postgres.log); kept at exit. Default: a temporary directory, removed at exit")
	fs.BoolVar(&o.ssl, "ssl", false, "turn on TLS with a self-signed certificate")
	fs.BoolVar(&o.app, "app", false, "create the sample database app with roles app_ro and app_rw")
	fs.StringVar(&o.envFile, "env", "", "also write the export lines to this file once the server is ready")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pgtmp: unexpected arguments %q\n", fs.Args())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "pgtmp: %v\n", err)
		return 1
	}
	return 0
}

// serve starts the server, announces it and waits for ctx to end.
func serve(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	srv, err := pgtest.StartServer(startCtx, o.dir, pgtest.Options{SSL: o.ssl, App: o.app})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	env := exports(srv)
	if _, err := io.WriteString(stdout, env); err != nil {
		return fmt.Errorf("write exports: %w", err)
	}
	if o.envFile != "" {
		if err := writeFileAtomic(o.envFile, []byte(env)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "pgtmp: PostgreSQL %s ready on %s:%d, files in %s; SIGINT or SIGTERM stops it\n",
		srv.Version, srv.Host, srv.Port, srv.Dir)
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "pgtmp: stopping PostgreSQL")
		return nil
	case <-srv.Done():
		log, _ := os.ReadFile(srv.LogFile) // read now: Stop may remove it
		if len(log) > 2048 {
			log = log[len(log)-2048:]
		}
		return fmt.Errorf("postgres exited unexpectedly; end of %s:\n%s", srv.LogFile, log)
	}
}

// exports returns the server's coordinates as shell export lines.
func exports(srv *pgtest.Server) string {
	port := strconv.Itoa(srv.Port)
	vars := [][2]string{
		{"PGHOST", srv.SocketDir},
		{"PGPORT", port},
		{"PGUSER", srv.SuperUser},
		{"HOOP_TEST_PG_SUPERUSER", srv.SuperUser},
		{"HOOP_TEST_PG_SUPERPASSWORD", srv.SuperPassword},
		{"DB_HOST", srv.Host},
		{"DB_PORT", port},
	}
	if srv.SSL {
		vars = append(vars, [2]string{"HOOP_TEST_PG_SSLROOTCERT", srv.CACertFile})
	}
	if app := srv.App; app != nil {
		vars = append(vars,
			[2]string{"DB_NAME", app.DB},
			[2]string{"DB_RO_USER", app.ROUser},
			[2]string{"DB_RO_PASSWORD", app.ROPassword},
			[2]string{"DB_RW_USER", app.RWUser},
			[2]string{"DB_RW_PASSWORD", app.RWPassword},
		)
	}
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", v[0], shellQuote(v[1]))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@=,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFileAtomic writes data so that readers see all of it or no file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pgtmp-env-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
