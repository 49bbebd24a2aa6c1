package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// webhook POSTs each batch as a JSON array of events:
//
//	POST /hoop HTTP/1.1
//	Content-Type: application/json
//	Authorization: Bearer … (from the sink's headers)
//
//	[{"seq":41,…},{"seq":42,…}]
//
// A 2xx answer delivers the batch. A network error, a timeout, 408, 429 and 5xx are
// tried again after a backoff (exponential, with jitter, capped; a Retry-After in
// seconds is honoured up to the cap), up to Attempts tries; any other answer (400, 401,
// a redirect) will not get better and gives the batch up at once. Redirects are not
// followed: the headers may carry a credential meant for this URL only.
type webhook struct {
	url     string
	headers http.Header
	client  *http.Client
	cfg     SinkConfig
}

func newWebhook(s SinkConfig) (*webhook, error) {
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook sink: want an http or https URL, not %q", s.URL)
	}
	h := http.Header{}
	for k, v := range s.Headers {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("webhook sink: bad header %q", k)
		}
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "hoopd")
	}
	return &webhook{
		url:     s.URL,
		headers: h,
		cfg:     s,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}, nil
}

// statusError is a non-2xx answer.
type statusError struct {
	code       int
	retryAfter time.Duration
}

func (e *statusError) Error() string { return "webhook answered " + strconv.Itoa(e.code) }

func (e *statusError) temporary() bool {
	return e.code == http.StatusRequestTimeout || e.code == http.StatusTooManyRequests || e.code >= 500
}

func (w *webhook) write(ctx context.Context, batch []Event) (int, error) {
	if err := w.deliver(ctx, batch); err != nil {
		return 0, err
	}
	return len(batch), nil
}

func (w *webhook) deliver(ctx context.Context, batch []Event) error {
	// A new buffer for each batch: the transport may still read a request's body after
	// Do returns (on a timeout), so the bytes must not be reused for the next batch.
	body := []byte{'['}
	for i, e := range batch {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	body = append(body, ']')

	backoff := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		var se *statusError
		if errors.As(err, &se) && !se.temporary() {
			return err
		}
		if attempt >= w.cfg.Attempts || ctx.Err() != nil {
			return fmt.Errorf("%w (after %d tries)", err, attempt)
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: gateways that failed together do not retry together
		if se != nil && se.retryAfter > wait {
			wait = min(se.retryAfter, w.cfg.MaxBackoff)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("webhook: %w (after %d tries)", err, attempt)
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

func (w *webhook) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = w.headers.Clone()
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	// Read a little of the body so that the connection can be used again.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &statusError{code: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.retryAfter = time.Duration(s) * time.Second
	}
	return se
}

func (w *webhook) close() error {
	w.client.CloseIdleConnections()
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// validHeaderName reports whether s is an HTTP header name: an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
