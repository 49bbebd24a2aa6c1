package audit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookServer is a webhook receiver: it answers each request with the next status of
// statuses (then 200), and keeps what it got.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	batches  [][]Event
	headers  []http.Header
	got      chan struct{} // a token per request
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses, got: make(chan struct{}, 1000)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events := decodeArray(t, r.Body)
		h.mu.Lock()
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.batches = append(h.batches, events)
		h.headers = append(h.headers, r.Header.Clone())
		h.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		h.got <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return h
}

// snapshot returns the batches and headers received so far.
func (h *hookServer) snapshot() ([][]Event, []http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]Event(nil), h.batches...), append([]http.Header(nil), h.headers...)
}

func (h *hookServer) sizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int
	for _, b := range h.batches {
		out = append(out, len(b))
	}
	return out
}

// TestWebhookBatchesAndRetries: events go in batches of Batch, each a JSON array with
// the configured headers; a batch answered 503 is sent again until it gets a 2xx.
func TestWebhookBatchesAndRetries(t *testing.T) {
	h := newHookServer(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{
		Type: SinkWebhook, URL: h.URL, Batch: 10, Flush: time.Hour, Backoff: time.Millisecond,
		Headers: map[string]string{"Authorization": "Bearer s3cret"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	events := sealed(t, 25)
	for _, e := range events {
		d.Publish(e)
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Two failed tries of the first batch, then three batches: 10, 10 and, at Close, 5.
	if got, want := h.sizes(), []int{10, 10, 10, 10, 5}; !equalInts(got, want) {
		t.Errorf("batch sizes: got %v, want %v", got, want)
	}
	batches, headers := h.snapshot()
	var seqs []int64
	for _, b := range batches[2:] {
		for _, e := range b {
			seqs = append(seqs, e.Seq)
		}
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("events received: got seqs %v, want 1-25 in order", seqs)
		}
	}
	// What the webhook got is the chain, and verifies.
	var all []Event
	for _, b := range batches[2:] {
		all = append(all, b...)
	}
	if r := verify(t, testKey, all); !r.OK {
		t.Errorf("Verify(webhook events): %s", r)
	}
	hdr := headers[0]
	if hdr.Get("Authorization") != "Bearer s3cret" || hdr.Get("Content-Type") != "application/json" || hdr.Get("User-Agent") != "hoopd" {
		t.Errorf("headers: got %v", hdr)
	}
	name := "webhook:" + h.URL
	if s, dr := d.Sent()[name], d.Dropped()[name]; s != 25 || dr != 0 {
		t.Errorf("sent %d, dropped %d; want 25, 0", s, dr)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWebhookGivesUp: a batch that fails every try is dropped after Attempts tries; an
// answer that will not get better (400) is not tried again.
func TestWebhookGivesUp(t *testing.T) {
	for _, tt := range []struct {
		name     string
		status   int
		requests int
	}{
		{"500 is retried", http.StatusInternalServerError, 3},
		{"429 is retried", http.StatusTooManyRequests, 3},
		{"400 is not", http.StatusBadRequest, 1},
		{"a redirect is not followed", http.StatusFound, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookServer(t, tt.status, tt.status, tt.status, tt.status)
			log, logs := quietLog()
			d, err := NewDispatcher(&Config{Logger: log, Sinks: []SinkConfig{{
				Type: SinkWebhook, URL: h.URL, Batch: 5, Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range sealed(t, 5) {
				d.Publish(e)
			}
			if err := closeWithin(t, d, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			name := "webhook:" + h.URL
			if s, dr := d.Sent()[name], d.Dropped()[name]; s != 0 || dr != 5 {
				t.Errorf("sent %d, dropped %d; want 0, 5", s, dr)
			}
			if got := len(h.sizes()); got != tt.requests {
				t.Errorf("requests: got %d, want %d", got, tt.requests)
			}
			if !strings.Contains(logs.String(), "webhook answered") {
				t.Errorf("log: want the webhook's answer, got:\n%s", logs)
			}
		})
	}
}

// TestWebhookFlush: a batch that does not fill is sent after Flush.
func TestWebhookFlush(t *testing.T) {
	h := newHookServer(t)
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkWebhook, URL: h.URL, Flush: 20 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(t.Context())
	for _, e := range sealed(t, 3) {
		d.Publish(e)
	}
	select {
	case <-h.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no POST of a batch of 3 (of 100) before Close")
	}
	if got := h.sizes(); len(got) != 1 || got[0] != 3 {
		t.Errorf("batches: got %v, want [3]", got)
	}
}
