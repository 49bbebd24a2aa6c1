package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/fanout"
	"github.com/hoopgw/hoop/internal/retry"
)

// The target types.
const (
	TypeSlack   = "slack"   // a Slack-compatible incoming webhook: mrkdwn text and blocks
	TypeWebhook = "webhook" // a generic webhook: {"event": "review.opened", "review": …}
	TypeEmail   = "email"   // an e-mail over SMTP
)

// The e-mail TLS modes.
const (
	TLSStartTLS = "starttls" // STARTTLS when the server offers it (the default, "")
	TLSRequired = "required" // STARTTLS, or nothing is sent
	TLSNone     = "none"     // never: plain text (AUTH only to a loopback address)
)

// Defaults for a Config's zero fields.
const (
	DefaultQueue      = 100 // reviews waiting for a target
	DefaultAttempts   = 5   // tries of a review before it is dropped
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
	DefaultTimeout    = 10 * time.Second // per try: an HTTP request, or a whole SMTP conversation
)

// EventOpened is the event of the generic webhook's body.
const EventOpened = "review.opened"

// Sentinel errors.
var (
	// ErrNoStartTLS: an e-mail target with TLS "required" met a server that does not offer
	// STARTTLS. Nothing was sent.
	ErrNoStartTLS = errors.New("smtp server does not offer STARTTLS")

	// ErrInsecureAuth: a username is set, and the SMTP connection is neither TLS nor to a
	// loopback address, so the password would cross the network in the clear.
	ErrInsecureAuth = errors.New("smtp auth refused without TLS to a host that is not loopback")
)

// Config is one notification target. Zero fields take the defaults above.
type Config struct {
	Type     string            // "slack", "webhook" or "email"
	URL      string            // slack, webhook: "https://hooks.slack.com/services/T0/B0/x"
	Headers  map[string]string // webhook: {"Authorization": "Bearer s3cret"}
	Address  string            // email: "smtp.example.com:587"
	From     string            // email: "hoop@example.com"
	To       []string          // email: ["dba-oncall@example.com"]
	Username string            // email: "hoop"; "" sends no AUTH
	Password string            // email: "s3cret"
	TLS      string            // email: "starttls" (""), "required" or "none"

	// TLSConfig is the e-mail target's STARTTLS configuration; nil verifies the server
	// against the system roots under the host name of Address.
	TLSConfig *tls.Config

	Queue      int           // 100: reviews held for the target; more are dropped
	Attempts   int           // 5: tries of a review before it is dropped
	Backoff    time.Duration // 1s: the wait before the first retry, doubled each time
	MaxBackoff time.Duration // 30s: the longest wait between tries
	Timeout    time.Duration // 10s: per try
}

// String describes c without its secrets: the password, the header values, and the
// path of a Slack URL (which is the Slack webhook's credential).
func (c Config) String() string { return c.name() }

// GoString hides the secrets from %#v too.
func (c Config) GoString() string {
	return fmt.Sprintf("notify.Config{Type:%q, Target:%q, Headers:%q, Username:%q}",
		c.Type, c.name(), slices.Sorted(maps.Keys(c.Headers)), c.Username)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Queue, DefaultQueue)
	def(&c.Attempts, DefaultAttempts)
	defDur(&c.Backoff, DefaultBackoff)
	defDur(&c.MaxBackoff, DefaultMaxBackoff)
	defDur(&c.Timeout, DefaultTimeout)
	return c
}

// name is how logs and the Sent and Dropped maps call the target, without credentials:
// "slack:hooks.slack.com" (a Slack URL's path is its secret),
// "webhook:https://siem.example.com/hoop" (no query), "email:smtp.example.com:587".
func (c Config) name() string {
	switch c.Type {
	case TypeSlack, TypeWebhook:
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" {
			return c.Type
		}
		if c.Type == TypeSlack {
			return "slack:" + u.Host
		}
		return "webhook:" + (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	case TypeEmail:
		return "email:" + c.Address
	}
	return c.Type
}

// target delivers a review to one destination, once; the worker retries.
type target interface {
	send(ctx context.Context, r *api.Review) error
	close()
}

// retryable is an error that says whether trying again may help.
type retryable interface {
	error
	temporary() bool
}

