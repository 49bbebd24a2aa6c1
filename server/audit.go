package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/store"
)

// startRecorder starts the store's writer, names this gateway, and closes what its last
// run left open.
func (g *Gateway) startRecorder(opts Options) error {
	id, err := loadGatewayID(g.cfg.DataDir)
	if err != nil {
		return err
	}
	g.gatewayID = id
	key, err := audit.LoadKey(g.cfg.DataDir, g.cfg.Audit.ChainKey)
	if err != nil {
		return err
	}
	g.chainKey = key
	g.recordOff = opts.NoRecording
	if sinks := g.cfg.Audit.SinkConfigs(); len(sinks) > 0 {
		if g.sinks, err = audit.NewDispatcher(&audit.Config{Sinks: sinks, Logger: g.log}); err != nil {
			return err
		}
		sinkStats.Store(g.sinks)
	}
	if rules := g.cfg.Audit.Rules(); len(rules) > 0 {
		if g.alerts, err = audit.NewAlerts(rules, time.Now); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(g.cfg.DataDir, "journal")
	if g.store.InMemory() {
		dir = "" // nothing to recover: the store goes with the process
	}
	if g.rec, err = newRecorder(ctx, g.store, dir, id, sealer(key), g.log, g.published); err != nil {
		return err
	}
	closed, err := g.store.CloseInterrupted(ctx, id, time.Now(), "gateway-restart")
	if err != nil {
		return err
	}
	if len(closed) > 0 {
		g.log.Warn("closed sessions cut short by the last stop", "count", len(closed))
	}
	g.audit("gateway.start", "", "", "", map[string]any{"gateway": id, "version": Version, "sessions_closed": nonNil(closed)})
	return nil
}

// Close stops the gateway's writer once what is queued is written. Call it after Serve.
func (g *Gateway) Close() {
	if g.rec != nil {
		g.rec.close()
	}
	if g.notifier != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.notifier.Close(ctx); err != nil {
			g.log.Warn("review notifications: not every one was sent before the stop", "err", err)
		}
	}
	if g.sinks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.sinks.Close(ctx); err != nil {
			g.log.Warn("audit sinks: not every event was delivered before the stop", "err", err)
		}
	}
}

// sealer hashes store events into the audit chain with key. The store keeps Data as
// the canonical text event() made, and the chain hashes that text as it is.
func sealer(key []byte) store.Sealer {
	var mu sync.Mutex
	h := audit.NewTextHasher(key)
	return func(prev []byte, e *store.Event) []byte {
		ae := audit.Event{Time: e.Time, Kind: e.Kind, Actor: e.Actor, Connection: e.Connection, Session: e.Session, Prev: prev}
		mu.Lock()
		defer mu.Unlock()
		return h.Sum(ae, []byte(e.Data))
	}
}

func toAudit(e *store.Event) (audit.Event, error) {
	data, err := audit.ParseData([]byte(e.Data))
	if err != nil {
		return audit.Event{}, err
	}
	return audit.Event{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Connection: e.Connection,
		Session: e.Session, Data: data, Prev: e.Prev, Hash: e.Hash}, nil
}

// published receives the events of each commit, once durable.
func (g *Gateway) published(events []*store.Event) {
	if g.sinks == nil && g.alerts == nil {
		return
	}
	for _, e := range events {
		// Data goes on as the text the chain sealed; the alert rules decode it if they
		// look into it.
		ae := audit.Event{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Connection: e.Connection,
			Session: e.Session, RawData: e.Data, Prev: e.Prev, Hash: e.Hash}
		if g.sinks != nil {
			g.sinks.Publish(ae)
		}
		if g.alerts != nil {
			for _, a := range g.alerts.Observe(ae) {
				g.audit(a.Kind, a.Actor, a.Connection, a.Session, a.Data)
			}
		}
	}
}

// caughtUp waits, a few seconds at most, until the store holds what the gateway recorded
// before a read of it: the journal's records reach the store within milliseconds. When it
// can't (the store refuses records), the read goes on with what the store has.
func (g *Gateway) caughtUp(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := g.SyncRecords(ctx); err != nil {
		g.log.Warn("reading records the store may not hold all of yet", "err", err)
	}
}

// VerifyAudit recomputes the audit chain in the store.
func (g *Gateway) VerifyAudit(ctx context.Context) (audit.Report, error) {
	if g.store == nil {
		return audit.Report{}, errors.New("this gateway has no store")
	}
	g.caughtUp(ctx)
	events := make(chan *store.Event, 256)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(events)
		errc <- g.store.Events(ctx, 0, func(e *store.Event) bool {
			select {
			case events <- e:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	report, err := audit.Verify(g.chainKey, func() (audit.Event, bool, error) {
		e, ok := <-events
		if !ok {
			return audit.Event{}, false, <-errc
		}
		ae, err := toAudit(e)
		if err != nil {
			return audit.Event{}, false, fmt.Errorf("audit event %d: %w", e.Seq, err)
		}
		return ae, true, nil
	})
	return report, err
}

// loadGatewayID returns this gateway's name in a shared store, made once and kept in the
// data dir.
func loadGatewayID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "gateway.id")
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("gateway id: %w", err)
	}
	id := "gw-" + strings.ToLower(rand.Text()[:16])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("gateway id: %w", err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("gateway id: %w", err)
	}
	return id, nil
}

// logins turns the tokens the gateway sees into audit events: "login" the first time a
// token is used (a new token has a new expiry), "login.failed" for a refused one, at most
// one per source address every 10 seconds so that a flood cannot fill the trail.
type logins struct {
	mu     sync.Mutex
	tokens map[string]bool      // subject + issuer + expiry
	failed map[string]time.Time // source host → last event
}

const maxLoginKeys = 10000

func (l *logins) seen(g *Gateway, id identity.Identity, remote string) {
	key := id.Issuer + "\x00" + id.Subject + "\x00" + id.Expiry.String()
	l.mu.Lock()
	if l.tokens == nil || len(l.tokens) >= maxLoginKeys {
		l.tokens = make(map[string]bool)
	}
	known := l.tokens[key]
	l.tokens[key] = true
	l.mu.Unlock()
	if !known {
		g.audit(audit.KindLogin, id.String(), "", "", map[string]any{"subject": id.Subject, "issuer": id.Issuer,
			"groups": nonNil(id.Groups), "expires": id.Expiry.UTC().Format(time.RFC3339), "source": remote})
	}
}

func (l *logins) refused(g *Gateway, remote string, err error) {
	host, _, splitErr := net.SplitHostPort(remote)
	if splitErr != nil {
		host = remote
	}
	now := time.Now()
	l.mu.Lock()
	if l.failed == nil || len(l.failed) >= maxLoginKeys {
		l.failed = make(map[string]time.Time)
	}
	last, ok := l.failed[host]
	quiet := ok && now.Sub(last) < 10*time.Second
	if !quiet {
		l.failed[host] = now
	}
	l.mu.Unlock()
	if !quiet {
		metrics.denials.WithLabelValues("token").Inc()
		g.audit("login.failed", "", "", "", map[string]any{"reason": err.Error(), "source": remote})
	}
}
