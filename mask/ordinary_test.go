package mask_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hoopgw/hoop/mask"
)

// ordinaryClass is a kind of ordinary value, its generator, and the highest share of
// its values the detectors may mask (0 for values no detector should ever take).
type ordinaryClass struct {
	name    string
	gen     func(r *rand.Rand) string
	maxRate float64
}

func digitsN(r *rand.Rand, n int) string {
	b := make([]byte, n)
	b[0] = byte('1' + r.IntN(9))
	for k := 1; k < n; k++ {
		b[k] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func hexN(r *rand.Rand, n int, upper bool) string {
	const lower, up = "0123456789abcdef", "0123456789ABCDEF"
	set := lower
	if upper {
		set = up
	}
	b := make([]byte, n)
	for k := range b {
		b[k] = set[r.IntN(16)]
	}
	return string(b)
}

func uuidOf(r *rand.Rand, upper bool) string {
	h := hexN(r, 32, upper)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isbn13 returns a valid ISBN-13 with hyphens.
func isbn13(r *rand.Rand) string {
	d := "978" + digitsN(r, 9)
	sum := 0
	for k, c := range d {
		w := 1
		if k%2 == 1 {
			w = 3
		}
		sum += w * int(c-'0')
	}
	check := (10 - sum%10) % 10
	return fmt.Sprintf("%s-%s-%s-%s-%d", d[:3], d[3:4], d[4:8], d[8:12], check)
}

// ordinaryClasses are the ordinary values of TestOrdinaryValuesUntouched. The rates
// allowed for bare digit runs are what the card rule costs by design: a run of 13–19
// digits starting with 2–9 that passes the Luhn check is a card number, glued or not.
var ordinaryClasses = []ordinaryClass{
	{"order number 8-25 digits", func(r *rand.Rand) string { return digitsN(r, 8+r.IntN(18)) }, 0.04},
	{"order number glued to a prefix", func(r *rand.Rand) string {
		return pick(r, []string{"ORD", "INV", "order#", "id", "PO-", "#", "x"}) + digitsN(r, 8+r.IntN(18))
	}, 0.04},
	{"order number in a sentence", func(r *rand.Rand) string {
		return "Your order " + digitsN(r, 8+r.IntN(18)) + " has shipped."
	}, 0.04},
	{"unix time ms", func(r *rand.Rand) string { return fmt.Sprint(1_000_000_000_000 + r.Int64N(1_000_000_000_000)) }, 0},
	{"unix time ns", func(r *rand.Rand) string { return fmt.Sprint(1_600_000_000_000_000_000 + r.Int64N(1e17)) }, 0},
	{"uuid", func(r *rand.Rand) string { return uuidOf(r, false) }, 0},
	{"uuid upper", func(r *rand.Rand) string { return uuidOf(r, true) }, 0},
	{"uuid all digits", func(r *rand.Rand) string {
		d := digitsN(r, 32)
		return d[:8] + "-" + d[8:12] + "-" + d[12:16] + "-" + d[16:20] + "-" + d[20:]
	}, 0},
	{"iso date", func(r *rand.Rand) string {
		return fmt.Sprintf("%04d-%02d-%02d", 1900+r.IntN(200), 1+r.IntN(12), 1+r.IntN(28))
	}, 0},
	{"iso timestamp", func(r *rand.Rand) string {
		return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", 1990+r.IntN(50), 1+r.IntN(12), 1+r.IntN(28),
			r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000))
	}, 0},
	{"postgres timestamptz", func(r *rand.Rand) string {
		return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+%02d", 1990+r.IntN(50), 1+r.IntN(12), 1+r.IntN(28),
			r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e6), r.IntN(13))
	}, 0},
	{"compact timestamp", func(r *rand.Rand) string {
		return fmt.Sprintf("%04d%02d%02d%02d%02d%02d", 1990+r.IntN(50), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	}, 0},
	{"version", func(r *rand.Rand) string {
		return fmt.Sprintf("v%d.%d.%d", r.IntN(30), r.IntN(100), r.IntN(1000))
	}, 0},
	{"version with build", func(r *rand.Rand) string {
		return fmt.Sprintf("release-%d.%d.%d-rc%d+build.%d", r.IntN(30), r.IntN(100), r.IntN(1000), r.IntN(10), r.IntN(100000))
	}, 0},
	{"md5", func(r *rand.Rand) string { return hexN(r, 32, false) }, 0},
	{"sha1", func(r *rand.Rand) string { return hexN(r, 40, false) }, 0},
	{"sha256", func(r *rand.Rand) string { return hexN(r, 64, false) }, 0},
	{"sha256 upper", func(r *rand.Rand) string { return hexN(r, 64, true) }, 0},
	// "00" and 10 digits is an international number (0044…): 1 in 20000 here.
	{"git short sha in text", func(r *rand.Rand) string { return "fixed in " + hexN(r, 7, false) + " and " + hexN(r, 12, false) }, 0.0001},
	{"isbn", isbn13, 0},
	{"ups tracking", func(r *rand.Rand) string { return "1Z" + hexN(r, 6, true) + digitsN(r, 10) }, 0},
	{"usps tracking", func(r *rand.Rand) string { return "9400" + digitsN(r, 18) }, 0},
	{"price", func(r *rand.Rand) string {
		return fmt.Sprintf("%s%d.%02d", pick(r, []string{"$", "EUR ", "€", "USD", "£"}), r.IntN(100000), r.IntN(100))
	}, 0},
	{"price with thousands", func(r *rand.Rand) string {
		return fmt.Sprintf("%d,%03d,%03d.%02d", 1+r.IntN(999), r.IntN(1000), r.IntN(1000), r.IntN(100))
	}, 0},
	{"coordinates", func(r *rand.Rand) string {
		return fmt.Sprintf("%.6f,%.6f", r.Float64()*180-90, r.Float64()*360-180)
	}, 0},
	{"sentence", func(r *rand.Rand) string {
		return fmt.Sprintf("%s %s bought %d items for %d.%02d EUR on %04d-%02d-%02d at %02d:%02d",
			pick(r, firstNames), pick(r, lastNames), 1+r.IntN(20), r.IntN(1000), r.IntN(100),
			2000+r.IntN(30), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60))
	}, 0},
	{"sku and words", func(r *rand.Rand) string {
		return fmt.Sprintf("SKU%d-%04d-%02d size%dx%d rev%d", r.IntN(100), r.IntN(10000), r.IntN(100), r.IntN(200), r.IntN(200), r.IntN(100))
	}, 0},
	{"base64", func(r *rand.Rand) string {
		const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		b := make([]byte, 44)
		for k := range b {
			b[k] = b64[r.IntN(64)]
		}
		return string(b)
	}, 0},
}

