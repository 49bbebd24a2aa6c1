package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/hoopgw/hoop/server/devidp"
)

func TestRun(t *testing.T) {
	reached := make(chan string, 4)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.URL.Query().Get("code")
	}))
	defer cb.Close()

	idp := httptest.NewUnstartedServer(nil)
	issuer := "http://" + idp.Listener.Addr().String() + "/oidc"
	p, err := devidp.New(devidp.Config{Issuer: issuer})
	if err != nil {
		t.Fatalf("devidp.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/oidc/", p.Handler())
	idp.Config.Handler = mux
	idp.Start()
	defer idp.Close()

	conf := &oauth2.Config{
		ClientID:    "hoop-cli",
		Endpoint:    oauth2.Endpoint{AuthURL: issuer + "/authorize"},
		RedirectURL: cb.URL + "/callback",
		Scopes:      []string{"openid"},
	}
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
		wantReach  bool
	}{
		{"no url", nil, nil, 2, "usage", false},
		{"no env", []string{authURL}, nil, 2, "HOOP_DEV_USER", false},
		{"wrong password", []string{authURL}, map[string]string{"HOOP_DEV_USER": "alice", "HOOP_DEV_PASSWORD": "x"},
			1, "Invalid username or password.", false},
		{"ok", []string{authURL}, map[string]string{"HOOP_DEV_USER": "alice", "HOOP_DEV_PASSWORD": "alice-dev"},
			0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got := run(tt.args, func(k string) string { return tt.env[k] }, &stderr)
			if got != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", got, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			select {
			case code := <-reached:
				if !tt.wantReach || code == "" {
					t.Errorf("callback reached with code %q, want reached %v", code, tt.wantReach)
				}
			default:
				if tt.wantReach {
					t.Errorf("callback not reached")
				}
			}
		})
	}
}
