package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hoopgw/hoop/internal/retry"
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
	h, err := retry.Header(s.Headers)
	if err != nil {
		return nil, fmt.Errorf("webhook sink: %w", err)
	}
	return &webhook{
		url:     s.URL,
		headers: h,
		cfg:     s,
		client:  retry.NewClient(),
	}, nil
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

	p := retry.Policy{Attempts: w.cfg.Attempts, Backoff: w.cfg.Backoff, MaxBackoff: w.cfg.MaxBackoff,
		Timeout: w.cfg.Timeout, Prefix: "webhook: "}
	return p.Do(ctx, func(ctx context.Context) error {
		err := retry.Post(ctx, w.client, w.url, w.headers, body)
		if _, ok := errors.AsType[*retry.StatusError](err); ok {
			return fmt.Errorf("webhook %w", err) // "webhook answered 503"
		}
		return err
	})
}

func (w *webhook) close() error {
	w.client.CloseIdleConnections()
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error { return retry.Sleep(ctx, d) }
