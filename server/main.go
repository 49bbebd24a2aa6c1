package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	rdebug "runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/internal/debug"
	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/devdefaults"
	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/store"
)

// MainOptions are hoopd's flags.
type MainOptions struct {
	ConfigPath string // "gateway.yaml"
	Dev        bool
	DataDir    string // where --dev keeps its files without --config: "./hoop-data"
	LogFormat  string // "text" or "json"
	DebugAddr  string // loopback address for runtime profiles: "127.0.0.1:6060"
	// BenchNoStatementPolicy turns statement decisions off, with --dev only: for measuring
	// what they cost.
	BenchNoStatementPolicy bool
	// BenchNoRecording turns session recording off, with --dev only: for measuring what
	// it costs. The audit trail is kept.
	BenchNoRecording bool
}

// Main runs hoopd with the process's arguments and returns its exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stderr, os.LookupEnv)
}

// Run runs hoopd with args until ctx is done and returns its exit code.
func Run(ctx context.Context, args []string, stderr io.Writer, env func(string) (string, bool)) int {
	opts := &MainOptions{}
	cmd := &cobra.Command{
		Use:           "hoopd --config gateway.yaml | hoopd --dev",
		Short:         "hoopd is the hoop gateway",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !opts.Dev && opts.ConfigPath == "" {
				return errors.New("missing --config FILE (or --dev for a local gateway with an embedded identity provider)")
			}
			return runGateway(cmd.Context(), opts, stderr, env)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "gateway config file")
	cmd.Flags().BoolVar(&opts.Dev, "dev", false, "local mode: embedded identity provider with local users, loopback only")
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "./hoop-data", "with --dev and no --config: where the config, policy, store and keys live")
	cmd.Flags().StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&opts.DebugAddr, "debug-addr", "", "serve Go runtime profiles (pprof) on this loopback address")
	cmd.Flags().BoolVar(&opts.BenchNoStatementPolicy, "bench-no-statement-policy", false, "with --dev: decide connections only: no statement decisions, no masking (to measure what they cost)")
	_ = cmd.Flags().MarkHidden("bench-no-statement-policy")
	cmd.Flags().BoolVar(&opts.BenchNoRecording, "bench-no-recording", false, "with --dev: record no sessions nor statements (to measure what recording costs)")
	_ = cmd.Flags().MarkHidden("bench-no-recording")
	cmd.SetArgs(args)
	cmd.SetOut(stderr)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "hoopd: %v\n", err)
		return 1
	}
	return 0
}

