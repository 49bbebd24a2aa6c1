package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MinKeyLen is the least number of bytes a chain key may have.
const MinKeyLen = 32

// KeyFile is the chain key's file in the gateway's data dir, when the config sets none.
const KeyFile = "audit-chain.key"

// ParseKey decodes a hex chain key (audit.chain_key in the gateway config, such as the
// output of openssl rand -hex 32) and checks that it has at least MinKeyLen bytes.
func ParseKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) < MinKeyLen {
		return nil, fmt.Errorf("want at least %d bytes, hex-encoded (%d hex digits, such as the output of openssl rand -hex %d)",
			MinKeyLen, 2*MinKeyLen, MinKeyLen)
	}
	return key, nil
}

// LoadKey returns the chain key: fromConfig (hex, audit.chain_key) when it is set,
// else the one in dataDir/audit-chain.key, which is made from crypto/rand the first
// time (0600, in a 0700 directory). Whoever holds the key can forge a chain that
// verifies, so the file must not be readable by others: a file that is is refused.
//
// Set the key in the config (from the environment or a secret store) when several
// gateways share one store: they must seal with the same key.
func LoadKey(dataDir, fromConfig string) ([]byte, error) {
	if fromConfig != "" {
		key, err := ParseKey(fromConfig)
		if err != nil {
			return nil, fmt.Errorf("audit chain key from the config: %w", err)
		}
		return key, nil
	}
	path := filepath.Join(dataDir, KeyFile)
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, MinKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	// Written aside, then linked into place: two gateways starting at once on one data
	// dir must not each make a key, nor read one half written.
	f, err := os.CreateTemp(dataDir, KeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	return key, nil
}

func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit chain key %s: mode %04o lets others read it; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	key, err := ParseKey(b.String())
	if err != nil {
		return nil, fmt.Errorf("audit chain key %s: %w", path, err)
	}
	return key, nil
}
