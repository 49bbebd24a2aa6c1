package mask_test

import (
	"strings"
	"testing"

	"github.com/hoopgw/hoop/mask"
)

// detectCase is a text and what Redact with every detector makes of it; want "" means
// the text is clean and comes back unchanged.
type detectCase struct {
	name, in, want string
}

const (
	rCard  = "[REDACTED:credit_card]"
	rEmail = "[REDACTED:email]"
	rPhone = "[REDACTED:phone]"
	rSSN   = "[REDACTED:us_ssn]"
	rIBAN  = "[REDACTED:iban]"
	rIP    = "[REDACTED:ip_address]"
	rAWS   = "[REDACTED:aws_access_key]"
	rGH    = "[REDACTED:github_token]"
	rJWT   = "[REDACTED:jwt]"
	rPEM   = "[REDACTED:private_key]"
)

// Tokens with a valid checksum, made with Python's zlib.crc32 and base62 (0-9A-Za-z),
// not with the code under test.
const (
	ghp = "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"
	gho = "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"
	ghu = "ghu_CN6Zj4a3dDVhYRnKTbxTNJFoBinF5a42GyMy"
	ghs = "ghs_JXVuLkSIc47WQAmL9xVQ2zg4mZaouq416qWT"
	ghr = "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"

	jwtHS256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	jwtNone  = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."
	jwtRS256 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIxMjM0IiwiZW1haWwiOiJ4QHkueiJ9.c2lnbmF0dXJl"

	pemRSA     = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----"
	pemOpenSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----"
	pemPKCS8   = "-----BEGIN PRIVATE KEY-----\r\nMC4CAQAwBQYDK2VwBCIEIHh0ZXN0a2V5bm90cmVhbG5vdHJlYWxub3RyZWFsMTI=\r\n-----END PRIVATE KEY-----"
)

