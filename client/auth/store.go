package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/hoopgw/hoop/api"
)

// File names in the store's directory.
const (
	tokensFile = "tokens.json" // tokens when the keyring is unavailable or too small
	configFile = "config.json" // the default gateway
)

// KeyringEnv names the environment variable that selects the token storage:
// "file" skips the OS keyring; anything else uses it with the file as fallback.
const KeyringEnv = "HOOP_KEYRING"

// refreshSkew is how long before expiry Store.Token refreshes a token, so that it
// does not expire on its way to the gateway.
const refreshSkew = time.Minute

// Store keeps tokens per gateway in the OS keyring or in a 0600 file, and the default
// gateway in config.json. It is safe for concurrent use within a process.
type Store struct {
	// HTTPClient is used by Token to refresh; nil means http.DefaultClient.
	HTTPClient *http.Client

	dir            string         // "/home/ana/.config/hoop"
	keyring        keyringBackend // nil: file only
	keyringTimeout time.Duration

	mu          sync.Mutex // guards the files and keyringDown
	keyringDown bool       // a keyring call failed or hung: use the file from now on

	refreshMu sync.Mutex // one refresh at a time: a refresh token may be single-use
}

// NewStore returns a Store that keeps its files in dir. It uses the OS keyring unless
// HOOP_KEYRING=file is set.
func NewStore(dir string) *Store {
	s := &Store{dir: dir, keyringTimeout: keyringTimeout}
	if os.Getenv(KeyringEnv) != "file" {
		s.keyring = osKeyring{}
	}
	return s
}

// DefaultStore returns the Store in os.UserConfigDir()/hoop.
func DefaultStore() (*Store, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("default store: %w", err)
	}
	return NewStore(filepath.Join(dir, "hoop")), nil
}

// Dir returns the directory of the store's files.
func (s *Store) Dir() string { return s.dir }

func gatewayKey(gateway string) (string, error) {
	k := strings.TrimRight(strings.TrimSpace(gateway), "/")
	if k == "" {
		return "", errors.New("empty gateway URL")
	}
	return k, nil
}

// Save stores tok under tok.Gateway, replacing any earlier token for that gateway.
func (s *Store) Save(tok *Token) error {
	if tok == nil {
		return errors.New("save token: nil token")
	}
	key, err := gatewayKey(tok.Gateway)
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	t := *tok
	t.Gateway = key
	data, err := json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyringUsable() {
		if len(data) <= maxKeyringSecret(key) {
			_, err := s.keyringCall(func() (string, error) {
				return "", s.keyring.Set(keyringService, key, string(data))
			})
			if err == nil {
				// Drop a copy an earlier fallback may have left on disk.
				_, _ = s.updateTokensFile(func(m map[string]*Token) bool {
					_, ok := m[key]
					delete(m, key)
					return ok
				})
				return nil
			}
			if !errors.Is(err, keyring.ErrSetDataTooBig) {
				s.keyringDown = true
			}
		}
		if s.keyringUsable() {
			// The token goes to the file: an older one in the keyring must not shadow it.
			_, _ = s.keyringCall(func() (string, error) { return "", s.keyring.Delete(keyringService, key) })
		}
	}
	if _, err := s.updateTokensFile(func(m map[string]*Token) bool {
		m[key] = &t
		return true
	}); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// Load returns the token saved for gateway, expired or not. It returns an error
// wrapping ErrNotLoggedIn if there is none.
func (s *Store) Load(gateway string) (*Token, error) {
	key, err := gatewayKey(gateway)
	if err != nil {
		return nil, fmt.Errorf("load token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyringUsable() {
		secret, err := s.keyringCall(func() (string, error) { return s.keyring.Get(keyringService, key) })
		switch {
		case err == nil:
			var t Token
			if err := json.Unmarshal([]byte(secret), &t); err != nil {
				return nil, fmt.Errorf("load token: keyring entry %q of service %q is corrupted (run hoop logout): %w", key, keyringService, err)
			}
			return &t, nil
		case errors.Is(err, keyring.ErrNotFound):
			// It may be in the file, saved there while the keyring was away.
		default:
			s.keyringDown = true
		}
	}
	m, err := s.readTokensFile()
	if err != nil {
		return nil, fmt.Errorf("load token: %w", err)
	}
	t, ok := m[key]
	if !ok || t == nil {
		return nil, fmt.Errorf("load token for %s: %w", key, ErrNotLoggedIn)
	}
	return t, nil
}

// Delete removes the token saved for gateway from the keyring and the file. It
// returns an error wrapping ErrNotLoggedIn if there was none.
func (s *Store) Delete(gateway string) error {
	key, err := gatewayKey(gateway)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	if s.keyringUsable() {
		_, err := s.keyringCall(func() (string, error) { return "", s.keyring.Delete(keyringService, key) })
		switch {
		case err == nil:
			found = true
		case errors.Is(err, keyring.ErrNotFound):
		default:
			s.keyringDown = true
		}
	}
	inFile, err := s.updateTokensFile(func(m map[string]*Token) bool {
		_, ok := m[key]
		delete(m, key)
		return ok
	})
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if !found && !inFile {
		return fmt.Errorf("delete token for %s: %w", key, ErrNotLoggedIn)
	}
	return nil
}

// Token returns a token for gateway that stays valid for at least a minute. A token
// that is expired or about to expire is refreshed with its refresh token and saved;
// info supplies the gateway's login info for that (nil means FetchInfo). When there
// is no token, or the refresh is impossible or fails, the error wraps ErrNotLoggedIn
// and says why.
func (s *Store) Token(ctx context.Context, gateway string, info func() (*api.Info, error)) (*Token, error) {
	tok, err := s.Load(gateway)
	if err != nil {
		return nil, err
	}
	if tok.Valid(refreshSkew) {
		return tok, nil
	}

	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	// Another goroutine may have refreshed it while this one waited.
	if tok, err = s.Load(gateway); err != nil {
		return nil, err
	}
	if tok.Valid(refreshSkew) {
		return tok, nil
	}
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("%w: token expired and there is no refresh token", ErrNotLoggedIn)
	}
	if info == nil {
		info = func() (*api.Info, error) { return FetchInfo(ctx, s.HTTPClient, gateway) }
	}
	fail := func(err error) (*Token, error) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		return nil, fmt.Errorf("%w: token expired and refresh failed: %w", ErrNotLoggedIn, err)
	}
	inf, err := info()
	if err != nil {
		return fail(err)
	}
	nt, err := Refresh(ctx, inf, tok, s.HTTPClient)
	if err != nil {
		return fail(err)
	}
	if nt.Gateway == "" {
		nt.Gateway = gateway
	}
	if err := s.Save(nt); err != nil {
		return nil, fmt.Errorf("token: save refreshed token: %w", err)
	}
	return nt, nil
}

