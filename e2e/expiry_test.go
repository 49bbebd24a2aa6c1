package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/tunnel"
)

// TestTunnelLivesNoLongerThanItsToken: the gateway ends a tunnel when its token expires,
// with a reason the client shows, unless the client sends a fresh token for the same
// identity on the control stream; a token for someone else is refused.
func TestTunnelLivesNoLongerThanItsToken(t *testing.T) {
	const life = 6 * time.Second // long enough for second-granular exp claims to leave a margin
	gw := startGateway(t, gatewayOptions{tokens: life})
	ctx := context.Background()

	sess, err := tunnel.Dial(ctx, gw.URL, gw.login(t, "alice"), "db-prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	select {
	case <-sess.Done():
	case <-time.After(life + 10*time.Second):
		t.Fatal("the tunnel outlived its token")
	}
	var ce *tunnel.CloseError
	if !errors.As(sess.Err(), &ce) || !strings.Contains(ce.Reason, "token expired") {
		t.Fatalf("end of the tunnel: got %v, want the gateway's reason that the token expired", sess.Err())
	}

	// A fresh token sent before expiry keeps the tunnel open past the first one's end.
	sess, err = tunnel.Dial(ctx, gw.URL, gw.login(t, "alice"), "db-prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	start := time.Now()
	if err := sess.SendToken(ctx, gw.login(t, "dana")); !errors.Is(err, tunnel.ErrTokenRejected) || !strings.Contains(err.Error(), "belongs to alice@example.com") {
		t.Fatalf("another identity's token: got %v, want it rejected", err)
	}
	time.Sleep(life / 2)
	if err := sess.SendToken(ctx, gw.login(t, "alice")); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// The first token expires at start+6s, the fresh one at about start+9s: look at +7s.
	select {
	case <-sess.Done():
		t.Fatalf("the tunnel ended despite the fresh token: %v", sess.Err())
	case <-time.After(time.Until(start.Add(life + time.Second))):
	}
	if _, err := sess.Open(ctx, tunnel.Header{Kind: tunnel.KindPostgres, Connection: "db-prod"}); err != nil {
		t.Fatalf("a stream after the first token's expiry: %v", err)
	}
}
