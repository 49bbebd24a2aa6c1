// Package retry tries a delivery again after a backoff (exponential, with jitter,
// capped), and POSTs to webhooks in a way it can judge: a network error, a timeout, 408,
// 429 and 5xx may get better; any other answer (400, 401, a redirect) will not. A
// Retry-After in seconds is honoured up to the cap.
//
// audit's webhook sink and notify's targets deliver through it.
package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrRequest: Post could not make the request (a bad URL).
var ErrRequest = errors.New("bad request")

// Policy says how often and how long to try.
type Policy struct {
	Attempts   int           // 5: tries in all
	Backoff    time.Duration // 1s: the wait before the first retry, doubled each time
	MaxBackoff time.Duration // 30s: the longest wait between tries
	Timeout    time.Duration // 10s: per try; 0 is none

	// Temporary reports whether trying again after err may help; nil is the package's
	// Temporary.
	Temporary func(err error) bool

	// Retrying, when set, is called before each wait: to log it.
	Retrying func(attempt int, wait time.Duration, err error)

	// Prefix is put before ctx's error when ctx ends a wait: "webhook: ".
	Prefix string
}

// Do calls try until it returns nil or an error that is not temporary, or has been
// called p.Attempts times, or ctx ended. Between tries it waits the backoff, with jitter,
// or a *StatusError's Retry-After when that is longer, up to MaxBackoff. When it gives up
// after a temporary error, it says after how many tries: "answered 503 (after 5 tries)".
func (p Policy) Do(ctx context.Context, try func(ctx context.Context) error) error {
	temporary := p.Temporary
	if temporary == nil {
		temporary = Temporary
	}
	backoff := p.Backoff
	for attempt := 1; ; attempt++ {
		err := p.try(ctx, try)
		if err == nil {
			return nil
		}
		if !temporary(err) {
			return err
		}
		if attempt >= p.Attempts || ctx.Err() != nil {
			return fmt.Errorf("%w (after %d tries)", err, attempt)
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: gateways that failed together do not retry together
		if se, ok := errors.AsType[*StatusError](err); ok && se.RetryAfter > wait {
			wait = min(se.RetryAfter, p.MaxBackoff)
		}
		if p.Retrying != nil {
			p.Retrying(attempt, wait, err)
		}
		if err := Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s%w (after %d tries)", p.Prefix, err, attempt)
		}
		backoff = min(2*backoff, p.MaxBackoff)
	}
}

func (p Policy) try(ctx context.Context, try func(ctx context.Context) error) error {
	if p.Timeout <= 0 {
		return try(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	return try(ctx)
}

// Temporary reports whether trying again after err may help: false for a *StatusError
// that is not Temporary, true for any other error (a network error, a timeout).
func Temporary(err error) bool {
	se, ok := errors.AsType[*StatusError](err)
	return !ok || se.Temporary()
}

// Sleep waits d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Code       int           // 503
	RetryAfter time.Duration // 30s, from "Retry-After: 30"; 0 without one
}

func (e *StatusError) Error() string { return "answered " + strconv.Itoa(e.Code) }

// Temporary reports whether the answer may be different next time: 408, 429 and 5xx.
func (e *StatusError) Temporary() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// NewClient returns an HTTP client that does not follow redirects: the headers may carry a
// credential meant for the first URL only.
func NewClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// Header returns the headers of a JSON webhook: m, with Content-Type application/json and
// a User-Agent of hoopd unless m has one. A name that is not an RFC 9110 token, or a value
// with a line break or NUL, is an error that names the header, not its value (it may be
// a secret).
func Header(m map[string]string) (http.Header, error) {
	h := http.Header{}
	for k, v := range m {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("bad header %q", k)
		}
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "hoopd")
	}
	return h, nil
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

// Post POSTs body to url once, with a copy of h, and reads a little of the answer so
// that the connection can be used again. A 2xx answer is nil, another a *StatusError; a
// request that cannot be made wraps ErrRequest, one that cannot be sent is the client's
// error.
func Post(ctx context.Context, c *http.Client, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	req.Header = h.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &StatusError{Code: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	return se
}
