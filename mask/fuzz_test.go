package mask

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"card 4111 1111 1111 1111, bob@example.com",
	`{"a":"line\n4111111111111111","b":"m\u00fcller@example.de","c":4111111111111111}`,
	"call +1 (415) 555-2671 or 555-123-4567, ssn 123-45-6789, iban DE89 3704 0044 0532 0130 00",
	"ip 192.168.1.1 and 2001:db8::1 at 14:22:01 v1.2.3.4.5 SELECT 1::date",
	"AKIAIOSFODNN7EXAMPLE 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 github_pat_11ABCDEFG0123456789abc_0123456789abcdefghij",
	"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
	"-----BEGIN RSA PRIVATE KEY-----\nMIIBOg\n-----END RSA PRIVATE KEY-----",
	`{"k":"-----BEGIN PRIVATE KEY-----\nMIIEvQ","n":1}`,
	"2024-03-15 14:22:01.123+00 3f2a9c1e-4b7d-4e8a-9c3f-1a2b3c4d5e6f $1299.99",
	`\\\u00204111111111111111\\n\bfe80::1 \u00e9x@y.zz`,
	"{a@b.com,c@d.org} 请联系bob@example.com谢谢",
	"bob@example.PRIVATE KEY-----", // a value found ends inside the one after
	"１２３‐４５‐６７８９ 4111\u200b1111\u200b1111\u200b1111 bob＠example.com\u00ad x10.1.2.3",
	"{\"a\":[\"x４１１１ １１１１ １１１１ １１１１\", 123\u2011 45\u2013 6789]}",
}

// FuzzMask: whatever the bytes, nothing panics; clean input comes back as it is; masked
// output is the input with each found span replaced; a found value does not survive in
// the output (unless it is also in the input unfound); valid UTF-8 stays valid, and with
// MaskJSON valid JSON stays valid.
//
//	go test ./mask -run '^$' -fuzz FuzzMask -fuzztime 60s
func FuzzMask(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	var alone []*Masker
	for _, d := range Detectors() {
		m, err := New(&Config{Detectors: []Detector{d}})
		if err != nil {
			f.Fatal(err)
		}
		alone = append(alone, m)
	}
	ms := make(map[Mode]*Masker)
	for _, mode := range []Mode{Redact, Partial, Hash, Null} {
		m, err := New(&Config{Detectors: Detectors(), Mode: mode, HashKey: []byte("0123456789abcdef")})
		if err != nil {
			f.Fatal(err)
		}
		ms[mode] = m
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		orig := bytes.Clone(src)
		// The spans: ordered, inside src, not overlapping.
		var spans []span
		var nt *normText // the ASCII spelling Mask reads src through, if it needs one
		find := ms[Redact].find
		if needsNorm(src) {
			nt = new(normText)
			nt.normalize(src)
			list := ms[Redact].normSpans(nt)
			find = func(_ []byte, i, _ int) (span, bool) {
				for _, sp := range list {
					if sp.start >= i {
						return sp, true
					}
				}
				return span{}, false
			}
		}
		for sp, ok := find(src, 0, 0); ok; sp, ok = find(src, sp.end, sp.end) {
			if sp.start < 0 || sp.end > len(src) || sp.start >= sp.end ||
				(len(spans) > 0 && sp.start < spans[len(spans)-1].end) {
				t.Fatalf("find(%q): bad span %+v after %+v", src, sp, spans)
			}
			spans = append(spans, sp)
		}
		// The prefilter drops nothing the validators take: the block scan finds what
		// looking at every byte finds.
		for _, m := range append(alone, ms[Redact]) {
			if fast, slow := allSpans(m, src, m.find), allSpans(m, src, m.slowAll); !slices.Equal(fast, slow) {
				t.Fatalf("find(%q) with %v: got %+v, byte by byte %+v", src, m.on, fast, slow)
			}
		}
		// The bytes no span covers: the only place a found value may still be.
		blanked := bytes.Clone(src)
		for _, sp := range spans {
			for k := sp.start; k < sp.end; k++ {
				blanked[k] = 0
			}
		}
		for _, mode := range []Mode{Redact, Partial, Hash, Null} {
			m := ms[mode]
			for _, js := range []bool{false, true} {
				out, found, null := m.mask(nil, src, js)
				if !bytes.Equal(src, orig) {
					t.Fatalf("%s Mask(%q) changed its input", mode, orig)
				}
				if found.Total() != len(spans) {
					t.Fatalf("%s Mask(%q): found %v, want %d values", mode, src, found, len(spans))
				}
				if len(spans) == 0 {
					if null || !bytes.Equal(out, src) {
						t.Fatalf("%s Mask(%q) of clean input: got %q, null %v", mode, src, out, null)
					}
					continue
				}
				if mode == Null {
					if !null || out != nil {
						t.Fatalf("null Mask(%q): got %q, null %v", src, out, null)
					}
					continue
				}
				if mode == Redact && !js {
					var want []byte
					prev := 0
					for _, sp := range spans {
						want = append(append(want, src[prev:sp.start]...), markers[sp.det]...)
						prev = sp.end
					}
					want = append(want, src[prev:]...)
					if !bytes.Equal(out, want) {
						t.Fatalf("redact Mask(%q): got %q, want %q", src, out, want)
					}
				}
				if !js {
					checkReplaced(t, m, src, out, spans, blanked, nt)
				}
				if utf8.Valid(src) && !utf8.Valid(out) {
					t.Fatalf("%s Mask(%q): invalid UTF-8 %q", mode, src, out)
				}
				if js && json.Valid(src) && !json.Valid(out) {
					t.Fatalf("%s MaskJSON(%q): invalid JSON %q", mode, src, out)
				}
			}
			if out, null := m.MaskWhole(nil, src); (mode == Null) != null || (!null && utf8.Valid(src) && !utf8.Valid(out)) {
				t.Fatalf("%s MaskWhole(%q): got %q, null %v", mode, src, out, null)
			}
		}
	})
}