// TestOrdinaryValuesUntouched: ordinary values that look like numbers, ids and codes
// (order numbers, times, UUIDs, dates, versions, hashes, ISBNs, tracking numbers,
// prices, coordinates, sentences) stay unmasked, each class within its allowed rate
// (0 for every class but bare runs of digits, where a Luhn-valid 13–19 digit run is a
// card by design). It logs the rate of each class: the false-positive figures.
//
//	go test ./mask -run TestOrdinaryValuesUntouched -v
func TestOrdinaryValuesUntouched(t *testing.T) {
	m := newMasker(t, mask.Redact, nil)
	const n = 20000
	total, masked := 0, 0
	for k, c := range ordinaryClasses {
		r := rand.New(rand.NewPCG(42, uint64(k)))
		hit := 0
		var example string
		for range n {
			v := c.gen(r)
			out, found, _ := m.Mask(nil, []byte(v))
			if found.Total() != 0 {
				hit++
				if example == "" {
					example = fmt.Sprintf("%q → %q", v, out)
				}
			}
		}
		rate := float64(hit) / n
		total += n
		masked += hit
		t.Logf("%-32s %6.3f%% masked (%d of %d) %s", c.name, 100*rate, hit, n, example)
		if rate > c.maxRate {
			t.Errorf("%s: %.3f%% masked, want at most %.3f%%: %s", c.name, 100*rate, 100*c.maxRate, example)
		}
	}
	t.Logf("all ordinary values: %.3f%% masked (%d of %d)", 100*float64(masked)/float64(total), masked, total)
}
