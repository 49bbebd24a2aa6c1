package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/store"
)

func TestLoadHashKey(t *testing.T) {
	dir := t.TempDir()
	key, err := loadHashKey(t.Context(), nil, dir, strings.Repeat("ab", 32))
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{0xab}, 32)) {
		t.Fatalf("from config: got %x, %v", key, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mask-hash.key")); !os.IsNotExist(err) {
		t.Errorf("a key from the config wrote a key file: %v", err)
	}
	if _, err := loadHashKey(t.Context(), nil, dir, "abcd"); err == nil || strings.Contains(err.Error(), "abcd") {
		t.Errorf("short key: got %v; want an error that does not echo it", err)
	}
	first, err := loadHashKey(t.Context(), nil, dir, "")
	if err != nil || len(first) != 32 {
		t.Fatalf("made: got %x, %v", first, err)
	}
	st, err := os.Stat(filepath.Join(dir, "mask-hash.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	again, err := loadHashKey(t.Context(), nil, dir, "")
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("reloaded: got %x, %v; want %x", again, err, first)
	}
}

// TestHashKeySharedByTheCluster: gateways sharing a store hash alike. The first to start
// proposes its data dir's key (kept from before keys lived in the store), every later one
// takes the store's, whatever its own data dir holds; a key from the config still comes
// first.
func TestHashKeySharedByTheCluster(t *testing.T) {
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "hoop.db"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := t.TempDir()
	legacy, err := loadHashKey(t.Context(), nil, old, "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := loadHashKey(t.Context(), st, old, "")
	if err != nil || !bytes.Equal(first, legacy) {
		t.Fatalf("first gateway: got %x, %v; want its data dir's key %x", first, err, legacy)
	}
	other := t.TempDir()
	if _, err := loadHashKey(t.Context(), nil, other, ""); err != nil { // a key of its own
		t.Fatal(err)
	}
	second, err := loadHashKey(t.Context(), st, other, "")
	if err != nil || !bytes.Equal(second, first) {
		t.Fatalf("second gateway: got %x, %v; want the cluster's %x", second, err, first)
	}
	third, err := loadHashKey(t.Context(), st, t.TempDir(), "")
	if err != nil || !bytes.Equal(third, first) {
		t.Fatalf("a gateway with an empty data dir: got %x, %v; want the cluster's %x", third, err, first)
	}
	cfg, err := loadHashKey(t.Context(), st, other, strings.Repeat("cd", 32))
	if err != nil || !bytes.Equal(cfg, bytes.Repeat([]byte{0xcd}, 32)) {
		t.Fatalf("from config: got %x, %v", cfg, err)
	}
}
