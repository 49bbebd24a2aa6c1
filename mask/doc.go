// Package mask finds secrets and personal data in values and masks them, so that they
// never leave the gateway. It is pure: no sockets, no I/O, no clocks. The PostgreSQL
// engine calls it on every value of a result (DataRow values, COPY … TO STDOUT rows, the
// text of errors and notices); it must miss nothing and cost little.
//
//	m, err := mask.New(&mask.Config{Detectors: mask.Detectors(), Mode: mask.Partial})
//	out, found, null := m.Mask(buf, []byte("card 4111 1111 1111 1111, bob@example.com"))
//	// out: "card **** **** **** 1111, ***@example.com", found[mask.Email] == 1
//
// # Detectors
//
// Each detector finds its values anywhere in a text: alone, in a sentence, in a JSON
// string, in an array literal, after an escape ("\n4111…"). Each validates what it
// finds, so that clean data is left alone:
//
//   - credit_card: 13–19 digits starting with 2–9, in one run or grouped by spaces or
//     dashes, passing the Luhn check; not part of a longer run of digits or a word.
//   - email: local@domain, the domain with a dot and a TLD of letters.
//   - phone: '+' or 00 and 8–15 digits (E.164, separators and parentheses allowed);
//     North American (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199;
//     numbers with a trunk 0 in groups (020 7946 0958, 01 23 45 67 89). Bare runs of
//     digits are ids, not phones; dates and versions are not phones.
//   - us_ssn: AAA-GG-SSSS or AAA GG SSSS, never-issued ranges rejected. Nine bare digits
//     are not taken: too many ids look like that.
//   - iban: country code, check digits and BBAN of the country's length (75 countries),
//     in one word or groups of 4, mod 97 = 1.
//   - ip_address: IPv4 dotted quads (not inside a longer dotted number such as a
//     version) and IPv6 (RFC 4291 text, checked like net/netip parses it).
//   - aws_access_key: AKIA/ASIA and 16 upper-case letters or digits, word-bounded.
//   - github_token: ghp_/gho_/ghu_/ghs_/ghr_ with a valid CRC32 checksum, and
//     github_pat_ fine-grained tokens (by prefix: they carry no public checksum).
//   - jwt: three to five base64url segments whose header decodes to a JSON object with
//     "alg".
//   - private_key: a PEM "-----BEGIN … PRIVATE KEY-----" block to its END line, or to
//     the end of the value when the END line is missing.
//
// What no validator can tell from an id is left: a card number glued to letters, nine
// bare digits, an unformatted ten-digit phone number, a dotted four-part version that is
// also a valid IPv4 address is masked (the other way round).
//
// # Speed
//
// A clean value costs one pass of table lookups, eight bytes at a time: only digits and
// '@', ':', '_', 'I', 'J', 'K' (for the detectors that are on) stop it, and the validator
// behind each rejects in a few steps without allocating. Mask returns its input itself
// when nothing is found. There is no regular expression. See the benchmarks:
//
//	go test ./mask -run '^$' -bench . -benchmem
//
// # Modes
//
// Redact writes "[REDACTED:email]"; Partial keeps the last 4 digits of cards, phones and
// SSNs, the last 4 characters of IBANs and the domain of e-mails; Hash writes
// "hmac:" and 16 hex digits of a keyed HMAC-SHA256 (equal values stay equal and join;
// without the gateway's key nobody can build a dictionary); Null asks for SQL NULL.
// MaskWhole applies a mode to a whole value, for column rules. StandIn and
// StandInBinary give type-valid values for columns that are not text.
package mask
