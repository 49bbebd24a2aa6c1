package classify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

// FuzzClassify: whatever the text, Classify does not panic or fail, every statement gets a
// valid class, and each statement of a multi-statement text, alone, gets the same class.
// It uses the gateway's parser (the WebAssembly one without cgo).
//
//	go test ./classify -run '^$' -fuzz FuzzClassify -fuzztime 60s
func FuzzClassify(f *testing.F) {
	for _, tc := range classCases {
		f.Add(tc.sql)
	}
	f.Add("SELECT 1; DELETE FROM t; SET ROLE x")
	f.Add("WITH a AS (SELECT 1) SELECT * FROM a; COPY (DELETE FROM t RETURNING *) TO STDOUT")
	f.Add("SELECT touch_canary() FROM v_outer WHERE 1 === 2 AND x::money2 IS NULL")
	c := classify.New(fuzzParser.parse, 0)
	rv := classify.Resolver{Catalog: testCatalog(), Listed: listed}
	f.Fuzz(func(t *testing.T, sql string) {
		sts, err := c.Classify(sql)
		if errors.Is(err, classify.ErrTooComplex) {
			return // refused, as the gateway refuses it
		}
		if err != nil {
			if !errors.Is(err, classify.ErrInternal) {
				t.Fatalf("Classify(%q): %v, not ErrInternal", sql, err)
			}
			t.Fatalf("Classify(%q): %v", sql, err)
		}
		for _, st := range sts {
			checkStatement(t, sql, st)
			// The catalog's judgement of what it uses is a class too, with a reason.
			switch res := rv.Resolve(st.Refs); res.Class {
			case policy.Read:
			case policy.Write, policy.Admin:
				if res.Reason == "" {
					t.Errorf("Classify(%q): %q resolved %s without a reason", sql, st.Text, res.Class)
				}
			default:
				t.Fatalf("Classify(%q): %q resolved to class %q", sql, st.Text, res.Class)
			}
		}
		if len(sts) < 2 {
			return
		}
		for _, st := range sts {
			alone, err := c.Classify(st.Text)
			if errors.Is(err, classify.ErrTooComplex) {
				continue
			}
			if err != nil {
				t.Fatalf("Classify(%q): %v", st.Text, err)
			}
			if len(alone) != 1 || alone[0].Class != st.Class || alone[0].Always != st.Always {
				t.Errorf("in %q, %q is %s (always %v), but alone it is %+v", sql, st.Text, st.Class, st.Always, alone)
			}
		}
	})
}

func checkStatement(t *testing.T, sql string, st classify.Statement) {
	t.Helper()
	switch st.Class {
	case policy.Read, policy.Write, policy.DDL, policy.Admin:
	default:
		t.Fatalf("Classify(%q): statement %q has class %q", sql, st.Text, st.Class)
	}
	if st.Always && st.Class != policy.Read {
		t.Errorf("Classify(%q): %q is always allowed but %s", sql, st.Text, st.Class)
	}
	if st.Executes != "" && st.Class != policy.Admin {
		t.Errorf("Classify(%q): %q executes %q but is %s", sql, st.Text, st.Executes, st.Class)
	}
	if st.Fetches != "" && st.Class != policy.Admin {
		t.Errorf("Classify(%q): %q fetches %q but is %s", sql, st.Text, st.Fetches, st.Class)
	}
	if st.Kind == "" {
		t.Errorf("Classify(%q): %q has no kind", sql, st.Text)
	}
}

// FuzzDeepNesting: the attack is a statement nested deeply enough to overflow the
// parser's stack (SELECT 1+1+...+1 with 30,000 terms crashed the gateway). The fuzzer
// nests its own pieces: head, open repeated n times, core, close repeated n times, so that
// every construct (operators, parentheses, ARRAY, subselects, NOT, CASE, JSON) is tried
// deep. Classify must neither crash nor fail: a text it cannot analyse is ErrTooComplex
// or an unparsed admin statement. go test runs the seeds (testdata/fuzz/FuzzDeepNesting).
//
//	go test ./classify -run '^$' -fuzz FuzzDeepNesting -fuzztime 60s
func FuzzDeepNesting(f *testing.F) {
	f.Add("SELECT ", "", "1", "+1", uint16(30000)) // the attack; the others are in testdata
	c := classify.New(fuzzParser.parse, 16, classify.WithNormalizer(gatewayNormalizer))
	if gatewayNormalizer == nil {
		c = classify.New(fuzzParser.parse, 0)
	}
	f.Fuzz(func(t *testing.T, head, open, core, close string, n uint16) {
		if len(head)+int(n)*(len(open)+len(close))+len(core) > 4<<20 {
			return // longer than any statement the gateway lets through
		}
		sql := head + strings.Repeat(open, int(n)) + core + strings.Repeat(close, int(n))
		sts, err := c.Classify(sql)
		if errors.Is(err, classify.ErrTooComplex) {
			return
		}
		if err != nil {
			t.Fatalf("Classify(%.100q... %d bytes): %v", sql, len(sql), err)
		}
		for _, st := range sts {
			checkStatement(t, sql, st)
		}
	})
}
