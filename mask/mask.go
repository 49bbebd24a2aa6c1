package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// Detector is a kind of secret or personal data recognised in any value. Its names
// ("credit_card", …) are those of the policy file's masking.detectors.
type Detector uint8

// The detectors, in the policy file's order.
const (
	CreditCard   Detector = iota // 13–19 digits with a valid Luhn digit
	Email                        // local@example.com
	Phone                        // E.164 and common national formats
	USSSN                        // AAA-GG-SSSS
	IBAN                         // with a valid mod-97 check
	IPAddress                    // IPv4 and IPv6
	AWSAccessKey                 // AKIA… and ASIA… key ids
	GitHubToken                  // ghp_… with a valid checksum, github_pat_…
	JWT                          // JSON web tokens whose header has "alg"
	PrivateKey                   // PEM private key blocks

	numDetectors = iota
)

var detectorNames = [numDetectors]string{"credit_card", "email", "phone", "us_ssn", "iban",
	"ip_address", "aws_access_key", "github_token", "jwt", "private_key"}

// String returns the detector's name in policy files: "credit_card".
func (d Detector) String() string {
	if d < numDetectors {
		return detectorNames[d]
	}
	return "detector(" + strconv.Itoa(int(d)) + ")"
}

// ParseDetector returns the detector a policy file names: "email" → Email.
func ParseDetector(s string) (Detector, error) {
	for d, name := range detectorNames {
		if name == s {
			return Detector(d), nil
		}
	}
	return 0, fmt.Errorf("parse detector %q: %w", s, ErrUnknownDetector)
}

// Detectors returns every detector.
func Detectors() []Detector {
	ds := make([]Detector, numDetectors)
	for d := range ds {
		ds[d] = Detector(d)
	}
	return ds
}

// Mode is how a masked value is replaced. Its values are those of the policy file's
// masking.mode, so a policy.MaskMode converts with Mode(m).
type Mode string

// The modes.
const (
	// Redact replaces a found value with a marker naming its detector,
	// "[REDACTED:email]", and a whole value with "[REDACTED]".
	Redact Mode = "redact"
	// Partial keeps the last 4 digits of cards, phones and SSNs and the last 4
	// characters of IBANs ("**** **** **** 1111", "***-**-6789"), the domain of
	// e-mails ("***@example.com"), and redacts the other detectors.
	Partial Mode = "partial"
	// Hash replaces a value with "hmac:" and the first 16 hex digits (64 bits) of its
	// HMAC-SHA256 under the gateway's key: equal values give equal hashes, so masked
	// columns still join and group, but without the key nobody can hash every SSN
	// and look the value up.
	Hash Mode = "hash"
	// Null makes the whole value SQL NULL when anything is found.
	Null Mode = "null"
)

// MinHashKey is the shortest key Hash accepts, in bytes.
const MinHashKey = 16

// Errors returned by New and the Parse functions.
var (
	// ErrUnknownDetector: a name that is not a detector's.
	ErrUnknownDetector = errors.New("unknown detector")
	// ErrUnknownMode: a mode that is not redact, partial, hash or null.
	ErrUnknownMode = errors.New("unknown mode")
	// ErrHashKey: Hash without a key of at least MinHashKey bytes.
	ErrHashKey = errors.New("hash mode needs a key of at least 16 bytes")
)

// Config says what a Masker finds and how it replaces it.
type Config struct {
	Detectors []Detector // [Email, CreditCard]; none means MaskWhole is the only use
	Mode      Mode       // Partial; Redact when empty
	HashKey   []byte     // the gateway's secret for Hash, at least MinHashKey bytes; else unused
}

// DefaultConfig returns every detector, in Redact mode.
func DefaultConfig() *Config {
	return &Config{Detectors: Detectors(), Mode: Redact}
}

// Masker finds secrets and personal data in values and masks them. It is safe for
// concurrent use and does no I/O: the gateway builds one per masking rule and calls it
// on every value of a result.
type Masker struct {
	mode Mode
	on   [numDetectors]bool
	trig [256]uint8 // byte → the detector family it anchors (trig*), 0 for none
	rare [256]uint8 // trig but digits, with '\\' and the '+' and '(' before phones
	// rareOn: all ones for each of '@', ':', '_', 'I', 'J', 'K', '+', '(', '\\' that is
	// in rare, else 0: the order of the vector scan's bitmaps.
	rareOn [9]uint64

	digitsOn bool // any detector anchored on digits

	hashPool sync.Pool // *hasher, in Hash mode
}