func allSpans(m *Masker, src []byte, find func([]byte, int, int) (span, bool)) []span {
	var spans []span
	for sp, ok := find(src, 0, 0); ok; sp, ok = find(src, sp.end, sp.end) {
		spans = append(spans, sp)
	}
	return spans
}

// slowAll is find without the prefilter: every byte looked at.
func (m *Masker) slowAll(src []byte, i, lo int) (span, bool) {
	return m.findSlow(src, i, len(src), lo)
}

// checkReplaced checks that out is src with each span replaced by text that holds no
// found value and no byte that would break a JSON string, an array or a COPY field; in
// Redact and Hash modes, that no found value survives anywhere (in Partial mode the
// last 4 digits kept may complete digits that follow into one).
func checkReplaced(t *testing.T, m *Masker, src, out []byte, spans []span, blanked []byte, nt *normText) {
	t.Helper()
	rest := out
	prev := 0
	for k, sp := range spans {
		gap := src[prev:sp.start]
		if !bytes.HasPrefix(rest, gap) {
			t.Fatalf("%s Mask(%q): got %q, the text before %s %q changed", m.mode, src, out, sp.det, src[sp.start:sp.end])
		}
		rest = rest[len(gap):]
		r := m.replace(nil, src[sp.start:sp.end], sp.det)
		if nt != nil {
			r = m.replaceNorm(nil, src[sp.start:sp.end], nt.of(sp), sp.det)
		}
		if !bytes.HasPrefix(rest, r) {
			t.Fatalf("%s Mask(%q): got %q, want %q for %s %q", m.mode, src, out, r, sp.det, src[sp.start:sp.end])
		}
		if bytes.ContainsAny(r, "\",\t\n\r") {
			t.Fatalf("%s Mask(%q): replacement %q of %s %q holds a delimiter", m.mode, src, r, sp.det, src[sp.start:sp.end])
		}
		for _, o := range spans[k:] {
			if secret := src[o.start:o.end]; len(secret) >= 6 && bytes.Contains(r, secret) {
				t.Fatalf("%s Mask(%q): replacement %q holds %s %q", m.mode, src, r, o.det, secret)
			}
		}
		rest = rest[len(r):]
		prev = sp.end
	}
	if !bytes.Equal(rest, src[prev:]) {
		t.Fatalf("%s Mask(%q): got %q, the text after the last value changed", m.mode, src, out)
	}
	if m.mode == Partial {
		return
	}
	for _, sp := range spans {
		secret := src[sp.start:sp.end]
		if len(secret) >= 6 && bytes.Count(out, secret) > bytes.Count(blanked, secret) {
			t.Fatalf("%s Mask(%q): %s %q survives in %q", m.mode, src, sp.det, secret, out)
		}
	}
}

// FuzzIPv6: parseIPv6 agrees with net/netip on every candidate the scan may give it.
func FuzzIPv6(f *testing.F) {
	for _, s := range []string{"::", "::1", "1::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8",
		"1:2:3:4:5:6:7::", "1:2:3:4:5:6::1.2.3.4", "::01.2.3.4", "12345::", "1:::2", ":1::", "fe80::1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k := 0; k < len(s); k++ {
			if class[s[k]]&cV6 == 0 {
				return
			}
		}
		a, err := netip.ParseAddr(s)
		want := err == nil && a.Is6()
		if got := parseIPv6([]byte(s)); got != want {
			t.Fatalf("parseIPv6(%q): got %v, net/netip says %v (%v)", s, got, want, err)
		}
	})
}