// classified is an error whose retry is decided: permanent, a failure that trying again
// will not fix (a 4xx answer, a 5xx SMTP reply, no STARTTLS when it is required); or
// temporary.
type classified struct {
	err  error
	temp bool
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() error   { return e.err }
func (e *classified) temporary() bool { return e.temp }

func permanent(err error) error { return &classified{err, false} }
func temporary(err error) error { return &classified{err, true} }

func newTarget(c Config, log *slog.Logger) (target, error) {
	switch c.Type {
	case TypeSlack:
		return newHTTP(c, slackBody)
	case TypeWebhook:
		return newHTTP(c, webhookBody)
	case TypeEmail:
		return newEmail(c, log)
	case "":
		return nil, errors.New("no type (want slack, webhook or email)")
	}
	return nil, fmt.Errorf("unknown type %q (want slack, webhook or email)", c.Type)
}

// logEvery is how often, at most, a target logs that its queue is full.
const logEvery = fanout.LogEvery

// Notifier sends reviews to the targets. Every review given to Review is, for each
// target, either sent or dropped: after Close, Sent()[name] + Dropped()[name] is the
// number of reviews given.
type Notifier struct {
	pool    *fanout.Pool[*api.Review]
	workers []*worker // in the pool's order
}

// worker runs one target.
type worker struct {
	*fanout.Worker[*api.Review]
	target target
	cfg    Config
	log    *slog.Logger
}

// New starts a goroutine per target of cfgs (none: a Notifier that sends nothing). It
// fails when a target is malformed; a server that is down is not an error. log nil is
// slog.Default().
func New(cfgs []Config, log *slog.Logger) (*Notifier, error) {
	if log == nil {
		log = slog.Default()
	}
	n := &Notifier{pool: &fanout.Pool[*api.Review]{}}
	names := map[string]int{}
	for i, c := range cfgs {
		c = c.withDefaults()
		name := c.name()
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, names[name])
		}
		t, err := newTarget(c, log.With("target", name))
		if err != nil {
			for _, w := range n.workers {
				w.target.close()
			}
			return nil, fmt.Errorf("notify target %d (%s): %w", i, name, err)
		}
		w := &worker{target: t, cfg: c, log: log.With("target", name)}
		w.Worker = n.pool.Add(name, c.Queue, func(ctx context.Context, _ *fanout.Worker[*api.Review]) { w.run(ctx) })
		n.workers = append(n.workers, w)
	}
	n.pool.Start()
	return n, nil
}

// Review queues r for every target and returns at once; the delivery does not end with
// ctx, which only carries the caller's values to the log. A nil Notifier drops
// everything.
func (n *Notifier) Review(ctx context.Context, r api.Review) {
	if n == nil || len(n.workers) == 0 {
		return
	}
	n.pool.Publish(cloneReview(r), func(i int, total uint64) {
		n.workers[i].log.WarnContext(ctx, "notify target dropped a review", "why", "queue full", "review", r.ID, "dropped_total", total)
	})
}

// cloneReview copies r's slices and pointers, so that the caller may change its own
// value once Review returns.
func cloneReview(r api.Review) *api.Review {
	r.Groups = slices.Clone(r.Groups)
	if r.Params != nil {
		params := make([]*string, len(r.Params))
		for i, p := range r.Params {
			if p != nil {
				s := *p
				params[i] = &s
			}
		}
		r.Params = params
	}
	r.Approvals = slices.Clone(r.Approvals)
	if r.Denial != nil {
		d := *r.Denial
		r.Denial = &d
	}
	return &r
}

// Sent returns, by target name, how many reviews each target delivered:
// {"slack:hooks.slack.com": 12, "email:smtp.example.com:587": 12}.
func (n *Notifier) Sent() map[string]uint64 { return n.fanout().Sent() }

// Dropped returns, by target name, how many reviews each target dropped: its queue was
// full, the Notifier was closed, or the delivery failed after its retries.
func (n *Notifier) Dropped() map[string]uint64 { return n.fanout().Dropped() }

// fanout is n's pool, nil for a nil Notifier.
func (n *Notifier) fanout() *fanout.Pool[*api.Review] {
	if n == nil {
		return nil
	}
	return n.pool
}

// Close stops taking reviews and lets each target deliver what it has queued, until ctx
// ends; then the targets stop retrying and count what is left as dropped. It returns
// ctx's error when it had to cut delivery short. Review after Close drops.
func (n *Notifier) Close(ctx context.Context) error {
	dropped, err := n.fanout().Close(ctx)
	if errors.Is(err, fanout.ErrClosed) { // closed already, or nil
		return nil
	}
	for _, w := range n.workers {
		w.target.close()
	}
	if err != nil {
		return fmt.Errorf("notify close: %w (%d reviews dropped in all)", err, dropped)
	}
	return nil
}

// run delivers the queue until it is closed and empty. Once ctx ends, what is left is
// dropped without a try.
func (w *worker) run(ctx context.Context) {
	for r := range w.Queue() {
		if ctx.Err() != nil {
			w.Drop(1)
			continue
		}
		if err := w.deliver(ctx, r); err != nil {
			total := w.Drop(1)
			w.log.Warn("notify target gave a review up", "review", r.ID, "error", err.Error(), "dropped_total", total)
			continue
		}
		w.Sent(1)
	}
}

// deliver sends r, trying again after a backoff (exponential, with jitter, capped) while
// the error is temporary, up to cfg.Attempts tries.
func (w *worker) deliver(ctx context.Context, r *api.Review) error {
	p := retry.Policy{Attempts: w.cfg.Attempts, Backoff: w.cfg.Backoff, MaxBackoff: w.cfg.MaxBackoff, Timeout: w.cfg.Timeout,
		Temporary: func(err error) bool {
			if t, ok := errors.AsType[retryable](err); ok {
				return t.temporary()
			}
			return retry.Temporary(err)
		},
		Retrying: func(attempt int, wait time.Duration, err error) {
			w.log.Debug("notify target will try again", "review", r.ID, "attempt", attempt, "wait", wait, "error", err.Error())
		},
	}
	return p.Do(ctx, func(ctx context.Context) error { return w.target.send(ctx, r) })
}

// loopback reports whether host is a loopback address: "127.0.0.1", "::1" or "localhost".
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasCRLF reports whether s holds a character that would end a header or command line.
func hasCRLF(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }
