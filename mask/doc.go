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
// "\u00e9bob@…"), and glued to other text ('x' || ssn, name || ssn, card::text || 'x',
// email || ssn): letters, punctuation, emoji, CJK on either side do not hide a value.
// Glued to digits, a value is found where its own format delimits it (its separators,
// its fixed length, its checksum); a bare run of digits is never cut out of a longer
// one. Each validates what it finds, so that clean data is left alone:
//
//   - credit_card: 13–19 digits starting with 2–9 (no network issues 0, and 1 would
//     take Unix times in milliseconds), in one run or grouped by spaces or dashes
//     (4-4-4-4, 4-6-5, …), passing the Luhn check. A run is a card whole or not at all:
//     never inside a longer run of digits (order numbers, ids), nor a compact timestamp
//     (YYYYMMDDhhmmss[SSS]), nor part of a hex hash (a word of 32 hex digits or more) or
//     a UPS tracking number ("1Z" and 16). Letters glued to it do not matter
//     ("ref4111111111111111x"). A 4-4-4-4 card may be glued to digits on either side
//     ("994111 1111 1111 111199"): its first and last groups are then the 4 digits
//     next to the separators; dashed groups inside a UUID are not a card. A trailing
//     group after a usual layout ("… 1111 123", a CVV) is left out rather than the
//     card missed.
//   - email: local@domain: a local part of RFC 5321 characters or UTF-8, a domain of two
//     labels or more whose TLD is letters (or xn--, or non-ASCII); the TLD ends where
//     its letters do, so digits or CJK glued after it are not the address's
//     ("bob@example.com123-45-6789": an e-mail, then an SSN); letters glued before it
//     are taken into the local part. Not "@mention", "user@localhost", "a@b",
//     "icon@2x.png".
//   - phone: '+' or 00 and 8–15 digits (E.164; spaces, dashes, dots, parentheses);
//     North American (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567,
//     1-800-555-0199; numbers with a trunk 0 in groups (020 7946 0958, 01 23 45 67 89,
//     030/12345678). A bare run of digits is an id, not a phone (and an unformatted
//     phone number goes through); dates and versions are not phones. Letters may be
//     glued on either side; a North American number may be glued to digits before it
//     ("2024555-123-4567": its first group is the run's last 3 digits), not after.
//     Numbers with a trunk 0 or an 00 prefix are a weaker shape (hex hashes and UUIDs
//     hold them by chance): they stay word-bounded and outside UUIDs.
//   - us_ssn: AAA-GG-SSSS or AAA GG SSSS, with the ranges the SSA never issues rejected
//     (area 000, 666, 900–999; group 00; serial 0000). Nine bare digits are not taken:
//     too many ids look like that. Letters may be glued on either side; the dashed form
//     may be glued to digits on either side ("99123-45-678912": the area is the run's
//     last 3 digits, the serial the next run's first 4), but not as a part of a longer
//     dashed number ("1-123-45-6789-0").
//   - iban: a country code (75 countries), check digits and a BBAN of the country's
//     length, in one word or in groups of 4, whose mod-97 check is 1. Glued to letters
//     or digits, the country's length delimits it; it must then be upper-case (a
//     lower-case hex hash holds "de12…" by chance) and not inside a hex hash.
//   - ip_address: IPv4 dotted quads, not inside a longer dotted number (1.2.3.4.5, but a
//     four-part version is taken: it is a valid address), letters glued on either side
//     ("x10.1.2.3", "10.1.2.3abc") but for the word "v1.2.3.4" (a version); and IPv6 as
//     net/netip parses it (zones left out), glued to letters that are not hex digits
//     ("x2001:db8::1y"), and a network's address ending in "::" after two groups or
//     more ("2001:db8::/32"); not times (12:30:45), casts ('1'::int), "std::" or "::".
//   - aws_access_key: AKIA or ASIA and 16 upper-case letters or digits: the 20
//     characters delimit the key, so it is found glued to any text when the 16 hold a
//     digit (real ids nearly always do); 20 upper-case letters are taken only
//     word-bounded ("ASIAPACIFICREGIONSALES" is a word).
//   - github_token: ghp_, gho_, ghu_, ghs_, ghr_ and 36 letters and digits whose last 6
//     are the CRC32 of the first 30 in base62, as GitHub makes them: the length and the
//     checksum delimit the token, glued to anything; github_pat_ fine-grained tokens by
//     their prefix alone (they carry no public checksum), to the end of the word.
//   - jwt: three to five base64url segments from an "eyJ", whose header decodes to a
//     JSON object with "alg": that structure delimits it, so text glued before it does
//     not hide it (up to 16 base64url characters, and then a header within 1 KiB:
//     deeper inside a base64 blob an "eyJ" is the blob's).
//   - private_key: a PEM "-----BEGIN … PRIVATE KEY-----" block (RSA, EC, DSA, OPENSSH,
//     ENCRYPTED, PGP, PKCS#8) to its END line; when the END line is missing, to the end
//     of the value, of its JSON string or of its COPY field (failing closed).
//
// A value is read as a person reads it: fullwidth digits, letters and signs (U+FF01–
// FF5E, but for quotes, backslash, comma and backquote) as ASCII, Unicode hyphens and
// dashes (U+2010–2015, U+2212, U+FE58, U+FE63) as '-', Unicode spaces (NBSP,
// U+2000–200A, U+202F, U+3000) as ' ', and zero-width and format characters (U+200B–
// 200D, U+2060, U+FEFF, the soft hyphen U+00AD) skipped. Only a value holding one of
// these takes that slower path; the replacement covers every byte of the original
// value and keeps valid UTF-8 valid.
//
// The false-positive rate on ordinary values (order numbers, times, UUIDs, dates,
// versions, hashes, ISBNs, tracking numbers, prices, coordinates, sentences), class by
// class, is what TestOrdinaryValuesUntouched logs and bounds:
//
//	go test ./mask -run TestOrdinaryValuesUntouched -v
//
// # Modes
//
// Redact writes "[REDACTED:email]". Partial keeps the last 4 digits of cards, phones and
// SSNs and the last 4 characters of IBANs (separators kept: "**** **** **** 1111"; a
// value written in fullwidth digits keeps its last 4 as written), and the domain of
// e-mails ("***@example.com"; redacted when the domain holds another detector's value,
// "x@10.1.2.3.example"); it redacts the others. Hash writes "hmac:"
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
