package mask_test

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hoopgw/hoop/mask"
)

// secretGen makes valid values of one detector, and says which glue it is found
// through: letters, punctuation, emoji, CJK and zero-width characters always; digits
// on the left or the right only where the value's own format delimits it.
type secretGen struct {
	det                     mask.Detector
	gen                     func(r *rand.Rand) string
	digitsLeft, digitsRight bool
}

// luhnCard returns a card number of n digits starting with prefix, with its Luhn digit.
func luhnCard(r *rand.Rand, prefix string, n int) string {
	b := []byte(prefix)
	for len(b) < n-1 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	sum := 0
	for k := len(b) - 1; k >= 0; k-- {
		d := int(b[k] - '0')
		if (len(b)-1-k)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return string(append(b, byte('0'+(10-sum%10)%10)))
}

func grouped(s, sep string) string {
	var parts []string
	for k := 0; k < len(s); k += 4 {
		parts = append(parts, s[k:min(k+4, len(s))])
	}
	return strings.Join(parts, sep)
}

func ssnOf(r *rand.Rand, sep string) string {
	area := 1 + r.IntN(665)
	if area == 666 {
		area = 665
	}
	return fmt.Sprintf("%03d%s%02d%s%04d", area, sep, 1+r.IntN(99), sep, 1+r.IntN(9999))
}

// ibanDE returns a German IBAN with valid check digits.
func ibanDE(r *rand.Rand) string {
	bban := digitsN(r, 18)
	// mod 97 of BBAN + "DE00" as digits (D=13, E=14).
	rem := 0
	for _, c := range bban + "131400" {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return fmt.Sprintf("DE%02d%s", 98-rem, bban)
}

func ghToken(r *rand.Rand) string {
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	body := make([]byte, 30)
	for k := range body {
		body[k] = b62[r.IntN(62)]
	}
	sum := crc32.ChecksumIEEE(body)
	var tail [6]byte
	for k := 5; k >= 0; k-- {
		tail[k] = b62[sum%62]
		sum /= 62
	}
	return "ghp_" + string(body) + string(tail[:])
}

var secretGens = []secretGen{
	{mask.CreditCard, func(r *rand.Rand) string { return luhnCard(r, "4", 16) }, false, false},
	{mask.CreditCard, func(r *rand.Rand) string { return grouped(luhnCard(r, "5"+fmt.Sprint(1+r.IntN(5)), 16), " ") }, true, true},
	{mask.CreditCard, func(r *rand.Rand) string { return grouped(luhnCard(r, "4", 16), "-") }, true, true},
	{mask.USSSN, func(r *rand.Rand) string { return ssnOf(r, "-") }, true, true},
	{mask.USSSN, func(r *rand.Rand) string { return ssnOf(r, " ") }, false, false},
	{mask.Phone, func(r *rand.Rand) string {
		return fmt.Sprintf("%03d-%03d-%04d", 200+r.IntN(800), 200+r.IntN(800), r.IntN(10000))
	}, true, false},
	{mask.Phone, func(r *rand.Rand) string {
		return fmt.Sprintf("+1 %03d %03d %04d", 200+r.IntN(800), 200+r.IntN(800), r.IntN(10000))
	}, true, false},
	{mask.Email, func(r *rand.Rand) string {
		return strings.ToLower(pick(r, []string{"bob", "alice.smith", "o.neil+tag", "x_y"})) + fmt.Sprint(r.IntN(100)) + "@example.com"
	}, true, true},
	{mask.IBAN, ibanDE, true, true},
	{mask.IPAddress, func(r *rand.Rand) string { return fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(255)) }, false, false},
	{mask.AWSAccessKey, func(r *rand.Rand) string {
		const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
		b := []byte("AKIA")
		for range 15 {
			b = append(b, b32[r.IntN(32)])
		}
		return string(append(b, byte('2'+r.IntN(6))))
	}, true, true},
	{mask.GitHubToken, ghToken, true, true},
	{mask.JWT, func(r *rand.Rand) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":"%d"}`, r.IntN(1e6)))) + "." + enc([]byte(digitsN(r, 20)))
	}, true, false},
	{mask.PrivateKey, func(r *rand.Rand) string {
		return "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK" + hexN(r, 20, false) + "\n-----END RSA PRIVATE KEY-----"
	}, true, true},
}

var (
	glueWords  = []string{"x", "Alice", "ref", "Z", "#", ":", "=", "😀", "東京", "\u200b", "é"}
	glueDigits = []string{"9", "12345"}
	containers = []func(string) string{
		func(s string) string { return s },
		func(s string) string { return `{"k":"` + s + `","n":1}` },
		func(s string) string { return "{" + s + ",other}" },
		func(s string) string { return "1\t" + s + "\tz" },
		func(s string) string { return "note: " + s + " end" },
	}
)

