package mask_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/policy"
	"github.com/jackc/pgx/v5/pgtype"
)

var key1, key2 = []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")

func newMasker(t testing.TB, mode mask.Mode, key []byte) *mask.Masker {
	t.Helper()
	m, err := mask.New(&mask.Config{Detectors: mask.Detectors(), Mode: mode, HashKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPartial(t *testing.T) {
	m := newMasker(t, mask.Partial, nil)
	for _, tc := range []struct{ in, want string }{
		{"4111 1111 1111 1111", "**** **** **** 1111"},
		{"4111111111111111", "************1111"},
		{"3782-822463-10005", "****-******-*0005"},
		{"call +1 (415) 555-2671 now", "call +* (***) ***-2671 now"},
		{"555.123.4567", "***.***.4567"},
		{"bob@example.com", "***@example.com"},
		{"{a@b.com,c@d.org}", "{***@b.com,***@d.org}"},
		{"123-45-6789", "***-**-6789"},
		{"DE89 3704 0044 0532 0130 00", "**** **** **** **** **30 00"},
		{"GB82WEST12345698765432", "******************5432"},
		{"10.0.0.1", "[REDACTED:ip_address]"},
		{"AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws_access_key]"},
		{ghp, "[REDACTED:github_token]"},
		{jwtNone, "[REDACTED:jwt]"},
		{pemRSA, "[REDACTED:private_key]"},
	} {
		out, found, null := m.Mask(nil, []byte(tc.in))
		if string(out) != tc.want || null || found.Total() == 0 {
			t.Errorf("partial Mask(%q): got %q (found %v, null %v), want %q", tc.in, out, found, null, tc.want)
		}
	}
}

var hmacRE = regexp.MustCompile(`^hmac:[0-9a-f]{16}$`)

func TestHash(t *testing.T) {
	m1, m1b, m2 := newMasker(t, mask.Hash, key1), newMasker(t, mask.Hash, key1), newMasker(t, mask.Hash, key2)
	for _, in := range []string{"4111 1111 1111 1111", "bob@example.com", "123-45-6789", "DE89370400440532013000",
		"10.0.0.1", ghp, jwtHS256, pemOpenSSH, "+14155552671"} {
		a, _, _ := m1.Mask(nil, []byte(in))
		b, _, _ := m1b.Mask(nil, []byte(in))
		c, _, _ := m2.Mask(nil, []byte(in))
		if !hmacRE.Match(a) {
			t.Errorf("hash Mask(%q): got %q, want hmac:<16 hex>", in, a)
		}
		if string(a) != string(b) {
			t.Errorf("hash Mask(%q) twice with one key: got %q and %q, want equal", in, a, b)
		}
		if string(a) == string(c) {
			t.Errorf("hash Mask(%q) with two keys: both %q, want different", in, a)
		}
	}
	// The same value written two ways hashes the same (it joins); different values don't.
	same := [][2]string{
		{"4111 1111 1111 1111", "4111-1111-1111-1111"},
		{"4111 1111 1111 1111", "4111111111111111"},
		{"Bob@Example.COM", "bob@example.com"},
		{"DE89 3704 0044 0532 0130 00", "de89370400440532013000"},
	}
	for _, p := range same {
		a, _, _ := m1.Mask(nil, []byte(p[0]))
		b, _, _ := m1.Mask(nil, []byte(p[1]))
		if string(a) != string(b) {
			t.Errorf("hash of %q and %q: got %q and %q, want equal", p[0], p[1], a, b)
		}
	}
	a, _, _ := m1.Mask(nil, []byte("4111111111111111"))
	b, _, _ := m1.Mask(nil, []byte("5500000000000004"))
	if string(a) == string(b) {
		t.Errorf("hash of two cards: both %q", a)
	}
	// A column rule hashes a whole value like the detector does, so they join.
	w, null := m1.MaskWhole(nil, []byte(" 4111-1111-1111-1111 "))
	if string(w) != string(a) || null {
		t.Errorf("hash MaskWhole(card): got %q, want %q", w, a)
	}
	w1, _ := m1.MaskWhole(nil, []byte("Jane Doe"))
	w2, _ := m1.MaskWhole(nil, []byte("jane doe"))
	if !hmacRE.Match(w1) || string(w1) == string(w2) {
		t.Errorf("hash MaskWhole(Jane Doe), (jane doe): got %q, %q, want two different hashes", w1, w2)
	}
}

func TestNull(t *testing.T) {
	m := newMasker(t, mask.Null, nil)
	out, found, null := m.Mask(nil, []byte("bob@example.com and 4111111111111111 and carol@example.org"))
	if !null || out != nil || found[mask.Email] != 2 || found[mask.CreditCard] != 1 {
		t.Errorf("null Mask: got %q, found %v, null %v; want nil, email=2 credit_card=1, true", out, found, null)
	}
	clean := []byte("nothing here")
	out, found, null = m.Mask(nil, clean)
	if null || string(out) != "nothing here" || found.Total() != 0 {
		t.Errorf("null Mask of clean text: got %q, found %v, null %v", out, found, null)
	}
	if out, null := m.MaskWhole(nil, []byte("x")); !null || out != nil {
		t.Errorf("null MaskWhole: got %q, %v; want nil, true", out, null)
	}
}

func TestMaskWhole(t *testing.T) {
	for _, tc := range []struct {
		mode     mask.Mode
		in, want string
	}{
		{mask.Redact, "anything at all", "[REDACTED]"},
		{mask.Redact, "", "[REDACTED]"},
		{mask.Partial, "123-45-6789", "***-**-6789"},
		{mask.Partial, "+1 (415) 555-2671", "+* (***) ***-2671"},
		{mask.Partial, "bob@example.com", "***@example.com"},
		{mask.Partial, "Jane Doe", "**** ***"},
		{mask.Partial, "Janet Doe", "****t Doe"},
		{mask.Partial, "Zoë Müller", "*** **ller"},
		{mask.Partial, "1234567", "*******"},
		{mask.Partial, "short", "*****"},
		{mask.Partial, "", ""},
	} {
		m := newMasker(t, tc.mode, nil)
		out, null := m.MaskWhole(make([]byte, 3, 64), []byte(tc.in))
		if string(out) != tc.want || null {
			t.Errorf("%s MaskWhole(%q): got %q (null %v), want %q", tc.mode, tc.in, out, null, tc.want)
		}
	}
}

// TestMaskJSON: a value found inside a JSON string or outside of one (a number) leaves
// valid JSON valid.
func TestMaskJSON(t *testing.T) {
	m := newMasker(t, mask.Redact, nil)
	for _, tc := range []struct{ in, want string }{
		{`{"card":4111111111111111,"n":1}`, `{"card":"[REDACTED:credit_card]","n":1}`},
		{`[4111111111111111, -5500000000000004.0e0]`, `["[REDACTED:credit_card]", "[REDACTED:credit_card]"]`},
		{`{"email":"bob@example.com","cards":["4111 1111 1111 1111"]}`, `{"email":"[REDACTED:email]","cards":["[REDACTED:credit_card]"]}`},
		{`{"q":"say \"bob@example.com\"","ip":"10.0.0.1"}`, `{"q":"say \"[REDACTED:email]\"","ip":"[REDACTED:ip_address]"}`},
		{`{"clean":[1,2,3]}`, `{"clean":[1,2,3]}`},
	} {
		out, _, _ := m.MaskJSON(nil, []byte(tc.in))
		if string(out) != tc.want {
			t.Errorf("MaskJSON(%q): got %q, want %q", tc.in, out, tc.want)
		}
		if !json.Valid(out) {
			t.Errorf("MaskJSON(%q): %q is not valid JSON", tc.in, out)
		}
	}
	for _, mode := range []mask.Mode{mask.Partial, mask.Hash} {
		m := newMasker(t, mode, key1)
		in := `{"a":4111111111111111,"b":"x@example.com","c":[5500000000000004]}`
		out, _, _ := m.MaskJSON(nil, []byte(in))
		if !json.Valid(out) || strings.Contains(string(out), "4111111111111111") {
			t.Errorf("%s MaskJSON(%q): got %q", mode, in, out)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		cfg  *mask.Config
		want error
	}{
		{nil, nil},
		{&mask.Config{}, nil},
		{&mask.Config{Mode: "scramble"}, mask.ErrUnknownMode},
		{&mask.Config{Mode: mask.Hash}, mask.ErrHashKey},
		{&mask.Config{Mode: mask.Hash, HashKey: []byte("short")}, mask.ErrHashKey},
		{&mask.Config{Mode: mask.Hash, HashKey: key1}, nil},
		{&mask.Config{Detectors: []mask.Detector{99}}, mask.ErrUnknownDetector},
	} {
		m, err := mask.New(tc.cfg)
		if !errors.Is(err, tc.want) {
			t.Errorf("New(%+v): got %v, want %v", tc.cfg, err, tc.want)
		}
		if err == nil && m.Mode() == "" {
			t.Errorf("New(%+v): empty mode", tc.cfg)
		}
	}
	// Without detectors nothing is found.
	m, _ := mask.New(&mask.Config{})
	if out, found, _ := m.Mask(nil, []byte("bob@example.com")); string(out) != "bob@example.com" || found.Total() != 0 {
		t.Errorf("no detectors: got %q, %v", out, found)
	}
	// The key is copied: changing the caller's slice changes nothing.
	k := slices.Clone(key1)
	h, _ := mask.New(&mask.Config{Detectors: mask.Detectors(), Mode: mask.Hash, HashKey: k})
	a, _, _ := h.Mask(nil, []byte("bob@example.com"))
	k[0] ^= 1
	b, _, _ := h.Mask(nil, []byte("bob@example.com"))
	if string(a) != string(b) {
		t.Errorf("hash key not copied: %q then %q", a, b)
	}
}

// TestPolicyNames: the policy file's detector and mode names are this package's.
func TestPolicyNames(t *testing.T) {
	for _, d := range policy.Detectors() {
		if _, err := mask.ParseDetector(string(d)); err != nil {
			t.Errorf("policy detector %s: %v", d, err)
		}
	}
	if got, want := len(policy.Detectors()), len(mask.Detectors()); got != want {
		t.Errorf("policy has %d detectors, mask %d", got, want)
	}
	for _, mode := range []policy.MaskMode{policy.MaskRedact, policy.MaskPartial, policy.MaskHash, policy.MaskNull} {
		if _, err := mask.New(&mask.Config{Mode: mask.Mode(mode), HashKey: key1}); err != nil {
			t.Errorf("policy mode %s: %v", mode, err)
		}
	}
}

// TestStandIn: each stand-in decodes as its type, in text and binary format, with pgx.
func TestStandIn(t *testing.T) {
	tm := pgtype.NewMap()
	oids := []uint32{pgtype.BoolOID, pgtype.ByteaOID, pgtype.Int8OID, pgtype.Int2OID, pgtype.Int4OID,
		pgtype.OIDOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.PointOID, pgtype.CIDROID, pgtype.Float4OID,
		pgtype.Float8OID, pgtype.MacaddrOID, pgtype.InetOID, pgtype.DateOID, pgtype.TimeOID,
		pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.IntervalOID, pgtype.NumericOID, pgtype.UUIDOID,
		pgtype.Int4ArrayOID, pgtype.TextArrayOID, pgtype.UUIDArrayOID, pgtype.JSONBArrayOID}
	for _, oid := range oids {
		for _, format := range []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode} {
			get := mask.StandIn
			if format == pgtype.BinaryFormatCode {
				get = mask.StandInBinary
			}
			b, ok := get(oid)
			if !ok {
				t.Errorf("stand-in for OID %d, format %d: none", oid, format)
				continue
			}
			var v any
			if err := tm.Scan(oid, format, b, &v); err != nil {
				t.Errorf("stand-in for OID %d, format %d: %q does not decode: %v", oid, format, b, err)
			}
		}
	}
	text, _ := mask.StandIn(pgtype.DateOID)
	var d pgtype.Date
	bin, _ := mask.StandInBinary(pgtype.DateOID)
	if err := tm.Scan(pgtype.DateOID, pgtype.BinaryFormatCode, bin, &d); err != nil || d.Time.Format("2006-01-02") != string(text) {
		t.Errorf("binary date stand-in: got %v, %v, want %s", d.Time, err, text)
	}
	for _, oid := range []uint32{pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, 424242} {
		if b, ok := mask.StandIn(oid); ok {
			t.Errorf("StandIn(%d): got %q, want none", oid, b)
		}
	}
}
