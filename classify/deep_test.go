package classify_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

// deepCase is a construct nested n levels deep.
type deepCase struct {
	name string
	sql  func(n int) string
	// leftDeep: the parser builds the nesting without growing its own stack (a chain of
	// binary or postfix operators), so nothing bounds the depth but the text's length.
	leftDeep bool
}

var deepCases = []deepCase{
	{"plus", func(n int) string { return "SELECT 1" + strings.Repeat("+1", n) }, true},
	{"concat", func(n int) string { return "SELECT 'a'" + strings.Repeat("||'a'", n) }, true},
	{"json", func(n int) string { return `SELECT '{}'::jsonb` + strings.Repeat("->'a'", n) }, true},
	{"cast", func(n int) string { return "SELECT 1" + strings.Repeat("::int", n) }, true},
	{"unary-minus", func(n int) string { return "SELECT " + strings.Repeat("- ", n) + "1" }, false},
	{"parentheses", func(n int) string { return "SELECT " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) }, false},
	{"not", func(n int) string { return "SELECT " + strings.Repeat("NOT ", n) + "true" }, false},
	{"array", func(n int) string { return "SELECT ARRAY" + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }, false},
	{"array-keyword", func(n int) string { return "SELECT " + strings.Repeat("ARRAY[", n) + "1" + strings.Repeat("]", n) }, false},
	{"subselect", func(n int) string { return strings.Repeat("SELECT (", n) + "SELECT 1" + strings.Repeat(")", n) }, false},
	{"case", func(n int) string {
		return "SELECT " + strings.Repeat("CASE WHEN true THEN ", n) + "1" + strings.Repeat(" END", n)
	}, false},
	{"function", func(n int) string { return "SELECT " + strings.Repeat("abs(", n) + "1" + strings.Repeat(")", n) }, false},
	{"in-list", func(n int) string { return "SELECT 1 IN (1" + strings.Repeat(",1", n) + ")" }, false},
	{"and", func(n int) string { return "SELECT true" + strings.Repeat(" AND true", n) }, false},
	{"or", func(n int) string { return "SELECT true" + strings.Repeat(" OR true", n) }, false},
	{"and-or", func(n int) string { return "SELECT true" + strings.Repeat(" AND true OR true", n) }, false},
	{"union", func(n int) string { return "SELECT 1" + strings.Repeat(" UNION SELECT 1", n) }, true},
	{"join", func(n int) string { return "SELECT * FROM t" + strings.Repeat(" JOIN t ON true", n) }, true},
}

// deepDepths are the depths every construct is tried at. A left-deep construct costs the
// C parser time in the square of its depth (protobuf-c sizes each level's subtree again),
// so those are tried at 30,000 (the attack that crashed the gateway, under 2 s) instead of
// 100,000 (15 s and more); the longest texts below are tried whole.
var deepDepths = []int{10, 1000, 10000, 100000}

// deepTexts are long texts, up to a few MB, flat or deep.
var deepTexts = []struct{ name, sql string }{
	{"plus-4900", "SELECT 1" + strings.Repeat("+1", 4900)}, // just under the decoder's limit: the deepest walk
	{"plus-30000", "SELECT 1" + strings.Repeat("+1", 30000)},
	{"in-list-100000", "SELECT 1 IN (1" + strings.Repeat(",1", 100000) + ")"},
	{"statements-50000", strings.Repeat("SELECT 1;", 50000)},
	{"plus-1MB", "SELECT 1" + strings.Repeat("+1", 500000)},
	{"plus-3MB", "SELECT 1" + strings.Repeat("+1", 1500000)},
	{"parentheses-3MB", "SELECT " + strings.Repeat("(", 1500000) + "1" + strings.Repeat(")", 1500000)},
	{"array-2MB", "SELECT ARRAY" + strings.Repeat("[", 1000000) + "1" + strings.Repeat("]", 1000000)},
}

const deepChildEnv = "HOOP_DEEP_NESTING_CHILD"