// hasher is one HMAC-SHA256 state under the Masker's key, reused through a pool.
type hasher struct {
	mac hash.Hash
	buf [128]byte // canonical bytes waiting for mac.Write
	n   int
	sum [sha256.Size]byte
}

// New returns a Masker for cfg; a nil cfg means DefaultConfig.
func New(cfg *Config) (*Masker, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	m := &Masker{mode: cfg.Mode}
	switch m.mode {
	case "":
		m.mode = Redact
	case Redact, Partial, Null:
	case Hash:
		if len(cfg.HashKey) < MinHashKey {
			return nil, fmt.Errorf("new masker: %w", ErrHashKey)
		}
		key := append([]byte(nil), cfg.HashKey...)
		m.hashPool.New = func() any { return &hasher{mac: hmac.New(sha256.New, key)} }
	default:
		return nil, fmt.Errorf("new masker: mode %q: %w", cfg.Mode, ErrUnknownMode)
	}
	for _, d := range cfg.Detectors {
		if d >= numDetectors {
			return nil, fmt.Errorf("new masker: %v: %w", d, ErrUnknownDetector)
		}
		m.on[d] = true
	}
	m.buildTriggers()
	return m, nil
}

// Mode returns the Masker's mode.
func (m *Masker) Mode() Mode { return m.mode }

// Counts is how many values each detector found, indexed by Detector: c[Email].
type Counts [numDetectors]uint32

// Total returns the number of values found by every detector.
func (c Counts) Total() int {
	t := 0
	for _, n := range c {
		t += int(n)
	}
	return t
}

// Add adds o's counts to c.
func (c *Counts) Add(o Counts) {
	for d, n := range o {
		c[d] += n
	}
}

