package mask_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/mask"
)

var (
	firstNames = []string{"Jane", "John", "Amélie", "Ørjan", "Wei", "Fatima", "Carlos", "Yuki", "Olga", "Kwame"}
	lastNames  = []string{"Doe", "Smith", "Poulain", "Håland", "Zhang", "Al-Sayed", "García", "Tanaka", "Ivanova", "Mensah"}
	streets    = []string{"Rue de Rivoli", "Baker Street", "Friedrichstraße", "Fifth Avenue", "Calle Mayor", "Via Roma"}
	cities     = []string{"75001 Paris", "London NW1 6XE", "10117 Berlin", "New York, NY 10118", "28013 Madrid", "00184 Roma"}
	products   = []string{"Ergonomic office chair with walnut finish and breathable back",
		"Stainless steel water bottle, keeps drinks cold for 24 hours", "Organic green tea, harvested in spring, loose leaf",
		"Running shoes with breathable mesh upper and recycled sole", "27 inch monitor, HDMI and USB-C, height adjustable",
		"Laptop stand, adjustable from 15 to 45 degrees, folds flat", "Pack of AA batteries, shelf life 10 years"}
	statuses = []string{"shipped", "pending", "delivered", "returned", "cancelled"}
	tiers    = []string{"gold tier, prefers e-mail", "silver tier", "standard account, newsletter off", "business account"}
)

// cleanValues returns about size bytes of realistic clean values of about 100 bytes,
// the text columns of a table of customers, orders and products: names and addresses,
// product descriptions, UUIDs, timestamps, amounts, ids.
func cleanValues(size int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	var vs [][]byte
	for total := 0; total < size; {
		var v string
		ts := fmt.Sprintf("2024-%02d-%02d %02d:%02d:%02d.%06d+00", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e6))
		uuid := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()&(1<<48-1))
		switch r.IntN(5) {
		case 0:
			v = fmt.Sprintf("%s %s, %d %s, %s; customer since %d, %s", pick(r, firstNames), pick(r, lastNames),
				1+r.IntN(300), pick(r, streets), pick(r, cities), 2000+r.IntN(25), pick(r, tiers))
		case 1:
			v = fmt.Sprintf("%s. %d in stock, ships from %s, %d.%02d EUR", pick(r, products), r.IntN(500),
				pick(r, cities), r.IntN(2000), r.IntN(100))
		case 2:
			v = fmt.Sprintf("order %s %s at %s, total %d.%02d", uuid, pick(r, statuses), ts, r.IntN(5000), r.IntN(100))
		case 3:
			v = fmt.Sprintf("%s updated by %s %s (id %d) on %s", uuid[:8], pick(r, firstNames), pick(r, lastNames), r.IntN(1e6), ts)
		default:
			v = fmt.Sprintf("%s; ships in %d-%d days; SKU %d-%04d-%02d; rated %d.%d/5", pick(r, products), 1+r.IntN(3),
				4+r.IntN(5), r.IntN(100), r.IntN(10000), r.IntN(100), 1+r.IntN(4), r.IntN(10))
		}
		vs = append(vs, []byte(v))
		total += len(v)
	}
	return vs
}

// denseValues is cleanValues with personal data or a secret in most values.
func denseValues(size int) [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	pii := []func() string{
		func() string {
			return fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(pick(r, firstNames)), strings.ToLower(pick(r, lastNames)), r.IntN(100))
		},
		func() string {
			return pick(r, []string{"4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"})
		},
		func() string { return fmt.Sprintf("+1 (%03d) 555-%04d", 200+r.IntN(700), r.IntN(10000)) },
		func() string { return fmt.Sprintf("%03d-%02d-%04d", 1+r.IntN(665), 1+r.IntN(99), 1+r.IntN(9999)) },
		func() string { return "DE89 3704 0044 0532 0130 00" },
		func() string { return fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)) },
		func() string { return "AKIAIOSFODNN7EXAMPLE" },
		func() string { return ghp },
		func() string { return jwtRS256 },
	}
	vs := cleanValues(size)
	for k, v := range vs {
		if r.IntN(10) < 8 {
			s := string(v)
			cut := r.IntN(len(s) / 2)
			for cut > 0 && s[cut-1] != ' ' {
				cut--
			}
			vs[k] = []byte(s[:cut] + pick(r, pii)() + " " + s[cut:])
		}
	}
	return vs
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// benchValues masks vs value by value. Besides MB/s it reports MB/cpu-s, the same
// throughput in the thread's CPU time: steadier on a machine shared with other work.
func benchValues(b *testing.B, m *mask.Masker, vs [][]byte) {
	total := 0
	for _, v := range vs {
		total += len(v)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	dst := make([]byte, 0, 4096)
	found := 0
	cpu0, unlock := threadCPU()
	defer unlock()
	for b.Loop() {
		for _, v := range vs {
			_, c, _ := m.Mask(dst, v)
			found += c.Total()
		}
	}
	b.ReportMetric(float64(found)/float64(b.N)/float64(len(vs)), "found/value")
	if cpu1, _ := threadCPU(); cpu1 > cpu0 {
		b.ReportMetric(float64(total)*float64(b.N)/(cpu1-cpu0).Seconds()/1e6, "MB/cpu-s")
	}
}

// BenchmarkClean: 1 MiB of clean values of about 100 bytes, every detector on, value by
// value. Target: 1 GB/s on one core.
//
//	go test ./mask -run '^$' -bench . -benchmem
func BenchmarkClean(b *testing.B) {
	benchValues(b, newMasker(b, mask.Redact, nil), cleanValues(1<<20))
}

// BenchmarkCleanASCII: BenchmarkClean with every non-ASCII letter of the values
// spelled 'e': the path of values without a byte ≥ 0x80.
func BenchmarkCleanASCII(b *testing.B) {
	vs := cleanValues(1 << 20)
	for k, v := range vs {
		vs[k] = []byte(strings.Map(func(r rune) rune {
			if r >= 0x80 {
				return 'e'
			}
			return r
		}, string(v)))
	}
	benchValues(b, newMasker(b, mask.Redact, nil), vs)
}

// BenchmarkDense: the same with personal data or a secret in 8 values of 10. Target:
// 200 MB/s on one core.
func BenchmarkDense(b *testing.B) {
	for _, mode := range []mask.Mode{mask.Redact, mask.Partial, mask.Hash} {
		b.Run(string(mode), func(b *testing.B) {
			benchValues(b, newMasker(b, mode, key1), denseValues(1<<20))
		})
	}
}

// BenchmarkWorstCase: inputs made of the triggers themselves, to show the scan stays
// linear (no validator rescans what another has read).
func BenchmarkWorstCase(b *testing.B) {
	for _, tc := range []struct{ name, unit string }{
		{"digits", "1234 "},
		{"dashed-digits", "12-"},
		{"colons", "a1:"},
		{"at", "a@"},
		{"eyJ", "eyJ"},
		{"ghp", "ghp_"},
		{"AKIA", "AKIA"},
		{"private-key", "-----BEGIN PRIVATE KEY"},
		{"backslashes", `\\n1`},
		{"dots", "1.2."},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := []byte(strings.Repeat(tc.unit, (64<<10)/len(tc.unit)))
			benchValues(b, newMasker(b, mask.Redact, nil), [][]byte{v})
		})
	}
}
