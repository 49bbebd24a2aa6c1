// Package mask finds secrets and personal data in values and masks them, so that they
// never leave the gateway. It is pure: no sockets, no I/O, no clocks. The PostgreSQL
// engine calls it on every value of a result (DataRow values, COPY … TO STDOUT rows, the
// text of errors and notices); it must miss nothing and cost little.
//
//	m, err := mask.New(&mask.Config{Detectors: mask.Detectors(), Mode: mask.Partial})
//	out, found, null := m.Mask(buf, []byte("card 4111 1111 1111 1111, bob@example.com"))
//	// out: "card **** **** **** 1111, ***@example.com"
//	// found[mask.CreditCard] == 1, found[mask.Email] == 1, null false
//
// # Detectors
//
// Each detector finds its values anywhere in a text: alone, in a sentence, in a JSON
// string, in an array literal, in a CSV or COPY field, after an escape ("\n4111…",
// "\u00e9bob@…"). Each validates what it finds, so that clean data is left alone:
//
//   - credit_card: 13–19 digits starting with 2–9 (no network issues 0, and 1 would
//     take Unix times in milliseconds), in one run or grouped by spaces or dashes
//     (4-4-4-4, 4-6-5, …), passing the Luhn check; not inside a longer run of digits or
//     glued to letters. A trailing group after a usual layout ("… 1111 123", a CVV) is
//     left out rather than the card missed.
//   - email: local@domain: a local part of RFC 5321 characters or UTF-8, a domain of two
//     labels or more whose TLD is letters (or xn--, or non-ASCII); not "@mention",
//     "user@localhost", "a@b", "icon@2x.png".
//   - phone: '+' or 00 and 8–15 digits (E.164; spaces, dashes, dots, parentheses);
//     North American (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567,
//     1-800-555-0199; numbers with a trunk 0 in groups (020 7946 0958, 01 23 45 67 89,
//     030/12345678). A bare run of digits is an id, not a phone (and an unformatted
//     phone number goes through); dates and versions are not phones.
//   - us_ssn: AAA-GG-SSSS or AAA GG SSSS, with the ranges the SSA never issues rejected
//     (area 000, 666, 900–999; group 00; serial 0000). Nine bare digits are not taken:
//     too many ids look like that.
//   - iban: a country code (75 countries), check digits and a BBAN of the country's
//     length, in one word or in groups of 4, whose mod-97 check is 1.
//   - ip_address: IPv4 dotted quads, not inside a longer dotted number (1.2.3.4.5, but a
//     four-part version is taken: it is a valid address), and IPv6 as net/netip parses
//     it (zones left out); not times (12:30:45), casts ('1'::int) or "::".
//   - aws_access_key: AKIA or ASIA and 16 upper-case letters or digits, word-bounded.
//   - github_token: ghp_, gho_, ghu_, ghs_, ghr_ and 36 letters and digits whose last 6
//     are the CRC32 of the first 30 in base62, as GitHub makes them; github_pat_
//     fine-grained tokens by their prefix alone (they carry no public checksum).
//   - jwt: three to five base64url segments starting a word, whose header decodes to a
//     JSON object with "alg".
//   - private_key: a PEM "-----BEGIN … PRIVATE KEY-----" block (RSA, EC, DSA, OPENSSH,
//     ENCRYPTED, PGP, PKCS#8) to its END line; when the END line is missing, to the end
//     of the value, of its JSON string or of its COPY field (failing closed).
//
// # Modes
//
// Redact writes "[REDACTED:email]". Partial keeps the last 4 digits of cards, phones and
// SSNs and the last 4 characters of IBANs (separators kept: "**** **** **** 1111"), and
// the domain of e-mails ("***@example.com"); it redacts the others. Hash writes "hmac:"
// and the first 16 hex digits (64 bits) of HMAC-SHA256 under the gateway's key, of the
// value's canonical form (digits only, upper-case IBAN, lower-case e-mail): equal values
// give equal hashes whatever their spelling, so masked columns still join and group,
// and without the key nobody can hash every SSN to look one up. Null asks for SQL NULL.
// MaskWhole applies a mode to a whole value, for column rules; StandIn and StandInBinary
// give type-valid values for columns that are not text. A replacement never breaks the
// JSON string, array element, CSV or COPY field or UTF-8 it is in; MaskJSON also keeps a
// JSON document valid when a number in it is masked.
//
// # Speed
//
// There is no regular expression. find looks at 64 bytes at a time: bitmaps of their
// digits, letters, separators and of the few rare bytes that anchor the other detectors
// (on amd64 with AVX2, two table lookups per 32 bytes; elsewhere arithmetic on 8 bytes
// as a word, build tag purego for that on amd64 too), then bit arithmetic keeps the
// runs of digits whose shape a digit detector could take and the anchors whose
// neighbours fit; only those reach a validator. Mask returns its input itself, without
// allocating, when nothing is found. The benchmarks say how fast, on clean values and
// on values dense with personal data:
//
//	go test ./mask -run '^$' -bench . -benchmem
package mask
