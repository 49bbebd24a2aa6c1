package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
)

// reviewsAPI is what the approvals UI needs of the gateway. reviewClient is the real
// one; the UI's tests drive the model through it against an HTTP test server.
type reviewsAPI interface {
	// Reviews lists the reviews the caller may decide, and their own: pending ones, or
	// all of them.
	Reviews(ctx context.Context, all bool) ([]api.Review, error)
	// Decide approves or denies review id and returns the review as it is now.
	Decide(ctx context.Context, id string, d decision, reason string) (*api.Review, error)
	// Events opens the stream of review events.
	Events(ctx context.Context) (reviewEvents, error)
}

// reviewEvents is an open stream of review events.
type reviewEvents interface {
	// Next blocks for the next review that was created or changed state; an error means
	// the stream is over.
	Next() (api.Review, error)
	Close() error
}

// reviewPath is the API path that decides review id: "/api/v1/reviews/r-17/approve".
func reviewPath(id string, d decision) string {
	return "/api/v1/reviews/" + url.PathEscape(id) + "/" + string(d)
}

// post calls POST {gateway}{path} with in as JSON, as the logged-in identity, and decodes
// the JSON answer into out; it returns the gateway's URL. Its errors are client.Get's: a
// non-2xx answer is a *client.APIError, which exitCode maps (403 to ExitDenied).
func (f *factory) post(ctx context.Context, path string, in, out any) (string, error) {
	return f.call(ctx, http.MethodPost, path, in, out)
}

// answerError is the *client.APIError of a non-2xx answer, as client.Call makes it.
func answerError(u string, resp *http.Response, body []byte) error {
	var ae api.Error
	if json.Unmarshal(body, &ae) == nil && ae.Error != "" {
		return &client.APIError{StatusCode: resp.StatusCode, Code: ae.Code, Message: ae.Error}
	}
	return &client.APIError{StatusCode: resp.StatusCode, Message: fmt.Sprintf("gateway %s answered %s", u, resp.Status)}
}

// reviewClient is reviewsAPI over the gateway's HTTP API, as the logged-in identity.
type reviewClient struct {
	f    *factory
	idle time.Duration // a stream silent this long is dead: the gateway pings every 15 s

	mu sync.Mutex // one token look-up at a time: the store may refresh and save tokens
}

func newReviewClient(f *factory) *reviewClient {
	return &reviewClient{f: f, idle: 45 * time.Second}
}

// creds are the gateway's URL and a current token.
func (c *reviewClient) creds(ctx context.Context) (gateway, token string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gateway, err = c.f.gateway(); err != nil {
		return "", "", err
	}
	token, _, err = c.f.token(ctx, gateway)
	return gateway, token, err
}

func (c *reviewClient) Reviews(ctx context.Context, all bool) ([]api.Review, error) {
	gw, tok, err := c.creds(ctx)
	if err != nil {
		return nil, err
	}
	state := api.ReviewPending
	if all {
		state = "all"
	}
	var list []api.Review
	if err := client.Get(ctx, c.f.http, gw, "/api/v1/reviews?state="+state, tok, &list); err != nil {
		return nil, err
	}
	return list, nil
}

