package devidp_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hoopgw/hoop/server/devidp"
)

var ciBot = devidp.Machine{ID: "ci-bot", Secret: "ci-bot-secret", Audience: "hoop",
	Claims: map[string]any{"groups": []string{"ci-deploy"}}}

func (d *idp) clientCredentials(id, secret string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: d.provider.Endpoint().TokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
}

// TestClientCredentials: a machine gets a JWT access token signed with the provider's
// keys, for its audience, naming itself, with its claims.
func TestClientCredentials(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{Machines: []devidp.Machine{ciBot}})
	tok, err := d.clientCredentials("ci-bot", "ci-bot-secret").Token(ctx)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	at, err := d.provider.Verifier(&oidc.Config{ClientID: "hoop"}).Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	var c struct {
		ClientID string   `json:"client_id"`
		Groups   []string `json:"groups"`
	}
	if err := at.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if at.Issuer != d.issuer || at.Subject != "ci-bot" || c.ClientID != "ci-bot" ||
		!slices.Equal(at.Audience, []string{"hoop"}) || !slices.Equal(c.Groups, []string{"ci-deploy"}) {
		t.Errorf("got iss %q sub %q client_id %q aud %q groups %q, want %q ci-bot ci-bot [hoop] [ci-deploy]",
			at.Issuer, at.Subject, c.ClientID, at.Audience, c.Groups, d.issuer)
	}
	// The form (client_secret_post) is accepted too.
	post := d.clientCredentials("ci-bot", "ci-bot-secret")
	post.AuthStyle = oauth2.AuthStyleInParams
	if _, err := post.Token(ctx); err != nil {
		t.Errorf("client_secret_post: %v", err)
	}
}

// TestClientCredentialsRefused: a wrong secret, an unknown client and the CLI's public
// client get invalid_client or unauthorized_client, never a token or a server error.
func TestClientCredentialsRefused(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{Machines: []devidp.Machine{ciBot}})
	tests := []struct {
		name, id, secret, want string
	}{
		{"wrong secret", "ci-bot", "guess", "invalid_client"},
		{"empty secret", "ci-bot", "", "invalid_client"},
		{"unknown client", "nobody", "ci-bot-secret", "invalid_client"},
		{"public client", devidp.DefaultClientID, "x", "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.clientCredentials(tt.id, tt.secret).Token(ctx)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RetrieveError", err)
			}
			if re.ErrorCode != tt.want || re.Response.StatusCode >= 500 {
				t.Errorf("got %s (%d), want %s", re.ErrorCode, re.Response.StatusCode, tt.want)
			}
		})
	}
}

func TestNewRejectsBadMachine(t *testing.T) {
	iss := "http://127.0.0.1:1/oidc"
	tests := []struct {
		name string
		m    []devidp.Machine
	}{
		{"no id", []devidp.Machine{{Secret: "s", Audience: "hoop"}}},
		{"no secret", []devidp.Machine{{ID: "m", Audience: "hoop"}}},
		{"no audience", []devidp.Machine{{ID: "m", Secret: "s"}}},
		{"cli's id", []devidp.Machine{{ID: devidp.DefaultClientID, Secret: "s", Audience: "hoop"}}},
		{"a user's name", []devidp.Machine{{ID: "alice", Secret: "s", Audience: "hoop"}}},
		{"twice", []devidp.Machine{ciBot, ciBot}},
		{"reserved claim", []devidp.Machine{{ID: "m", Secret: "s", Audience: "hoop", Claims: map[string]any{"sub": "alice"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := devidp.New(devidp.Config{Issuer: iss, Machines: tt.m})
			if !errors.Is(err, devidp.ErrBadMachine) {
				t.Errorf("New: got %v, want ErrBadMachine", err)
			}
		})
	}
}