var detectCases = []detectCase{
	// credit_card
	{"card plain", "4111111111111111", rCard},
	{"card spaces", "4111 1111 1111 1111", rCard},
	{"card dashes", "5500-0000-0000-0004", rCard},
	{"card amex 4-6-5", "paid with 3782 822463 10005 today", "paid with " + rCard + " today"},
	{"card amex run", "340000000000009", rCard},
	{"card diners 14", "30000000000004", rCard},
	{"card visa 13", "4222222222222", rCard},
	{"card 19", "6304000000000000000", rCard},
	{"card mastercard 2-series", "2223003122003222", rCard},
	{"card sentence", "Card 4242424242424242 was declined.", "Card " + rCard + " was declined."},
	{"card json", `{"pan":"6011000000000004","ok":true}`, `{"pan":"` + rCard + `","ok":true}`},
	{"card array", "{4111111111111111,5105105105105100}", "{" + rCard + "," + rCard + "}"},
	{"card with cvv after", "4111 1111 1111 1111 123 exp 12/25", rCard + " 123 exp 12/25"},
	{"card after json newline", `{"note":"line1\n4111111111111111"}`, `{"note":"line1\n` + rCard + `"}`},
	{"card after unicode escape", `"\u00a04111 1111 1111 1111"`, `"\u00a0` + rCard + `"`},
	{"card after copy tab escape", `x\t4111111111111111\tz`, `x\t` + rCard + `\tz`},
	{"card in error", `invalid input syntax for type integer: "4111111111111111"`, `invalid input syntax for type integer: "` + rCard + `"`},
	{"card fails luhn", "4111111111111112", ""},
	{"card fails luhn grouped", "4111 1111 1111 1112", ""},
	{"card longer run", "41111111111111110", ""},
	{"card glued to letters", "ref4111111111111111", "ref" + rCard},
	{"card starts with 1 (unix ms)", "1700000000005", ""},
	{"card starts with 0", "0000000000000000", ""},
	{"card odd grouping isbn", "978-0-306-40615-7", ""},
	{"card years", "2019 2020 2021", ""},

	// email
	{"email plain", "bob@example.com", rEmail},
	{"email sentence", "Write to alice.smith+tag@mail.example.co.uk, please.", "Write to " + rEmail + ", please."},
	{"email json", `{"email":"o'brien@example.ie"}`, `{"email":"` + rEmail + `"}`},
	{"email array", "{a@b.com,c@d.org}", "{" + rEmail + "," + rEmail + "}"},
	{"email quoted", "'bob@example.com'", "'" + rEmail + "'"},
	{"email angle", "Bob <bob@example.com>", "Bob <" + rEmail + ">"},
	{"email url credentials", "https://user:pa55@db.example.com/x", "https://user:" + rEmail + "/x"},
	{"email utf8 local", "müller@example.de", rEmail},
	{"email idn domain", "bob@müller.de", rEmail},
	{"email escaped local", `"m\u00fcller@example.de"`, `"` + rEmail + `"`},
	{"email escaped domain", `"bob@m\u00fcller.de"`, `"` + rEmail + `"`},
	{"email after json newline", `"a\nbob@example.com"`, `"a\n` + rEmail + `"`},
	{"email then cjk", "请联系bob@example.com谢谢", rEmail + "谢谢"},
	{"email xn tld", "x@example.xn--p1ai", rEmail},
	{"email mention", "thanks @bob for the fix", ""},
	{"email no dot", "user@localhost", ""},
	{"email a@b", "a@b", ""},
	{"email file", "icon@2x.png", ""},
	{"email numeric tld", "x@1.5", ""},
	{"email empty local", "@example.com", ""},
	{"email price", "3 apples @ 0.50 each", ""},
	{"email partial marker", "***@example.com", ""},

	// phone
	{"phone e164", "+14155552671", rPhone},
	{"phone e164 spaces", "call +44 20 7946 0958 now", "call " + rPhone + " now"},
	{"phone e164 parens", "+1 (415) 555-2671", rPhone},
	{"phone e164 trunk in parens", "+44 (0)20 7946 0958", rPhone},
	{"phone e164 dots", "+33.1.23.45.67.89", rPhone},
	{"phone e164 then number", "+44 20 7946 0958 12345678", rPhone + " 12345678"},
	{"phone 00", "0044 20 7946 0958", rPhone},
	{"phone us parens", "(555) 123-4567", rPhone},
	{"phone us parens tight", "(555)123-4567", rPhone},
	{"phone us dashes", "555-123-4567", rPhone},
	{"phone us dots", "555.123.4567", rPhone},
	{"phone us spaces", "555 123 4567", rPhone},
	{"phone us leading 1", "1-800-555-0199", rPhone},
	{"phone us leading 1 parens", "1 (800) 555-0199", rPhone},
	{"phone extension", "555-123-4567x89", rPhone + "x89"},
	{"phone uk", "020 7946 0958", rPhone},
	{"phone fr", "01 23 45 67 89", rPhone},
	{"phone de slash", "030/12345678", rPhone},
	{"phone nl", "06-12345678", rPhone},
	{"phone uk parens", "(020) 7946 0958", rPhone},
	{"phone json", `{"tel":"+49 30 1234567"}`, `{"tel":"` + rPhone + `"}`},
	{"phone array", "{555-123-4567,+14155552671}", "{" + rPhone + "," + rPhone + "}"},
	{"phone date", "2024-03-15", ""},
	{"phone date dmy", "01-02-2024", ""},
	{"phone date dmy time", "01-02-2024 10 12", ""},
	{"phone version", "1.2.3", ""},
	{"phone id", "4155552671", ""},
	{"phone long plus", "+1234567890123456", ""},
	{"phone short plus", "+1234567", ""},
	{"phone offset", "2024-03-15 14:22:01+05", ""},
	{"phone part of longer dashed", "12-555-123-4567-89", ""},
	{"phone 3-3-4 then more", "555-123-4567-8", ""},

	// us_ssn
	{"ssn", "123-45-6789", rSSN},
	{"ssn spaces", "ssn 219 09 9999 on file", "ssn " + rSSN + " on file"},
	{"ssn json", `{"ssn":"078-05-1120"}`, `{"ssn":"` + rSSN + `"}`},
	{"ssn area 000", "000-12-3456", ""},
	{"ssn area 666", "666-12-3456", ""},
	{"ssn area 9xx", "900-12-3456", ""},
	{"ssn group 00", "123-00-4567", ""},
	{"ssn serial 0000", "123-45-0000", ""},
	{"ssn bare", "123456789", ""},
	{"ssn in longer dashed", "1-123-45-6789-0", ""},
	{"ssn mixed separators", "123-45 6789", ""},

	// iban
	{"iban de", "DE89370400440532013000", rIBAN},
	{"iban de spaced", "IBAN: DE89 3704 0044 0532 0130 00.", "IBAN: " + rIBAN + "."},
	{"iban gb letters", "GB82WEST12345698765432", rIBAN},
	{"iban fr", "FR1420041010050500013M02606", rIBAN},
	{"iban nl", "NL91ABNA0417164300", rIBAN},
	{"iban ch", "CH9300762011623852957", rIBAN},
	{"iban it", "IT60X0542811101000000123456", rIBAN},
	{"iban no", "NO9386011117947", rIBAN},
	{"iban at spaced", "AT61 1904 3002 3457 3201 EUR", rIBAN + " EUR"},
	{"iban lower", "de89370400440532013000", rIBAN},
	{"iban json", `{"iban":"PL61109010140000071219812874"}`, `{"iban":"` + rIBAN + `"}`},
	{"iban bad check", "DE89370400440532013001", ""},
	{"iban bad length", "DE8937040044053201300", ""},
	{"iban unknown country", "ZZ89370400440532013000", ""},
	{"iban glued", "XDE89370400440532013000", "X" + rIBAN},
	{"iban glued to a lower-case hash", "abcde89370400440532013000f", ""},

	// ip_address
	{"ipv4", "192.168.1.1", rIP},
	{"ipv4 port", "10.0.0.1:5432", rIP + ":5432"},
	{"ipv4 cidr", "10.0.0.0/8", rIP + "/8"},
	{"ipv4 sentence", "from 203.0.113.7.", "from " + rIP + "."},
	{"ipv4 json", `{"ip":"8.8.8.8"}`, `{"ip":"` + rIP + `"}`},
	{"ipv4 array", "{127.0.0.1,255.255.255.255}", "{" + rIP + "," + rIP + "}"},
	{"ipv6", "2001:db8::1", rIP},
	{"ipv6 full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", rIP},
	{"ipv6 loopback", "host ::1 only", "host " + rIP + " only"},
	{"ipv6 mapped", "::ffff:192.0.2.128", rIP},
	{"ipv6 zone", "fe80::1%eth0", rIP + "%eth0"},
	{"ipv6 bracket port", "[2001:db8::2]:443", "[" + rIP + "]:443"},
	{"ipv6 after word colon", "addr:2001:db8::1", "addr:" + rIP},
	{"ipv6 json", `{"ip":"fe80::a00:27ff:fe4e:66a1"}`, `{"ip":"` + rIP + `"}`},
	{"ipv4 version", "v1.2.3.4", ""},
	{"ipv4 glued to letters", "x10.1.2.3abc", "x" + rIP + "abc"},
	{"ipv6 glued to letters", "x2001:db8::1y", "x" + rIP + "y"},
	{"cast glued", "SELECT 1::date, x::dateabc", ""},
	{"ssn glued to a name", "Alice123-45-6789", "Alice" + rSSN},
	{"ssn glued to digits", "99123-45-6789", "99" + rSSN},
	{"email glued to an ssn", "bob@example.com123-45-6789", rEmail + rSSN},
	{"card glued to digits", "994111 1111 1111 111199", "99" + rCard + "99"},
	{"uuid with digit groups", "12345678-4111-1111-1111-111111111111", ""},
	{"compact timestamp", "20240315142201", ""},
	{"ipv4 longer dotted", "1.2.3.4.5", ""},
	{"ipv4 octet too big", "256.1.1.1", ""},
	{"ipv4 three parts", "10.0.0", ""},
	{"time", "14:22:01", ""},
	{"time fraction", "14:22:01.123456", ""},
	{"mac", "00:1A:2B:3C:4D:5E", ""},
	{"cast", "SELECT '1'::int, x::date, 1::date, col::bigint", ""},
	{"cpp", "std::vector<int>", ""},
	{"url", "https://example.com:8443/x", ""},

	// aws_access_key
	{"aws", "AKIAIOSFODNN7EXAMPLE", rAWS},
	{"aws temporary", "key=ASIAY34FZKBOKMUTVV7A;", "key=" + rAWS + ";"},
	{"aws json", `{"aws_access_key_id":"AKIAI44QH8DHBEXAMPLE"}`, `{"aws_access_key_id":"` + rAWS + `"}`},
	{"aws short", "AKIAIOSFODNN7EXAMPL", ""},
	{"aws long", "AKIAIOSFODNN7EXAMPLEX", rAWS + "X"},
	{"aws word", "ASIAPACIFICREGIONSALES", ""},
	{"aws lower", "AKIAiosfodnn7example", ""},
	{"aws glued", "XAKIAIOSFODNN7EXAMPLE", "X" + rAWS},

	// github_token
	{"github ghp", ghp, rGH},
	{"github gho", "token " + gho + " ok", "token " + rGH + " ok"},
	{"github ghu ghs ghr", ghu + "," + ghs + "," + ghr, rGH + "," + rGH + "," + rGH},
	{"github json", `{"token":"` + ghp + `"}`, `{"token":"` + rGH + `"}`},
	{"github pat", "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI", rGH},
	{"github bad checksum", "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IM", ""},
	{"github docs example", "gho_16C7e42F292c6912E7710c838347Ae178B4a", ""},
	{"github short", "ghp_abc", ""},
	{"snake case", "github_user gh_pages ghp_x", ""},

	// jwt
	{"jwt", jwtHS256, rJWT},
	{"jwt bearer", "Authorization: Bearer " + jwtRS256, "Authorization: Bearer " + rJWT},
	{"jwt unsigned", "t=" + jwtNone + " end", "t=" + rJWT + " end"},
	{"jwt json", `{"id_token":"` + jwtRS256 + `"}`, `{"id_token":"` + rJWT + `"}`},
	{"jwt no alg", "eyJmb28iOiJiYXIifQ.eyJzdWIiOiJhIn0.c2ln", ""},
	{"jwt one segment", "eyJhbGciOiJIUzI1NiJ9", ""},
	{"jwt two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0", ""},
	{"jwt bad base64", "eyJhbGciOiJIUzI1NiJ9x.eyJzdWIiOiJhIn0.c2ln", ""},
	{"base64 blob", "eyJzb21lIjoiZGF0YSJ9aGVsbG8gd29ybGQ=", ""},

	// private_key
	{"pem rsa", pemRSA, rPEM},
	{"pem openssh in text", "key: " + pemOpenSSH + "\nthanks", "key: " + rPEM + "\nthanks"},
	{"pem pkcs8 crlf", pemPKCS8, rPEM},
	{"pem json", `{"k":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n","n":1}`, `{"k":"` + rPEM + `\n","n":1}`},
	{"pem encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----", rPEM},
	{"pem pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0AAAAB\n-----END PGP PRIVATE KEY BLOCK-----", rPEM},
	{"pem cut", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", rPEM},
	{"pem cut in json", `{"k":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq","n":1}`, `{"k":"` + rPEM + `","n":1}`},
	{"pem cut in copy", "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq\tnext", rPEM + "\tnext"},
	{"pem public", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----", ""},
	{"pem certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", ""},
	{"private key words", "rotate the PRIVATE KEY monthly", ""},

	// clean text of every kind
	{"uuid", "3f2a9c1e-4b7d-4e8a-9c3f-1a2b3c4d5e6f", ""},
	{"uuid upper", "3F2A9C1E-4B7D-4E8A-9C3F-1A2B3C4D5E6F", ""},
	{"timestamp", "2024-03-15 14:22:01.123456+00", ""},
	{"iso timestamp", "2024-03-15T14:22:01Z", ""},
	{"amount", "EUR 1.299,99 / $1,299.99 / 1299.99", ""},
	{"order id", "ORD-2024-000123", ""},
	{"isbn 13", "ISBN 978-3-16-148410-0", ""},
	{"isbn 10", "0-306-40615-2", ""},
	{"sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ""},
	{"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", ""},
	{"md5", "d41d8cd98f00b204e9800998ecf8427e", ""},
	{"unix seconds", "1700000000", ""},
	{"zip codes", "75001 Paris, 10115 Berlin, SW1A 1AA London", ""},
	{"address", "221B Baker Street, London NW1 6XE", ""},
	{"product", "Ergonomic chair, 3 colours, SKU 84-2291-77, 2 year warranty", ""},
	{"empty", "", ""},
}

func TestDetect(t *testing.T) {
	m, err := mask.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range detectCases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			out, found, null := m.Mask(nil, []byte(tc.in))
			if string(out) != want {
				t.Errorf("Mask(%q): got %q, want %q", tc.in, out, want)
			}
			if null {
				t.Errorf("Mask(%q): null in redact mode", tc.in)
			}
			if got, want := found.Total(), strings.Count(want, "[REDACTED:"); got != want {
				t.Errorf("Mask(%q): found %d (%v), want %d", tc.in, got, found, want)
			}
		})
	}
}