func (c *reviewClient) Decide(ctx context.Context, id string, d decision, reason string) (*api.Review, error) {
	gw, tok, err := c.creds(ctx)
	if err != nil {
		return nil, err
	}
	var r api.Review
	if err := client.Call(ctx, c.f.http, http.MethodPost, gw, reviewPath(id, d), tok, api.ReviewAnswer{Reason: reason}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (c *reviewClient) Events(ctx context.Context) (reviewEvents, error) {
	gw, tok, err := c.creds(ctx)
	if err != nil {
		return nil, err
	}
	u := gw + "/api/v1/reviews/events"
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gateway %s: %w", gw, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.f.http.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("gateway %s: %w", gw, err)
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		return nil, answerError(u, resp, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("gateway %s: answered %q, not an event stream", u, resp.Header.Get("Content-Type"))
	}
	return newSSEReviews(resp.Body, cancel, c.idle), nil
}

// errStreamIdle ends a stream that stopped sending even its pings.
var errStreamIdle = errors.New("no event or ping from the gateway in time")

// sseReviews reads the review events of a server-sent event stream
// (text/event-stream): "event: review" then "data: <api.Review JSON>" lines, a blank line
// ending each event; lines that start with a colon are comments (": ping").
type sseReviews struct {
	body   io.ReadCloser
	lines  *bufio.Scanner
	cancel context.CancelFunc
	idle   time.Duration
	timer  *time.Timer
	idled  atomic.Bool
}

func newSSEReviews(body io.ReadCloser, cancel context.CancelFunc, idle time.Duration) *sseReviews {
	s := &sseReviews{body: body, lines: bufio.NewScanner(body), cancel: cancel, idle: idle}
	s.lines.Buffer(make([]byte, 0, 64<<10), 8<<20) // an event carries a whole statement
	if idle > 0 {
		s.timer = time.AfterFunc(idle, func() { s.idled.Store(true); cancel() })
	}
	return s
}

func (s *sseReviews) Next() (api.Review, error) {
	var (
		event   string
		data    strings.Builder
		hasData bool
	)
	for s.lines.Scan() {
		if s.timer != nil {
			s.timer.Reset(s.idle)
		}
		line := s.lines.Text()
		if line == "" {
			if event == "review" && hasData {
				var r api.Review
				// A review we can't read is skipped, not fatal: the next list repairs it.
				if err := json.Unmarshal([]byte(data.String()), &r); err == nil && r.ID != "" {
					return r, nil
				}
			}
			event, hasData = "", false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
	}
	err := s.lines.Err()
	switch {
	case s.idled.Load():
		err = fmt.Errorf("%w (%s)", errStreamIdle, s.idle)
	case err == nil:
		err = io.EOF
	}
	return api.Review{}, fmt.Errorf("review events: %w", err)
}

func (s *sseReviews) Close() error {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel()
	return s.body.Close()
}

// watchConfig is how the UI keeps its list live.
type watchConfig struct {
	minBackoff time.Duration // first wait before reconnecting: 500ms
	maxBackoff time.Duration // longest wait: 30s
	stable     time.Duration // a stream up this long starts the backoff afresh: 1m
}

func defaultWatchConfig() watchConfig {
	return watchConfig{minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second, stable: time.Minute}
}

// Messages of the watcher, in the order it sends them.
type (
	// reviewsMsg is the pending reviews right after the stream (re)connected; the
	// events that follow amend it.
	reviewsMsg struct{ reviews []api.Review }
	// reviewMsg is one event: a review was created or changed state.
	reviewMsg struct{ review api.Review }
	// streamDownMsg says the stream dropped or could not open, and when it is retried.
	streamDownMsg struct {
		err   error
		retry time.Duration
	}
)

// watchReviews keeps the UI's list current until ctx ends. It opens the event stream,
// then lists the pending reviews (so nothing that happens between the two is lost: the
// list is at least as new as the stream's start, and every later change comes as an
// event after it), and relays each event. When the stream drops it says so and
// reconnects with exponential backoff.
func watchReviews(ctx context.Context, a reviewsAPI, out chan<- tea.Msg, cfg watchConfig) {
	delay := cfg.minBackoff
	for {
		start := time.Now()
		connected, err := watchOnce(ctx, a, out)
		if ctx.Err() != nil {
			return
		}
		if connected && time.Since(start) >= cfg.stable {
			delay = cfg.minBackoff
		}
		wait := delay + rand.N(delay/5+1) // jitter: approvers don't all come back at once
		if !sendMsg(ctx, out, streamDownMsg{err: err, retry: wait}) {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, cfg.maxBackoff)
	}
}

// watchOnce follows one connection of the stream; connected says it opened.
func watchOnce(ctx context.Context, a reviewsAPI, out chan<- tea.Msg) (connected bool, err error) {
	ev, err := a.Events(ctx)
	if err != nil {
		return false, err
	}
	defer ev.Close()
	list, err := a.Reviews(ctx, false)
	if err != nil {
		return false, err
	}
	if !sendMsg(ctx, out, reviewsMsg{reviews: list}) {
		return true, ctx.Err()
	}
	for {
		r, err := ev.Next()
		if err != nil {
			return true, err
		}
		if !sendMsg(ctx, out, reviewMsg{review: r}) {
			return true, ctx.Err()
		}
	}
}

func sendMsg(ctx context.Context, out chan<- tea.Msg, msg tea.Msg) bool {
	select {
	case out <- msg:
		return true
	case <-ctx.Done():
		return false
	}
}