// TestDeepNestingDoesNotCrash: the attack is a statement nested deeply enough to overflow
// the parser's stack: SELECT 1+1+...+1 with 30,000 terms (60 KB) crashed hoopd with
// SIGSEGV in the cgo parser, dropping every tunnel of every user. For each parser, a child
// process (a crash would kill the test binary) with thread stacks of 2 MiB, the smallest
// default (glibc under ulimit -s unlimited), classifies every construct above at every
// depth, and the long texts, with the gateway's options (the normalizer too). The test
// proves that the child survives them all, that shallow texts still classify, and that
// what cannot be analysed is an error wrapping ErrTooComplex or an unparsed (admin)
// statement: never a crash, never a class below admin for a text the parser gave up on.
func TestDeepNestingDoesNotCrash(t *testing.T) {
	if name := os.Getenv(deepChildEnv); name != "" {
		deepChild(name)
		return
	}
	if testing.Short() {
		t.Skip("long texts: several seconds")
	}
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", `ulimit -s 2048 && exec "$0" "$@"`, os.Args[0], "-test.run=^TestDeepNestingDoesNotCrash$", "-test.count=1")
			cmd.Env = append(os.Environ(), deepChildEnv+"="+p.name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the child classifying deep texts with the %s parser died: %v\n%s", p.name, err, lastLines(out, 30))
			}
			checkDeep(t, p.name, out)
		})
	}
}

// deepChild classifies every case and prints one line per case: "name depth outcome".
func deepChild(name string) {
	var p parser
	for _, q := range parsers {
		if q.name == name {
			p = q
		}
	}
	c := classify.New(p.parse, 0)
	if name == "native" {
		c = classify.New(p.parse, 64, classify.WithNormalizer(gatewayNormalizer))
	}
	say := func(label string, depth int, sql string) {
		sts, err := c.Classify(sql)
		switch {
		case errors.Is(err, classify.ErrTooComplex):
			fmt.Printf("RESULT %s %d too-complex\n", label, depth)
		case err != nil:
			fmt.Printf("RESULT %s %d error %q\n", label, depth, err.Error())
		case len(sts) == 0:
			fmt.Printf("RESULT %s %d none\n", label, depth)
		default:
			top := sts[0].Class
			for _, st := range sts {
				if st.Class == policy.Admin {
					top = policy.Admin
				}
			}
			fmt.Printf("RESULT %s %d %s\n", label, depth, top)
		}
	}
	for _, d := range deepDepths {
		for _, dc := range deepCases {
			if dc.leftDeep && d > 30000 {
				continue
			}
			say(dc.name, d, dc.sql(d))
		}
	}
	for _, tx := range deepTexts {
		say(tx.name, len(tx.sql), tx.sql)
	}
	fmt.Println("DONE")
}

func checkDeep(t *testing.T, parser string, out []byte) {
	t.Helper()
	if !bytes.Contains(out, []byte("\nDONE\n")) {
		t.Fatalf("the child did not finish:\n%s", lastLines(out, 30))
	}
	results := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != "RESULT" {
			continue
		}
		results++
		name, outcome := f[1], f[3]
		depth, _ := strconv.Atoi(f[2])
		switch {
		case depth == 10 && outcome != string(policy.Read):
			// Shallow texts classify as before; for the WebAssembly parser, which gives up
			// for good after its first overflow, only these are sure to come first.
			t.Errorf("%s: %s at depth 10: got %s, want read", parser, name, outcome)
		case parser != "native":
			// The WebAssembly parser: anything but a crash, and nothing below admin once
			// it gave up (it fails closed).
			if outcome != string(policy.Read) && outcome != string(policy.Admin) && outcome != "too-complex" {
				t.Errorf("%s: %s at depth %d: got %s", parser, name, depth, strings.Join(f[3:], " "))
			}
		case (depth == 1000 || name == "plus-4900") && outcome != string(policy.Read):
			t.Errorf("%s: %s at depth 1000: got %s, want read", parser, name, outcome)
		case (name == "plus-30000" || name == "plus-1MB" || name == "plus-3MB" || name == "array-2MB") && outcome != "too-complex":
			t.Errorf("%s: %s: got %s, want too-complex", parser, name, outcome)
		case outcome != string(policy.Read) && outcome != "too-complex":
			// The gateway's parser reads it, or says it is too complex: a deep text is
			// never left to the policy as an unparsed admin statement.
			t.Errorf("%s: %s at depth %d: got %s, want read or too-complex", parser, name, depth, strings.Join(f[3:], " "))
		}
	}
	want := len(deepTexts)
	for _, d := range deepDepths {
		for _, dc := range deepCases {
			if !dc.leftDeep || d <= 30000 {
				want++
			}
		}
	}
	if results != want {
		t.Errorf("%s: got %d results, want %d", parser, results, want)
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