// SaveGateway records gateway as the default for commands run without --gateway or
// HOOP_GATEWAY. Other settings in config.json are kept.
func (s *Store) SaveGateway(gateway string) error {
	key, err := gatewayKey(gateway)
	if err != nil {
		return fmt.Errorf("save gateway: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := s.readConfig()
	if err != nil {
		return fmt.Errorf("save gateway: %w", err)
	}
	v, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("save gateway: %w", err)
	}
	cfg["gateway"] = v
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("save gateway: %w", err)
	}
	if err := s.writeFile(configFile, append(data, '\n')); err != nil {
		return fmt.Errorf("save gateway: %w", err)
	}
	return nil
}

// Gateway returns the default gateway saved by SaveGateway, or an error wrapping
// ErrNoGateway.
func (s *Store) Gateway() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := s.readConfig()
	if err != nil {
		return "", fmt.Errorf("read gateway: %w", err)
	}
	var g string
	if raw, ok := cfg["gateway"]; ok {
		if err := json.Unmarshal(raw, &g); err != nil {
			return "", fmt.Errorf("read gateway: %s: \"gateway\" is not a string: %w", s.path(configFile), err)
		}
	}
	if g == "" {
		return "", ErrNoGateway
	}
	return g, nil
}

// keyringUsable reports whether to try the keyring. Callers hold s.mu.
func (s *Store) keyringUsable() bool { return s.keyring != nil && !s.keyringDown }

// keyringCall runs one keyring operation with the store's timeout.
func (s *Store) keyringCall(f func() (string, error)) (string, error) {
	return withTimeout(s.keyringTimeout, f)
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// tokensDoc is the content of tokens.json.
type tokensDoc struct {
	Tokens map[string]*Token `json:"tokens"` // by gateway URL
}

// readTokensFile returns the tokens in tokens.json; none if the file does not exist.
// Callers hold s.mu.
func (s *Store) readTokensFile() (map[string]*Token, error) {
	p := s.path(tokensFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*Token{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var doc tokensDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s is corrupted (delete it and log in again): %w", p, err)
	}
	if doc.Tokens == nil {
		doc.Tokens = map[string]*Token{}
	}
	return doc.Tokens, nil
}

// updateTokensFile applies change to the tokens in tokens.json and writes them back
// if change reports a change; it returns that report. The file is removed when it
// would hold no token. Callers hold s.mu.
func (s *Store) updateTokensFile(change func(map[string]*Token) bool) (bool, error) {
	m, err := s.readTokensFile()
	if err != nil {
		return false, err
	}
	if !change(m) {
		return false, nil
	}
	if len(m) == 0 {
		if err := os.Remove(s.path(tokensFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, fmt.Errorf("remove %s: %w", s.path(tokensFile), err)
		}
		return true, nil
	}
	data, err := json.MarshalIndent(tokensDoc{Tokens: m}, "", "  ")
	if err != nil {
		return true, err
	}
	return true, s.writeFile(tokensFile, append(data, '\n'))
}

// readConfig returns config.json's top-level fields; none if it does not exist.
// Callers hold s.mu.
func (s *Store) readConfig() (map[string]json.RawMessage, error) {
	p := s.path(configFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	cfg := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s is corrupted: %w", p, err)
	}
	if cfg == nil { // the file says null
		cfg = map[string]json.RawMessage{}
	}
	return cfg, nil
}

// writeFile replaces name in the store's directory atomically with a 0600 file,
// creating the directory 0700. Callers hold s.mu.
func (s *Store) writeFile(name string, data []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.dir, err)
	}
	// MkdirAll leaves an existing directory alone; the secrets need it private.
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", s.dir, err)
	}
	p := s.path(name)
	f, err := os.CreateTemp(s.dir, "."+name+".*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