func runGateway(ctx context.Context, opts *MainOptions, stderr io.Writer, env func(string) (string, bool)) error {
	if opts.BenchNoRecording && !opts.Dev {
		return errors.New("--bench-no-recording is for measurements with --dev only")
	}
	if opts.BenchNoStatementPolicy && !opts.Dev {
		return errors.New("--bench-no-statement-policy is for measurements with --dev only")
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// The gateway's live heap is small and its garbage comes per statement: collecting
		// at five times the live heap rather than twice cuts the collector's share of the
		// CPU under load by more than half. GOGC in the environment still decides.
		rdebug.SetGCPercent(400)
	}
	logw := newBufferedWriter(stderr, 200*time.Millisecond)
	defer logw.Close()
	var h slog.Handler = slog.NewTextHandler(logw, nil)
	if opts.LogFormat == "json" {
		h = slog.NewJSONHandler(logw, nil)
	}
	log := slog.New(h)
	if opts.DebugAddr != "" {
		addr, err := debug.Serve(opts.DebugAddr)
		if err != nil {
			return err
		}
		log.Info("serving runtime profiles", "addr", addr)
	}

	path := opts.ConfigPath
	if opts.Dev && path == "" {
		var err error
		if path, err = writeDevDefaults(opts.DataDir); err != nil {
			return err
		}
	}
	lookup := env
	if opts.Dev {
		// The embedded provider is the issuer; the config need not name one.
		lookup = func(name string) (string, bool) {
			v, ok := env(name)
			if !ok && name == "HOOP_OIDC_ISSUER" {
				return "http://127.0.0.1/oidc", true
			}
			return v, ok
		}
	}
	cfg, err := config.Load(path, lookup)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	if cfg.PublicURL == "" || strings.HasSuffix(cfg.PublicURL, ":0") {
		scheme := "http"
		if cfg.TLS.CertFile != "" {
			scheme = "https"
		}
		cfg.PublicURL = scheme + "://" + ln.Addr().String()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")

	var idp *devidp.Provider
	if opts.Dev {
		if !isLoopbackAddr(ln.Addr()) {
			return fmt.Errorf("--dev listens on loopback only, not %s", ln.Addr())
		}
		if u, err := url.Parse(cfg.PublicURL); err != nil || !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("--dev: public_url %s is not a loopback URL", cfg.PublicURL)
		}
		cfg.Auth.OIDC.Issuer = cfg.PublicURL + "/oidc"
		cfg.Auth.OIDC.ClientID = devidp.DefaultClientID
		cfg.Auth.OIDC.ClientSecret = ""
		cfg.Auth.OIDC.Audience = ""
		cfg.Auth.OIDC.GroupsClaim = "groups"
		cfg.Auth.OIDC.Scopes = []string{"openid", "email", "profile", "groups", "offline_access"}
		// One machine client for CI-like runs: hoop exec with HOOP_CLIENT_ID=ci-bot and
		// HOOP_CLIENT_SECRET=ci-bot-dev acts as machine:ci-bot in group ci-deploy.
		cfg.Auth.Machines = append(cfg.Auth.Machines, config.Machine{ClientID: "ci-bot", Audience: "hoop-machines",
			Identity: "machine:ci-bot", Groups: []string{"ci-deploy"}})
		idp, err = devidp.New(devidp.Config{
			Issuer:   cfg.Auth.OIDC.Issuer,
			Users:    devidp.DefaultUsers(),
			Machines: []devidp.Machine{{ID: "ci-bot", Secret: "ci-bot-dev", Audience: "hoop-machines"}},
			KeyFile:  filepath.Join(cfg.DataDir, "devidp-key.pem"),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "hoopd --dev: embedded identity provider at %s\n", cfg.Auth.OIDC.Issuer)
		fmt.Fprintln(stderr, "hoopd --dev: machine client ci-bot (secret ci-bot-dev): machine:ci-bot, groups: ci-deploy")
		fmt.Fprintln(stderr, "hoopd --dev: local users (password = name + \"-dev\"):")
		for _, u := range devidp.DefaultUsers() {
			fmt.Fprintf(stderr, "  %-6s groups: %s\n", u.Name, strings.Join(u.Groups, ", "))
		}
	}

	st, err := store.Open(ctx, cfg.Store, filepath.Dir(cfg.Path))
	if err != nil {
		return err
	}
	defer st.Close()

	g, err := New(Options{Config: cfg, Store: st, Logger: log, DevIDP: idp, NoStatementPolicy: opts.BenchNoStatementPolicy, NoRecording: opts.BenchNoRecording})
	if err != nil {
		return err
	}
	defer g.Close()
	if opts.BenchNoRecording {
		log.Warn("session recording is OFF (--bench-no-recording)")
	}
	if opts.BenchNoStatementPolicy {
		log.Warn("statement policy and masking are OFF (--bench-no-statement-policy): connection-level access only")
	}
	if err := g.WatchPolicy(ctx); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = g.ReloadPolicy()
			}
		}
	}()
	log.Info("hoopd listening", "url", cfg.PublicURL, "addr", ln.Addr().String(), "version", Version)
	return g.Serve(ctx, ln)
}

// writeDevDefaults writes the default dev config and policy into dir unless they exist,
// and returns the config's path.
func writeDevDefaults(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("--dev data dir: %w", err)
	}
	for name, data := range map[string][]byte{"gateway.yaml": devdefaults.Gateway, "policy.yaml": devdefaults.Policy} {
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("--dev: %w", err)
		}
		_, werr := f.Write(data)
		if err := errors.Join(werr, f.Close()); err != nil {
			return "", fmt.Errorf("--dev: write %s: %w", p, err)
		}
	}
	return filepath.Join(dir, "gateway.yaml"), nil
}

func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
