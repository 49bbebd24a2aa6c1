package audit

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made by LoadKey
	fromConfig := strings.Repeat("ab", 32)

	got, err := LoadKey(dir, fromConfig)
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0xab}, 32)) {
		t.Fatalf("LoadKey(config key): got %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Errorf("a key from the config made a key file: %v", err)
	}

	// No key in the config: one is made in the data dir, 0600, and read back after.
	first, err := LoadKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != MinKeyLen || bytes.Equal(first, make([]byte, MinKeyLen)) {
		t.Errorf("made key: got %x, want %d random bytes", first, MinKeyLen)
	}
	path := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	text, _ := os.ReadFile(path)
	if strings.TrimSpace(string(text)) != hex.EncodeToString(first) {
		t.Errorf("key file: got %q, want the key in hex", text)
	}
	if again, err := LoadKey(dir, ""); err != nil || !bytes.Equal(again, first) {
		t.Errorf("second LoadKey: got %x, %v; want the same key %x", again, err, first)
	}
	// The config wins over the file.
	if got, err := LoadKey(dir, fromConfig); err != nil || bytes.Equal(got, first) {
		t.Errorf("LoadKey(config key) with a key file: got %x, %v; want the config's", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir: got %d entries, want only %s (no temporary file left)", len(entries), KeyFile)
	}

	for _, tt := range []struct{ name, config, file, want string }{
		{"config key short", strings.Repeat("ab", 31), "", "audit chain key from the config: want at least 32 bytes, hex-encoded (64 hex digits, such as the output of openssl rand -hex 32)"},
		{"config key not hex", strings.Repeat("zz", 32), "", "want at least 32 bytes"},
		{"file short", "", "abcd\n", "audit chain key " + path + ": want at least 32 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadKey(dir, tt.config)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}

	// A key others can read is refused: whoever reads it can forge the chain.
	if err := os.WriteFile(path, []byte(hex.EncodeToString(first)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(dir, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadKey(key file 0644): got %v, want a chmod 600 error", err)
	}
}
