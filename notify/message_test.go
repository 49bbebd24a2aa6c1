package notify

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
)

// statementReview is a held write, as the gateway makes it.
func statementReview() api.Review {
	return api.Review{
		ID: "r-17", Kind: api.ReviewStatement, State: api.ReviewPending,
		Requester: "alice@example.com", Groups: []string{"engineering"},
		Connection: "db-prod", Session: "s-1",
		SQL: "DELETE FROM orders\n  WHERE id = 1", Class: "write", Rule: "prod-writes", Reason: "INC-123",
		Created:      time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC),
		Expires:      time.Date(2026, 7, 1, 10, 15, 0, 0, time.UTC),
		MinApprovals: 1,
		URL:          "https://hoop.example.com/reviews/r-17",
	}
}

// accessReview is a just-in-time access request.
func accessReview() api.Review {
	return api.Review{
		ID: "r-18", Kind: api.ReviewAccess, State: api.ReviewPending,
		Requester: "bob@example.com", Groups: []string{"oncall"},
		Connection: "db-prod", Rule: "oncall-jit", Reason: "INC-123", Duration: "1h0m0s",
		Created:      time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC),
		Expires:      time.Date(2026, 7, 1, 10, 30, 0, 0, time.UTC),
		MinApprovals: 1,
		URL:          "https://hoop.example.com/reviews/r-18",
	}
}

// lockedBuffer is a log destination that goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testLog is a logger whose lines a test can read.
func testLog() (*slog.Logger, *lockedBuffer) {
	var buf lockedBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// closeWithin closes n, giving it timeout to deliver what it holds.
func closeWithin(t *testing.T, n *Notifier, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.Close(ctx)
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"SELECT 1", 300, "SELECT 1"},
		{"  DELETE FROM t\r\n\tWHERE id = 1\n", 300, "DELETE FROM t WHERE id = 1"},
		{"a\x00b\x1b[31mc", 300, "a b [31mc"},                          // NUL and ESC are control characters
		{"x\r\nBcc: evil@example.com", 300, "x Bcc: evil@example.com"}, // no header of its own
		{"abcdef", 3, "abc…"},
		{"abc", 3, "abc"},
		{"ab cd", 3, "ab…"},                         // the space would be the fourth character
		{"héllo wörld", 7, "héllo w…"},              // characters, not bytes
		{"price\u202Eevil", 300, "price\uFFFDevil"}, // a bidi override can't reverse the rest
		{"", 10, ""},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in, tt.limit); got != tt.want {
			t.Errorf("oneLine(%q, %d): got %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
	long := strings.Repeat("x", 1000)
	if got := oneLine(long, maxStatement); len([]rune(got)) != maxStatement+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("oneLine(1000 x, %d): got %d characters, want %d ending in …", maxStatement, len([]rune(got)), maxStatement+1)
	}
}

func TestHeadline(t *testing.T) {
	admin := statementReview()
	admin.Class = "admin"
	ddl := statementReview()
	ddl.Class = "ddl"
	long := accessReview()
	long.Duration = "1h30m0s"
	odd := accessReview()
	odd.Duration = "until friday"
	tests := []struct {
		name string
		r    api.Review
		want string
	}{
		{"write", statementReview(), "alice@example.com wants to run a write on db-prod"},
		{"admin", admin, "alice@example.com wants to run an admin statement on db-prod"},
		{"ddl", ddl, "alice@example.com wants to run DDL on db-prod"},
		{"access", accessReview(), "bob@example.com asks for access to db-prod for 1h"},
		{"access 1h30m", long, "bob@example.com asks for access to db-prod for 1h30m"},
		{"access, not a duration", odd, "bob@example.com asks for access to db-prod for until friday"},
	}
	for _, tt := range tests {
		if got := factsOf(&tt.r).headline(""); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