// String returns the non-zero counts, for logs and the audit trail: "email=2 iban=1".
func (c Counts) String() string {
	var b strings.Builder
	for d, n := range c {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(detectorNames[d])
		b.WriteByte('=')
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return b.String()
}

// Mask finds values of the Masker's detectors in src, a text value, and replaces each by
// the mode. When nothing is found it returns src itself, with no copy and no allocation;
// otherwise the masked text appended to dst[:0] (src is not changed, and dst may not
// overlap it). In Null mode it returns null true and no text when anything is found: the
// value must be sent as SQL NULL.
//
// Replacements bring no '"', ',', tab, newline or backslash (a partial e-mail keeps its
// domain, escapes and all), and masking never splits a UTF-8 sequence or a JSON or COPY
// escape (\n, \uXXXX): a value that was valid UTF-8, valid JSON inside a string, an
// element of a text array, or a COPY text or CSV field stays so. For json and jsonb
// columns, where a number may be found outside a string, use MaskJSON.
func (m *Masker) Mask(dst, src []byte) (out []byte, found Counts, null bool) {
	return m.mask(dst, src, false)
}

// MaskJSON is Mask for a JSON document (a json or jsonb value in text form): a value
// found outside a string (a card number written as a JSON number) is replaced by a JSON
// string, so valid JSON stays valid JSON.
func (m *Masker) MaskJSON(dst, src []byte) (out []byte, found Counts, null bool) {
	return m.mask(dst, src, true)
}

func (m *Masker) mask(dst, src []byte, json bool) (out []byte, found Counts, null bool) {
	sp, ok, high := m.findHigh(src, 0, 0)
	if !ok {
		if high && needsNorm(src) {
			return m.maskNorm(dst, src, json)
		}
		return src, found, false
	}
	it := spanIter{m: m, src: src, high: high || hasHigh(src[sp.start:sp.end])}
	out, found, null, high = m.maskSpans(dst, src, json, it, sp)
	if high && needsNorm(src) {
		// A value holds characters read through normText: mask it as read.
		return m.maskNorm(dst, src, json)
	}
	return out, found, null
}

// maskNorm masks src read through normText: the slow path of values with Unicode
// dashes, spaces, fullwidth forms or zero-width characters.
func (m *Masker) maskNorm(dst, src []byte, json bool) (out []byte, found Counts, null bool) {
	it := spanIter{m: m, src: src, norm: new(normText)}
	it.norm.normalize(src)
	it.list = m.normSpans(it.norm)
	sp, ok := it.next(0)
	if !ok {
		return src, found, false
	}
	out, found, null, _ = m.maskSpans(dst, src, json, it, sp)
	return out, found, null
}

// maskSpans replaces the values it gives, from sp, the first. It returns whether a byte
// ≥ 0x80 was seen on the way, when it reads with find.
func (m *Masker) maskSpans(dst, src []byte, json bool, it spanIter, sp span) (out []byte, found Counts, null, high bool) {
	ok := true
	if m.mode == Null {
		for ok {
			found[sp.det]++
			sp, ok = it.next(sp.end)
		}
		return nil, found, true, it.high
	}
	out = dst[:0]
	if cap(out) < len(src)+32 {
		out = make([]byte, 0, len(src)+len(src)/4+32)
	}
	var js jsonState
	prev := 0
	for ok {
		found[sp.det]++
		quote := false
		if json && !js.inString(src, sp.start) {
			// A number: replace all of it, with what else was found in it.
			w := numberToken(src, sp, prev)
			for end := sp.end; ; {
				in, ok := it.next(end)
				if !ok || in.start >= w.end {
					it.back(in, ok)
					break
				}
				found[in.det]++
				end, w.end = in.end, max(w.end, in.end)
			}
			sp, quote = w, true
		}
		out = append(out, src[prev:sp.start]...)
		if quote {
			out = append(out, '"')
		}
		if it.norm != nil {
			out = m.replaceNorm(out, src[sp.start:sp.end], it.norm.of(sp), sp.det)
		} else {
			out = m.replace(out, src[sp.start:sp.end], sp.det)
		}
		if quote {
			out = append(out, '"')
		}
		prev = sp.end
		sp, ok = it.next(sp.end)
	}
	return append(out, src[prev:]...), found, false, it.high
}

// spanIter gives the values found in src in order: with find, or from the list found in
// the normalised text when src needs it.
type spanIter struct {
	m    *Masker
	src  []byte
	norm *normText // nil: src is read as it is
	list []span
	k    int
	high bool // with find: a byte ≥ 0x80 was seen
}

// next returns the first value that ends after from, starting no earlier than it.
func (it *spanIter) next(from int) (span, bool) {
	if it.norm == nil {
		sp, ok, high := it.m.findHigh(it.src, from, from)
		it.high = it.high || high || (ok && hasHigh(it.src[sp.start:sp.end]))
		return sp, ok
	}
	for it.k < len(it.list) && it.list[it.k].end <= from {
		it.k++
	}
	if it.k == len(it.list) {
		return span{}, false
	}
	sp := it.list[it.k]
	it.k++
	return clamp(sp, from), true
}

// back returns to the list the span next gave last, which was not taken.
func (it *spanIter) back(sp span, ok bool) {
	if ok && it.norm != nil {
		it.k--
	}
}

// MaskWhole masks all of src, for a column rule ("*.ssn"): Redact gives "[REDACTED]";
// Partial keeps the domain of an e-mail ("***@example.com") and otherwise the last 4
// letters or digits of a value that has at least 8, each other letter, digit or symbol
// becoming '*' and spaces and - . / ( ) + staying ("***-**-6789"); Hash gives
// "hmac:…" of the value (of its canonical form when the whole value is an e-mail, a
// card, phone or SSN, or an IBAN, so it equals the hash the detectors give); Null
// returns null true. The text is appended to dst[:0]. It is for text types: for others
// the caller sends StandIn or NULL.
func (m *Masker) MaskWhole(dst, src []byte) (out []byte, null bool) {
	out = dst[:0]
	switch m.mode {
	case Null:
		return nil, true
	case Partial:
		if d, ok := wholeKind(src); ok && d == Email {
			return partialEmail(out, trimSpace(src)), false
		}
		return partialWhole(out, src), false
	case Hash:
		d, ok := wholeKind(src)
		if !ok {
			return m.hash(out, src, numDetectors), false
		}
		return m.hash(out, trimSpace(src), d), false
	}
	return append(out, redactedWhole...), false
}

const redactedWhole = "[REDACTED]"

var markers = func() (ms [numDetectors]string) {
	for d := range ms {
		ms[d] = "[REDACTED:" + detectorNames[d] + "]"
	}
	return ms
}()