// TestDetectorsApart: each detector alone finds its values and nothing of the others'.
func TestDetectorsApart(t *testing.T) {
	for _, d := range mask.Detectors() {
		m, err := mask.New(&mask.Config{Detectors: []mask.Detector{d}})
		if err != nil {
			t.Fatal(err)
		}
		marker := "[REDACTED:" + d.String() + "]"
		for _, tc := range detectCases {
			if tc.want == "" || strings.Count(tc.want, "[REDACTED:") != strings.Count(tc.want, marker) {
				continue
			}
			out, found, _ := m.Mask(nil, []byte(tc.in))
			if string(out) != tc.want {
				t.Errorf("%s alone: Mask(%q): got %q, want %q", d, tc.in, out, tc.want)
			}
			if int(found[d]) != found.Total() {
				t.Errorf("%s alone: Mask(%q): found %v", d, tc.in, found)
			}
		}
		// Values of the other detectors are left alone, but for known overlaps.
		for _, tc := range detectCases {
			if tc.want == "" || strings.Contains(tc.want, marker) || overlaps[d.String()+"/"+tc.name] {
				continue
			}
			if out, _, _ := m.Mask(nil, []byte(tc.in)); string(out) != tc.in {
				t.Errorf("%s alone: Mask(%q): got %q, want it unchanged", d, tc.in, out)
			}
		}
	}
}