// leaked reports whether out still shows secret: its letters and digits in order,
// after the spelling Mask reads through.
func leaked(out, secret string) bool {
	return strings.Contains(asciiOf(out), asciiOf(secret))
}

// asciiOf spells s as a person reads it: fullwidth forms as ASCII, Unicode dashes and
// spaces as '-' and ' ', zero-width characters dropped.
func asciiOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			b.WriteByte(byte(r - 0xFF01 + '!'))
		case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE58, r == 0xFE63:
			b.WriteByte('-')
		case r == 0xA0, r >= 0x2000 && r <= 0x200A, r == 0x202F, r == 0x3000:
			b.WriteByte(' ')
		case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF, r == 0xAD:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkMasked masks in with m (every detector) and with d alone, and fails if the
// secret survives, d found nothing, or valid UTF-8 became invalid.
func checkMasked(t *testing.T, ms map[mask.Mode]*mask.Masker, alone *mask.Masker, d mask.Detector, in, secret string) {
	t.Helper()
	for _, m := range []*mask.Masker{ms[mask.Redact], ms[mask.Hash], alone} {
		out, found, _ := m.Mask(nil, []byte(in))
		if found[d] == 0 || leaked(string(out), secret) {
			t.Errorf("%s %s: Mask(%q): got %q (found %v), want %q masked", m.Mode(), d, in, out, found, secret)
			return
		}
		if utf8.ValidString(in) && !utf8.Valid(out) {
			t.Errorf("%s: Mask(%q): invalid UTF-8 %q", d, in, out)
		}
	}
	// Partial keeps at most the last 4 characters: the value never survives whole.
	out, _, _ := ms[mask.Partial].Mask(nil, []byte(in))
	if leaked(string(out), secret) {
		t.Errorf("partial %s: Mask(%q): got %q, want %q masked", d, in, out, secret)
	}
}

func maskers(t *testing.T) (map[mask.Mode]*mask.Masker, map[mask.Detector]*mask.Masker) {
	ms := map[mask.Mode]*mask.Masker{}
	for _, mode := range []mask.Mode{mask.Redact, mask.Partial, mask.Hash} {
		ms[mode] = newMasker(t, mode, key1)
	}
	alone := map[mask.Detector]*mask.Masker{}
	for _, d := range mask.Detectors() {
		m, err := mask.New(&mask.Config{Detectors: []mask.Detector{d}})
		if err != nil {
			t.Fatal(err)
		}
		alone[d] = m
	}
	return ms, alone
}

// TestGluedValuesFound: the glue evasion (SELECT 'x' || ssn, name || ssn,
// card::text || 'x', email || ssn). Valid values of every detector, made with a fixed
// seed, glued on the left, the right or both to letters, punctuation, emoji, CJK and
// zero-width characters, and to digits where the value's format delimits it, inside
// JSON strings, array literals and COPY fields, are masked and do not survive.
func TestGluedValuesFound(t *testing.T) {
	ms, alone := maskers(t)
	r := rand.New(rand.NewPCG(13, 13))
	for _, g := range secretGens {
		for range 40 {
			v := g.gen(r)
			var glues [][2]string
			for _, w := range glueWords {
				glues = append(glues, [2]string{w, ""}, [2]string{"", w}, [2]string{w, w})
			}
			for _, dg := range glueDigits {
				if g.digitsLeft {
					glues = append(glues, [2]string{dg, ""})
				}
				if g.digitsRight {
					glues = append(glues, [2]string{"", dg})
				}
			}
			for _, gl := range glues {
				for _, c := range containers {
					checkMasked(t, ms, alone[g.det], g.det, c(gl[0]+v+gl[1]), v)
				}
			}
		}
	}
	// The examples, one by one.
	for _, tc := range []struct {
		in, secret string
		d          mask.Detector
	}{
		{"x123-45-6789", "123-45-6789", mask.USSSN},
		{"Alice123-45-6789", "123-45-6789", mask.USSSN},
		{"4111111111111111x", "4111111111111111", mask.CreditCard},
		{"bob@example.com123-45-6789", "123-45-6789", mask.USSSN},
		{"bob@example.com123-45-6789", "bob@example.com", mask.Email},
		{"x10.1.2.3", "10.1.2.3", mask.IPAddress},
		{"10.1.2.3abc", "10.1.2.3", mask.IPAddress},
		{"99123-45-6789", "123-45-6789", mask.USSSN},
		{"123-45-678912345", "123-45-6789", mask.USSSN},
		{"994111 1111 1111 1111", "4111 1111 1111 1111", mask.CreditCard},
		{"4111 1111 1111 111199", "4111 1111 1111 1111", mask.CreditCard},
		{"2024555-123-4567", "555-123-4567", mask.Phone},
		{"bob@example.com42", "bob@example.com", mask.Email},
		{"nameDE89370400440532013000", "DE89370400440532013000", mask.IBAN},
		{"keyAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", mask.AWSAccessKey},
		{"AKIAIOSFODNN7EXAMPLEsecret", "AKIAIOSFODNN7EXAMPLE", mask.AWSAccessKey},
		{"tok" + "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" + "x", "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", mask.GitHubToken},
		{"x2001:db8::1", "2001:db8::1", mask.IPAddress},
		{"2001:db8::1x", "2001:db8::1", mask.IPAddress},
		{"host2001:db8:85a3::8a2e:370:7334z", "2001:db8:85a3::8a2e:370:7334", mask.IPAddress},
		{"ssn123-45-6789ssn", "123-45-6789", mask.USSSN},
		{"ssn１２３‐４５‐６７８９", "123-45-6789", mask.USSSN},
	} {
		checkMasked(t, ms, alone[tc.d], tc.d, tc.in, tc.secret)
	}
}

