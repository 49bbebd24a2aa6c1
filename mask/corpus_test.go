package mask_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/mask"
)

// leak is a line of testdata/leaks.txt: text holds secret, a value of detector.
type leak struct {
	line         int
	det          mask.Detector
	secret, text string
}

func readLeaks(t testing.TB) []leak {
	t.Helper()
	f, err := os.Open("testdata/leaks.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var leaks []leak
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		det, err := mask.ParseDetector(name)
		if err != nil {
			t.Fatalf("leaks.txt:%d: %v", n, err)
		}
		var fields [2]string
		for k := range fields {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("leaks.txt:%d: %v", n, err)
			}
			fields[k], _ = strconv.Unquote(q)
			rest = strings.TrimPrefix(rest[len(q):], " ")
		}
		if !strings.Contains(fields[1], fields[0]) {
			t.Fatalf("leaks.txt:%d: the text %q does not hold the secret %q", n, fields[1], fields[0])
		}
		leaks = append(leaks, leak{n, det, fields[0], fields[1]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return leaks
}

// TestLeakCorpus: every seeded secret is masked, in every mode, with every detector on
// and with its own alone. The leak count must be 0.
func TestLeakCorpus(t *testing.T) {
	leaks := readLeaks(t)
	if len(leaks) < 1000 {
		t.Fatalf("leaks.txt: %d lines, want the whole corpus", len(leaks))
	}
	count := 0
	for _, mode := range []mask.Mode{mask.Redact, mask.Partial, mask.Hash} {
		all := newMasker(t, mode, key1)
		for _, l := range leaks {
			alone, err := mask.New(&mask.Config{Detectors: []mask.Detector{l.det}, Mode: mode, HashKey: key1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []*mask.Masker{all, alone} {
				out, found, _ := m.Mask(nil, []byte(l.text))
				if strings.Contains(string(out), l.secret) || found[l.det] == 0 {
					count++
					t.Errorf("leaks.txt:%d: %s: %s not masked in %q: got %q (found %v)", l.line, mode, l.det, l.text, out, found)
				}
			}
		}
		if mode != mask.Redact {
			continue
		}
		// null: the value is withheld whole.
		nm := newMasker(t, mask.Null, nil)
		for _, l := range leaks {
			if _, _, null := nm.Mask(nil, []byte(l.text)); !null {
				count++
				t.Errorf("leaks.txt:%d: null mode: %q not withheld", l.line, l.text)
			}
		}
	}
	t.Logf("leak corpus: %d lines, %d leaks", len(leaks), count)
}

// TestCleanCorpus: nothing in testdata/clean.txt is masked. The false-positive count
// must be 0.
func TestCleanCorpus(t *testing.T) {
	data, err := os.ReadFile("testdata/clean.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := newMasker(t, mask.Redact, nil)
	lines, fp := 0, 0
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '"' {
			if line, err = strconv.Unquote(line); err != nil {
				t.Fatalf("clean.txt:%d: %v", n+1, err)
			}
		}
		lines++
		for _, f := range []func(dst, src []byte) ([]byte, mask.Counts, bool){m.Mask, m.MaskJSON} {
			out, found, _ := f(nil, []byte(line))
			if string(out) != line || found.Total() != 0 {
				fp++
				t.Errorf("clean.txt:%d: %q: got %q (found %v)", n+1, line, out, found)
			}
		}
	}
	t.Logf("clean corpus: %d lines, %d false positives", lines, fp)
}
