package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
)

// TestSSEReviews reads an event stream as the spec writes it: comments, CRLF line ends,
// data on several lines, no space after the colon; other events, events that are not
// JSON and an event cut off by the end of the stream are not reviews.
func TestSSEReviews(t *testing.T) {
	stream := ": welcome\n\n" +
		"event: review\ndata: {\"id\":\"r-1\",\"state\":\"pending\"}\n\n" +
		": ping\n\n" +
		"event: other\ndata: {\"id\":\"x\"}\n\n" +
		"event: review\r\ndata: {\"id\":\"r-2\",\r\ndata: \"state\":\"approved\"}\r\n\r\n" +
		"data: {\"id\":\"r-3\"}\n\n" +
		"event: review\nid: 7\nretry: 1000\ndata:{\"id\":\"r-4\"}\n\n" +
		"event: review\ndata: not json\n\n" +
		"event: review\ndata: {\"id\":\"r-5\"}\n"
	s := newSSEReviews(io.NopCloser(strings.NewReader(stream)), func() {}, 0)
	defer s.Close()
	var got []api.Review
	var err error
	for range 10 {
		var r api.Review
		if r, err = s.Next(); err != nil {
			break
		}
		got = append(got, r)
	}
	want := []api.Review{{ID: "r-1", State: "pending"}, {ID: "r-2", State: "approved"}, {ID: "r-4"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reviews (-want +got):\n%s", diff)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("end of stream: %v, want io.EOF", err)
	}
}

// FuzzSSEReviews: whatever the gateway (or something in its place) sends, the reader
// ends and only yields reviews with an id.
func FuzzSSEReviews(f *testing.F) {
	f.Add([]byte("event: review\ndata: {\"id\":\"r-1\"}\n\n"))
	f.Add([]byte(": ping\n\nevent: review\r\ndata: {\"id\":\r\ndata: \"r-2\"}\r\n\r\n"))
	f.Add([]byte("event:review\ndata:{}\n\nevent: review\ndata: [1,2]\n\n"))
	f.Add([]byte("data\nevent\n:\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSSEReviews(io.NopCloser(bytes.NewReader(data)), func() {}, 0)
		defer s.Close()
		for range len(data) + 1 {
			r, err := s.Next()
			if err != nil {
				return
			}
			if r.ID == "" {
				t.Fatalf("a review without an id from %q", data)
			}
		}
		t.Fatalf("more events than bytes in %q", data)
	})
}

// TestReviewEventsErrors: a rejected token is the API's error (exit code 5 in the CLI);
// an answer that is not an event stream is refused; a stream that goes silent, pings
// included, ends with errStreamIdle instead of hanging.
func TestReviewEventsErrors(t *testing.T) {
	g := newFakeGateway(t)
	_, err := newReviewClient(g.factory("tok-nobody")).Events(context.Background())
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || exitCode(err) != ExitUnauthorized {
		t.Errorf("bad token: %v, want a 401 APIError", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/json/api/v1/reviews/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, []api.Review{})
	})
	mux.HandleFunc("/silent/api/v1/reviews/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	at := func(gateway string) *factory {
		return &factory{http: srv.Client(), env: func(k string) (string, bool) {
			v, ok := map[string]string{"HOOP_GATEWAY": gateway, "HOOP_TOKEN": "t"}[k]
			return v, ok
		}}
	}
	if _, err := newReviewClient(at(srv.URL + "/json")).Events(context.Background()); err == nil || !strings.Contains(err.Error(), "not an event stream") {
		t.Errorf("JSON answer: %v, want not an event stream", err)
	}

	c := newReviewClient(at(srv.URL + "/silent"))
	c.idle = 20 * time.Millisecond
	ev, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	done := make(chan error, 1)
	go func() { _, err := ev.Next(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errStreamIdle) {
			t.Errorf("silent stream: %v, want errStreamIdle", err)
		}
	case <-time.After(cmdTimeout):
		t.Fatal("a silent stream hangs")
	}
}
