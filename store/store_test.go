package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTunnelLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "sqlite://data/hoop.db", dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.UnixMicro(time.Now().UnixMicro())
	want := &Tunnel{ID: "t-1", Subject: "alice", Issuer: "http://idp", Email: "alice@example.com",
		Groups: []string{"engineering"}, Connection: "db-prod", RemoteAddr: "127.0.0.1:1", StartedAt: start}
	if err := s.OpenTunnel(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenTunnel(ctx, &Tunnel{ID: "t-2", Groups: nil, StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	end := start.Add(time.Minute)
	if err := s.CloseTunnel(ctx, "t-1", end, "client closed"); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseTunnel(ctx, "t-1", end, "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("closing a closed tunnel: got %v, want ErrNotFound", err)
	}
	s.Close()

	// Reopen: the schema is not migrated twice and the data is still there.
	s, err = Open(ctx, "sqlite://"+filepath.Join(dir, "data/hoop.db"), "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.CloseOpenTunnels(ctx, end, "gateway-restart")
	if err != nil || n != 1 {
		t.Fatalf("CloseOpenTunnels: got %d, %v; want 1, nil", n, err)
	}
	got, err := s.GetTunnel(ctx, "t-1")
	if err != nil {
		t.Fatal(err)
	}
	want.EndedAt, want.EndReason = end, "client closed"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tunnel (-want +got):\n%s", diff)
	}
	t2, _ := s.GetTunnel(ctx, "t-2")
	if t2.EndReason != "gateway-restart" {
		t.Errorf("t-2 end reason: got %q, want %q", t2.EndReason, "gateway-restart")
	}
	if _, err := s.GetTunnel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tunnel: got %v, want ErrNotFound", err)
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, url := range []string{"mysql://x", "postgres://u:secret@db/hoop"} {
		_, err := Open(context.Background(), url, t.TempDir())
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Open(%q): got %v, want ErrUnsupported", url, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error leaks the password: %v", url, err)
		}
	}
}
