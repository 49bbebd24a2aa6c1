package auth

import (
	"errors"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringService is the service name of hoop's entries in the OS keyring.
const keyringService = "hoop"

// keyringTimeout bounds each keyring call: with a broken D-Bus session the Secret
// Service call can block for a long time.
const keyringTimeout = 3 * time.Second

// errKeyringUnavailable means the keyring did not answer in time or could not be
// reached; the Store falls back to its file.
var errKeyringUnavailable = errors.New("keyring unavailable")

// keyringBackend is the part of github.com/zalando/go-keyring the Store uses; tests
// replace it.
type keyringBackend interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

// osKeyring is the OS keyring through go-keyring.
type osKeyring struct{}

func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
func (osKeyring) Set(service, user, secret string) error   { return keyring.Set(service, user, secret) }
func (osKeyring) Delete(service, user string) error        { return keyring.Delete(service, user) }

// maxKeyringSecret is the largest token JSON put in the keyring; larger ones go to
// the file. Windows Credential Manager takes 2560 bytes of secret; macOS Keychain
// about 3000 bytes for service, account and secret together; the Secret Service on
// Linux has no hard limit but slows down with big values.
func maxKeyringSecret(gateway string) int {
	switch runtime.GOOS {
	case "windows":
		return 2560
	case "darwin":
		return 3000 - len(keyringService) - len(gateway) - 100 // margin for encoding
	default:
		return 64 << 10
	}
}

// withTimeout runs f in a goroutine and gives up after d. A call that times out
// keeps running in the background until the keyring answers, which is harmless: its
// result is dropped.
func withTimeout[T any](d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, errKeyringUnavailable
	}
}