// overlaps are values of one detector that another finds too, when alone.
var overlaps = map[string]bool{
	// The spaced digits of an IBAN end like an international number: "0044 0532 0130 00".
	"phone/iban de spaced": true,
}

// TestNoCopyWhenClean: a clean value comes back as the same slice, without allocating.
func TestNoCopyWhenClean(t *testing.T) {
	m, err := mask.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	src := []byte("Jane Doe, 42 Rue de Rivoli, 75001 Paris, ordered 3 items on 2024-03-15 14:22:01 for 129.90")
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		out, found, null := m.Mask(dst, src)
		if &out[0] != &src[0] || len(out) != len(src) || found.Total() != 0 || null {
			t.Fatalf("Mask of clean text: got %q (found %v, null %v), want src itself", out, found, null)
		}
	})
	if allocs != 0 {
		t.Errorf("Mask of clean text: %v allocations, want 0", allocs)
	}
	dirty := []byte("mail bob@example.com or call +1 415 555 2671, card 4111 1111 1111 1111")
	allocs = testing.AllocsPerRun(100, func() { m.Mask(dst, dirty) })
	if allocs != 0 {
		t.Errorf("Mask of dirty text into a large enough dst: %v allocations, want 0", allocs)
	}
}

func TestParseDetector(t *testing.T) {
	for _, d := range mask.Detectors() {
		got, err := mask.ParseDetector(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDetector(%q): got %v, %v, want %v", d.String(), got, err, d)
		}
	}
	if _, err := mask.ParseDetector("ssn"); err == nil || !strings.Contains(err.Error(), `parse detector "ssn": unknown detector`) {
		t.Errorf("ParseDetector(ssn): got %v, want unknown detector", err)
	}
}

func TestCounts(t *testing.T) {
	m, err := mask.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, found, _ := m.Mask(nil, []byte("a@example.com b@example.com 4111111111111111 10.0.0.1 ::1"))
	if found[mask.Email] != 2 || found[mask.CreditCard] != 1 || found[mask.IPAddress] != 2 || found.Total() != 5 {
		t.Errorf("counts: got %v", found)
	}
	if got, want := found.String(), "credit_card=1 email=2 ip_address=2"; got != want {
		t.Errorf("Counts.String: got %q, want %q", got, want)
	}
	var sum mask.Counts
	sum.Add(found)
	sum.Add(found)
	if sum[mask.Email] != 4 || sum.Total() != 10 {
		t.Errorf("Counts.Add: got %v", sum)
	}
}
