package tunnel

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzReadFrame feeds untrusted bytes to the frame, header and control decoders. Seeds
// live in testdata/fuzz/FuzzReadFrame; run more with
// go test -run '^$' -fuzz FuzzReadFrame -fuzztime 30s ./tunnel
func FuzzReadFrame(f *testing.F) {
	f.Add(frame(`{"kind":"postgres","connection":"db-prod","client_addr":"127.0.0.1:51234"}`))
	f.Add(frame(`{"type":"token_ok","expires_at":"2030-01-02T03:04:05Z"}`))
	f.Add(prefix(1 << 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := ReadFrame(bytes.NewReader(data), MaxHeaderFrame)
		if err == nil && (len(payload) == 0 || len(payload) > MaxHeaderFrame || len(payload) > len(data)-4) {
			t.Fatalf("ReadFrame returned %d bytes from %d input bytes with limit %d", len(payload), len(data), MaxHeaderFrame)
		}

		h, err := readHeader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("header error %v does not match ErrBadHeader", err)
			}
		} else {
			if err := h.Validate(); err != nil {
				t.Fatalf("accepted header %+v fails Validate: %v", h, err)
			}
			// What was accepted re-encodes to a frame that decodes to the same header.
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := ParseHeader(b)
			if err != nil {
				t.Fatalf("re-encoded header %s: %v", b, err)
			}
			if h2 != h {
				t.Fatalf("round trip changed the header: %+v became %+v", h, h2)
			}
		}

		if m, err := readControl(bytes.NewReader(data)); err == nil && m.Type == "" {
			t.Fatalf("control message without a type accepted: %+v", m)
		}
	})
}