// unicodeForms returns v spelled with the characters a person reads as ASCII: every
// digit fullwidth, each '-' as each Unicode dash, each ' ' as each Unicode space, and a
// zero-width character between every two characters.
func unicodeForms(v string) []string {
	var forms []string
	var fw strings.Builder
	for _, c := range v {
		if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			fw.WriteRune(c - '!' + 0xFF01)
		} else {
			fw.WriteRune(c)
		}
	}
	forms = append(forms, fw.String())
	if strings.Contains(v, "-") {
		for _, d := range []string{"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63", "\uff0d"} {
			forms = append(forms, strings.ReplaceAll(v, "-", d))
		}
	}
	if strings.Contains(v, " ") {
		for _, s := range []string{"\u00a0", "\u2000", "\u2007", "\u2009", "\u200a", "\u202f", "\u3000"} {
			forms = append(forms, strings.ReplaceAll(v, " ", s))
		}
	}
	for _, z := range []string{"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"} {
		var b strings.Builder
		for k, c := range v {
			if k > 0 {
				b.WriteString(z)
			}
			b.WriteRune(c)
		}
		forms = append(forms, b.String())
	}
	return forms
}

// TestUnicodeNormalisedValuesFound: values spelled with fullwidth digits and letters,
// Unicode dashes and spaces, or zero-width characters and soft hyphens between their
// characters are found as their ASCII spelling; the replacement covers every original
// byte (Redact gives the marker alone), stays valid UTF-8, and Partial keeps the last 4
// digits as they were written.
func TestUnicodeNormalisedValuesFound(t *testing.T) {
	ms, alone := maskers(t)
	r := rand.New(rand.NewPCG(17, 17))
	for _, g := range secretGens {
		if g.det == mask.PrivateKey || g.det == mask.JWT {
			continue // base64 bodies are not written with fullwidth forms
		}
		for range 20 {
			v := g.gen(r)
			for _, f := range unicodeForms(v) {
				out, found, _ := ms[mask.Redact].Mask(nil, []byte(f))
				if want := "[REDACTED:" + g.det.String() + "]"; string(out) != want || found[g.det] != 1 {
					t.Errorf("Mask(%q) (%q): got %q, want %q", f, v, out, want)
				}
				for _, c := range containers {
					checkMasked(t, ms, alone[g.det], g.det, c("x"+f), v)
				}
			}
		}
	}
	// Partial keeps the last 4 digits as written, the others starred rune by rune.
	m := ms[mask.Partial]
	for _, tc := range []struct{ in, want string }{
		{"４１１１ １１１１ １１１１ １１１１", "**** **** **** １１１１"},
		{"card 4111\u200b1111\u200b1111\u200b1111.", "card ****\u200b****\u200b****\u200b1111."},
		{"１２３‐４５‐６７８９", "***‐**‐６７８９"},
		{"123\u221245\u22126789", "***\u2212**\u22126789"},
		{"bob＠example．com", "***@example.com"},
	} {
		if out, _, _ := m.Mask(nil, []byte(tc.in)); string(out) != tc.want {
			t.Errorf("partial Mask(%q): got %q, want %q", tc.in, out, tc.want)
		}
	}
	// Hash: the same value hashes the same whatever its spelling.
	h := ms[mask.Hash]
	a, _, _ := h.Mask(nil, []byte("123-45-6789"))
	for _, f := range unicodeForms("123-45-6789") {
		if b, _, _ := h.Mask(nil, []byte(f)); string(b) != string(a) {
			t.Errorf("hash Mask(%q): got %q, want %q as for 123-45-6789", f, b, a)
		}
	}
}
