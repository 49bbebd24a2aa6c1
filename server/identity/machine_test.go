package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/internal/testissuer"
	"github.com/hoopgw/hoop/server/identity"
)

// TestMachines: tokens that the people's issuer gives machine clients (client_credentials)
// become the configured machine identity, never a person; people's tokens are unchanged.
func TestMachines(t *testing.T) {
	people := testissuer.New(t)
	cfg := identity.Config{Issuer: people.URL(), Audience: "hoop-cli", Machines: []identity.Machine{
		{ClientID: "ci-bot", Audience: "hoop", Identity: "machine:ci-bot", Groups: []string{"ci-deploy", "ci-a", "ci-deploy"}},
		{ClientID: "deployer", Audience: "hoop-deploy", Identity: "machine:deployer"},
	}}
	vs := identity.NewVerifiers(cfg, nil)
	ctx := context.Background()
	bot := identity.Identity{Subject: "machine:ci-bot", Issuer: people.URL(), Groups: []string{"ci-a", "ci-deploy"}, Workload: "machine:ci-bot"}
	tests := []struct {
		name   string
		claims map[string]any
		want   identity.Identity
		err    string
		reason error
	}{
		{name: "client_id", claims: map[string]any{"aud": "hoop", "sub": "ci-bot", "client_id": "ci-bot", "groups": []string{"dba"}}, want: bot},
		{name: "azp when no client_id", claims: map[string]any{"aud": "hoop", "sub": "x", "azp": "ci-bot"}, want: bot},
		{name: "sub when neither", claims: map[string]any{"aud": "hoop", "sub": "ci-bot"}, want: bot},
		{name: "a person, even with a client_id (an ID token as zitadel makes it: client_id = azp)",
			claims: map[string]any{"aud": "hoop-cli", "sub": "alice", "azp": "hoop-cli", "client_id": "hoop-cli", "groups": []string{"dba"}},
			want:   identity.Identity{Subject: "alice", Issuer: people.URL(), Groups: []string{"dba"}}},
		{name: "the people's audience with a machine's client_id is an access token, not a person's",
			claims: map[string]any{"aud": "hoop-cli", "sub": "alice", "client_id": "ci-bot", "groups": []string{"dba"}},
			err: `invalid token: token is an access token (client_id "ci-bot", and no azp naming that client as an ID token would): ` +
				`a person's bearer must be the ID token (id_token) that ` + people.URL() + ` issued to "hoop-cli"; log in with hoop login, or set HOOP_TOKEN to an ID token`,
			reason: identity.ErrNotIDToken},
		{name: "a machine token with another client's azp",
			claims: map[string]any{"aud": "hoop", "client_id": "ci-bot", "azp": "deployer"},
			err:    `invalid token: token was issued to client "deployer" (azp), not to "ci-bot": tokens of machine client "ci-bot" must be issued to "ci-bot"`,
			reason: identity.ErrWrongClient},
		{name: "a machine token with several audiences and no azp",
			claims: map[string]any{"aud": []string{"hoop", "other-api"}, "client_id": "ci-bot"},
			err:    `invalid token: token has several audiences ["hoop" "other-api"] and no azp: such a token is accepted only when its azp names "ci-bot", the client it was issued to`,
			reason: identity.ErrWrongClient},
		{name: "a machine token with several audiences and its azp", claims: map[string]any{"aud": []string{"hoop", "other-api"}, "client_id": "ci-bot", "azp": "ci-bot"}, want: bot},
		{name: "unknown client", claims: map[string]any{"aud": "hoop", "sub": "ci-other", "client_id": "ci-other"},
			err: `invalid token: unknown client "ci-other": it is not a machine client of this gateway`, reason: identity.ErrUnknownClient},
		{name: "another machine's audience", claims: map[string]any{"aud": "hoop-deploy", "client_id": "ci-bot"},
			err:    `invalid token: token audience ["hoop-deploy"] is not this gateway's: tokens of machine client "ci-bot" must be issued for audience "hoop"`,
			reason: identity.ErrWrongAudience},
		{name: "no known audience: refused as before", claims: map[string]any{"aud": "other", "client_id": "ci-bot"},
			err:    `invalid token: token audience ["other"] is not this gateway's: tokens from ` + people.URL() + ` must be issued for audience "hoop-cli"`,
			reason: identity.ErrWrongAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vs.Verify(ctx, people.Token(tt.claims))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got %v (%+v)\nwant %q", err, got, tt.err)
				}
				if !errors.Is(err, identity.ErrInvalidToken) || !errors.Is(err, tt.reason) {
					t.Errorf("got %v, want ErrInvalidToken and %v", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if time.Until(got.Expiry) < 50*time.Minute {
				t.Errorf("Expiry: got %s, want the token's", got.Expiry)
			}
			got.Expiry = time.Time{}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}

	// What only a person may do refuses a machine.
	if got, err := vs.People().Verify(ctx, people.Token(map[string]any{"aud": "hoop", "client_id": "ci-bot"})); !errors.Is(err, identity.ErrWrongAudience) {
		t.Errorf("People().Verify of a machine token: got %+v, %v, want ErrWrongAudience", got, err)
	}
	// A machine whose audience is the people's is ignored: its token is a person's token.
	same := identity.NewVerifiers(identity.Config{Issuer: people.URL(), Audience: "hoop-cli",
		Machines: []identity.Machine{{ClientID: "ci-bot", Audience: "hoop-cli", Identity: "machine:ci-bot"}}}, nil)
	if got, err := same.Verify(ctx, people.Token(map[string]any{"aud": "hoop", "client_id": "ci-bot"})); !errors.Is(err, identity.ErrWrongAudience) {
		t.Errorf("machine with the people's audience: got %+v, %v, want ErrWrongAudience", got, err)
	}
}
