package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zalando/go-keyring"

	"github.com/hoopgw/hoop/api"
)

// fakeKeyring is an in-memory keyring. err makes every call fail; block makes every
// call hang until the channel is closed.
type fakeKeyring struct {
	mu      sync.Mutex
	secrets map[string]string
	err     error
	block   chan struct{}
	calls   int
}

func (k *fakeKeyring) wait() error {
	k.mu.Lock()
	k.calls++
	block, err := k.block, k.err
	k.mu.Unlock()
	if block != nil {
		<-block
	}
	return err
}

func (k *fakeKeyring) Get(service, user string) (string, error) {
	if err := k.wait(); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.secrets[service+"|"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (k *fakeKeyring) Set(service, user, secret string) error {
	if err := k.wait(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.secrets == nil {
		k.secrets = map[string]string{}
	}
	k.secrets[service+"|"+user] = secret
	return nil
}

func (k *fakeKeyring) Delete(service, user string) error {
	if err := k.wait(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.secrets[service+"|"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(k.secrets, service+"|"+user)
	return nil
}

func (k *fakeKeyring) has(user string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.secrets[keyringService+"|"+user]
	return ok
}

// fileStore returns a file-only store in a directory that does not exist yet.
func fileStore(t *testing.T) *Store {
	t.Helper()
	t.Setenv(KeyringEnv, "file")
	s := NewStore(filepath.Join(t.TempDir(), "config", "hoop"))
	if s.keyring != nil {
		t.Fatalf("HOOP_KEYRING=file: store still uses the keyring")
	}
	return s
}

func keyringStore(t *testing.T, k *fakeKeyring) *Store {
	t.Helper()
	s := NewStore(filepath.Join(t.TempDir(), "hoop"))
	s.keyring = k
	return s
}

func sampleToken(gateway string) *Token {
	return &Token{
		Gateway:      gateway,
		Issuer:       "http://127.0.0.1:1/oidc",
		ClientID:     "hoop-cli",
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2ln",
		AccessToken:  "access-secret",
		RefreshToken: "refresh-secret",
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return // no Unix permission bits
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s: got %v, want %v", path, got, want)
	}
}

func TestFileStoreRoundTrip(t *testing.T) {
	s := fileStore(t)
	a := sampleToken("https://a.example.com")
	b := sampleToken("https://b.example.com")
	b.IDToken = "other"
	for _, tok := range []*Token{a, b} {
		if err := s.Save(tok); err != nil {
			t.Fatalf("Save(%s): %v", tok.Gateway, err)
		}
	}
	assertMode(t, s.Dir(), 0o700)
	assertMode(t, filepath.Join(s.Dir(), tokensFile), 0o600)

	tests := []struct {
		gateway string
		want    *Token
	}{
		{"https://a.example.com", a},
		{"https://a.example.com/", a}, // a trailing slash names the same gateway
		{"https://b.example.com", b},
	}
	for _, tt := range tests {
		got, err := s.Load(tt.gateway)
		if err != nil {
			t.Fatalf("Load(%q): %v", tt.gateway, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Load(%q) mismatch (-want +got):\n%s", tt.gateway, diff)
		}
	}
	if _, err := s.Load("https://c.example.com"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Load(unknown): got %v, want ErrNotLoggedIn", err)
	}

	// A second Store on the same directory sees the same tokens.
	other := NewStore(s.Dir())
	if got, err := other.Load(a.Gateway); err != nil || got.IDToken != a.IDToken {
		t.Errorf("second store Load: got %v, %v, want the saved token", got, err)
	}
}

func TestFileStoreDelete(t *testing.T) {
	s := fileStore(t)
	a, b := sampleToken("https://a.example.com"), sampleToken("https://b.example.com")
	for _, tok := range []*Token{a, b} {
		if err := s.Save(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(a.Gateway + "/"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Load(a.Gateway); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Load after Delete: got %v, want ErrNotLoggedIn", err)
	}
	if _, err := s.Load(b.Gateway); err != nil {
		t.Errorf("Load of the other gateway after Delete: %v", err)
	}
	if err := s.Delete(a.Gateway); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("second Delete: got %v, want ErrNotLoggedIn", err)
	}
	if err := s.Delete(b.Gateway); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), tokensFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tokens file after the last Delete: got %v, want it removed", err)
	}
}

func TestFileStoreOverwrite(t *testing.T) {
	s := fileStore(t)
	tok := sampleToken("https://a.example.com")
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	tok.IDToken = "newer"
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(tok.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDToken != "newer" {
		t.Errorf("IDToken after overwrite: got %q, want %q", got.IDToken, "newer")
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files in store dir: got %d, want 1 (no temporary files left)", len(entries))
	}
}

func TestStoreExistingDirIsTightened(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	s := fileStore(t)
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(sampleToken("https://a.example.com")); err != nil {
		t.Fatal(err)
	}
	assertMode(t, s.Dir(), 0o700)
}

func TestSaveRejectsBadInput(t *testing.T) {
	s := fileStore(t)
	tests := []struct {
		name string
		tok  *Token
	}{
		{"nil", nil},
		{"no gateway", &Token{IDToken: "x"}},
		{"blank gateway", &Token{Gateway: " / ", IDToken: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Save(tt.tok); err == nil {
				t.Errorf("Save: got nil error, want one")
			}
		})
	}
}

func TestCorruptedFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		call func(*Store) error
	}{
		{"tokens load", tokensFile, func(s *Store) error { _, err := s.Load("https://a.example.com"); return err }},
		{"tokens save", tokensFile, func(s *Store) error { return s.Save(sampleToken("https://a.example.com")) }},
		{"tokens delete", tokensFile, func(s *Store) error { return s.Delete("https://a.example.com") }},
		{"config read", configFile, func(s *Store) error { _, err := s.Gateway(); return err }},
		{"config write", configFile, func(s *Store) error { return s.SaveGateway("https://a.example.com") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fileStore(t)
			if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(s.Dir(), tt.file)
			if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := tt.call(s)
			if err == nil {
				t.Fatalf("got nil error, want one naming %s", p)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %q", err, p)
			}
			if errors.Is(err, ErrNotLoggedIn) {
				t.Errorf("error %q: a corrupted file must not read as 'not logged in'", err)
			}
		})
	}
}

func TestGatewayConfig(t *testing.T) {
	s := fileStore(t)
	if _, err := s.Gateway(); !errors.Is(err, ErrNoGateway) {
		t.Fatalf("Gateway before SaveGateway: got %v, want ErrNoGateway", err)
	}
	if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	// Settings written by something else survive SaveGateway.
	p := filepath.Join(s.Dir(), configFile)
	if err := os.WriteFile(p, []byte(`{"output":"json"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"https://one.example.com/", "https://two.example.com"} {
		if err := s.SaveGateway(g); err != nil {
			t.Fatalf("SaveGateway(%q): %v", g, err)
		}
	}
	got, err := s.Gateway()
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://two.example.com"; got != want {
		t.Errorf("Gateway: got %q, want %q", got, want)
	}
	assertMode(t, p, 0o600)
	var cfg map[string]any
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["output"] != "json" {
		t.Errorf("config.json lost another setting: got %v", cfg)
	}
	if err := s.SaveGateway(""); err == nil {
		t.Errorf("SaveGateway(\"\"): got nil error, want one")
	}
}

func TestKeyringStore(t *testing.T) {
	k := &fakeKeyring{}
	s := keyringStore(t, k)
	tok := sampleToken("https://a.example.com")
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	if !k.has(tok.Gateway) {
		t.Fatalf("token not in the keyring")
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), tokensFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tokens file with a working keyring: got %v, want none", err)
	}
	got, err := s.Load(tok.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
	if err := s.Delete(tok.Gateway); err != nil {
		t.Fatal(err)
	}
	if k.has(tok.Gateway) {
		t.Errorf("token still in the keyring after Delete")
	}
	if _, err := s.Load(tok.Gateway); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Load after Delete: got %v, want ErrNotLoggedIn", err)
	}
}

func TestKeyringTooBigGoesToFile(t *testing.T) {
	k := &fakeKeyring{}
	s := keyringStore(t, k)
	tok := sampleToken("https://a.example.com")
	if err := s.Save(tok); err != nil { // small: keyring
		t.Fatal(err)
	}
	big := sampleToken(tok.Gateway)
	big.IDToken = strings.Repeat("x", maxKeyringSecret(big.Gateway)+1)
	if err := s.Save(big); err != nil {
		t.Fatal(err)
	}
	if k.has(tok.Gateway) {
		t.Errorf("stale small token left in the keyring, it would shadow the file")
	}
	got, err := s.Load(tok.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDToken != big.IDToken {
		t.Errorf("Load returned the old token, want the big one")
	}
	assertMode(t, filepath.Join(s.Dir(), tokensFile), 0o600)

	// Back to small: the keyring again, and the file copy is dropped.
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	if !k.has(tok.Gateway) {
		t.Errorf("small token not in the keyring")
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), tokensFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tokens file after saving to the keyring: got %v, want it removed", err)
	}
}

func TestKeyringSetTooBigErrorGoesToFile(t *testing.T) {
	k := &fakeKeyring{err: keyring.ErrSetDataTooBig}
	s := keyringStore(t, k)
	tok := sampleToken("https://a.example.com")
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.err = nil
	k.mu.Unlock()
	got, err := s.Load(tok.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDToken != tok.IDToken {
		t.Errorf("IDToken: got %q, want %q", got.IDToken, tok.IDToken)
	}
}

func TestKeyringUnavailableFallsBack(t *testing.T) {
	tests := []struct {
		name  string
		k     *fakeKeyring
		after func(*fakeKeyring)
	}{
		{
			name: "error",
			k:    &fakeKeyring{err: errors.New("dbus: no session bus")},
		},
		{
			name:  "hangs",
			k:     &fakeKeyring{block: make(chan struct{})},
			after: func(k *fakeKeyring) { close(k.block) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.after != nil {
				defer tt.after(tt.k)
			}
			s := keyringStore(t, tt.k)
			s.keyringTimeout = 50 * time.Millisecond
			tok := sampleToken("https://a.example.com")
			if err := s.Save(tok); err != nil {
				t.Fatalf("Save: %v", err)
			}
			got, err := s.Load(tok.Gateway)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tok, got); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
			assertMode(t, filepath.Join(s.Dir(), tokensFile), 0o600)
			tt.k.mu.Lock()
			calls := tt.k.calls
			tt.k.mu.Unlock()
			if calls != 1 {
				t.Errorf("keyring calls: got %d, want 1 (the store gives up on it after a failure)", calls)
			}
		})
	}
}

func TestKeyringCorruptedEntry(t *testing.T) {
	k := &fakeKeyring{secrets: map[string]string{keyringService + "|https://a.example.com": "{bad"}}
	s := keyringStore(t, k)
	_, err := s.Load("https://a.example.com")
	if err == nil || !strings.Contains(err.Error(), "keyring entry") {
		t.Errorf("Load of a corrupted entry: got %v, want an error naming the keyring entry", err)
	}
}

func TestTokenNeverPrintsSecrets(t *testing.T) {
	tok := sampleToken("https://a.example.com")
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, *tok} {
			out := fmt.Sprintf(format, v)
			for _, secret := range []string{tok.IDToken, tok.AccessToken, tok.RefreshToken} {
				if strings.Contains(out, secret) {
					t.Errorf("Sprintf(%q, %T) = %q: shows a secret", format, v, out)
				}
			}
			if !strings.Contains(out, tok.Gateway) {
				t.Errorf("Sprintf(%q, %T) = %q: want the gateway", format, v, out)
			}
		}
	}
}

func TestTokenValid(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		tok  *Token
		skew time.Duration
		want bool
	}{
		{"nil", nil, 0, false},
		{"no id token", &Token{Expiry: now.Add(time.Hour)}, 0, false},
		{"fresh", &Token{IDToken: "x", Expiry: now.Add(time.Hour)}, time.Minute, true},
		{"expired", &Token{IDToken: "x", Expiry: now.Add(-time.Second)}, 0, false},
		{"expires within skew", &Token{IDToken: "x", Expiry: now.Add(30 * time.Second)}, time.Minute, false},
		{"zero expiry", &Token{IDToken: "x"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.Valid(tt.skew); got != tt.want {
				t.Errorf("Valid(%v): got %v, want %v", tt.skew, got, tt.want)
			}
		})
	}
}

func TestStoreTokenWithoutRefresh(t *testing.T) {
	s := fileStore(t)
	gw := "https://a.example.com"
	infoCalls := 0
	info := func() (*api.Info, error) {
		infoCalls++
		return nil, errors.New("gateway unreachable")
	}
	ctx := context.Background()

	if _, err := s.Token(ctx, gw, info); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Token with nothing saved: got %v, want ErrNotLoggedIn", err)
	}

	fresh := sampleToken(gw)
	fresh.Expiry = time.Now().Add(time.Hour)
	if err := s.Save(fresh); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(ctx, gw, info)
	if err != nil {
		t.Fatalf("Token with a fresh token: %v", err)
	}
	if got.IDToken != fresh.IDToken {
		t.Errorf("IDToken: got %q, want %q", got.IDToken, fresh.IDToken)
	}
	if infoCalls != 0 {
		t.Errorf("info calls for a fresh token: got %d, want 0", infoCalls)
	}

	tests := []struct {
		name    string
		refresh string
		want    string
	}{
		{"no refresh token", "", "token expired and there is no refresh token"},
		{"refresh fails", "refresh-secret", "token expired and refresh failed: gateway unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := sampleToken(gw)
			old.Expiry = time.Now().Add(30 * time.Second) // inside the one-minute margin
			old.RefreshToken = tt.refresh
			if err := s.Save(old); err != nil {
				t.Fatal(err)
			}
			_, err := s.Token(ctx, gw, info)
			if !errors.Is(err, ErrNotLoggedIn) {
				t.Fatalf("got %v, want ErrNotLoggedIn", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestListenLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"", true},
		{"127.0.0.1:0", true},
		{"0.0.0.0:0", false},
		{"localhost:0", false},
		{"192.0.2.1:0", false},
		{"nonsense", false},
	}
	for _, tt := range tests {
		ln, err := listenLoopback(tt.addr)
		if ln != nil {
			ln.Close()
		}
		if got := err == nil; got != tt.ok {
			t.Errorf("listenLoopback(%q): got error %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestUnverifiedSubject(t *testing.T) {
	tests := []struct {
		jwt, want string
	}{
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2ln", "ana"},
		{"not a jwt", ""},
		{"a.!!!.c", ""},
		{"a.bm90IGpzb24.c", ""},
	}
	for _, tt := range tests {
		if got := unverifiedSubject(tt.jwt); got != tt.want {
			t.Errorf("unverifiedSubject(%q): got %q, want %q", tt.jwt, got, tt.want)
		}
	}
}
