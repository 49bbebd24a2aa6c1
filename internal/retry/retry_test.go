package retry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	tests := []struct {
		name   string
		codes  []int // answered in turn; the last one after that
		tries  int
		errHas string // "" for nil
	}{
		{"2xx", []int{200}, 1, ""},
		{"503 then 204", []int{503, 204}, 2, ""},
		{"429 every time", []int{429}, 3, "answered 429 (after 3 tries)"},
		{"400 is final", []int{400}, 1, "answered 400"},
		{"a redirect is not followed", []int{302}, 1, "answered 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("Content-Type: got %q, want application/json", got)
				}
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(tt.codes[min(n, len(tt.codes)-1)])
				n++
			}))
			defer srv.Close()
			h, err := Header(map[string]string{"Authorization": "Bearer s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			p := Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Timeout: time.Second}
			err = p.Do(t.Context(), func(ctx context.Context) error {
				return Post(ctx, NewClient(), srv.URL, h, []byte("{}"))
			})
			if n != tt.tries || (err == nil) != (tt.errHas == "") || err != nil && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("got %d tries, %v; want %d, %q", n, err, tt.tries, tt.errHas)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	for _, m := range []map[string]string{{"Bad Name": "x"}, {"X-Ok": "a\r\nInjected: 1"}} {
		if _, err := Header(m); err == nil || strings.Contains(err.Error(), "Injected") {
			t.Errorf("Header(%q): got %v, want a bad header error without the value", m, err)
		}
	}
	if h, _ := Header(map[string]string{"User-Agent": "siem"}); h.Get("User-Agent") != "siem" {
		t.Errorf("User-Agent: got %q, want the configured one", h.Get("User-Agent"))
	}
}

func TestSleepEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
