package classify_test

import (
	"testing"

	"github.com/hoopgw/hoop/classify"
)

// benchCorpus is real statements: what pgbench -S, psql's meta-commands, GUI clients and
// analysts send, one text per statement.
func benchCorpus(b *testing.B) []string {
	b.Helper()
	c := classify.New(parsers[0].parse, 0)
	texts := []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
		"SELECT abalance FROM pgbench_accounts WHERE aid = 74316",
		"BEGIN", "COMMIT", "SET application_name = 'psql'",
		"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
		"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
	}
	for _, file := range []string{"testdata/analytics.sql", "testdata/dbeaver.sql"} {
		sts, err := c.Classify(readFile(b, file))
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range sts {
			texts = append(texts, st.Text)
		}
	}
	for _, e := range readPsqlMetaTB(b) {
		texts = append(texts, e.sql)
	}
	return texts
}

// BenchmarkClassify measures parse + classify per statement, without the cache (every
// text new, as pgbench -M simple's literals are) and with it (a repeated text), for each
// parser. parse-only is the parser alone, for the walk's share.
//
//	go test ./classify -run '^$' -bench Classify -benchmem
func BenchmarkClassify(b *testing.B) {
	corpus := benchCorpus(b)
	for _, p := range parsers {
		p.parse("SELECT 1") // the WebAssembly parser compiles its module on first use
		b.Run(p.name+"/parse-only", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := p.parse(corpus[i%len(corpus)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/uncached", func(b *testing.B) {
			c := classify.New(p.parse, 0)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Classify(corpus[i%len(corpus)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/cached", func(b *testing.B) {
			c := classify.New(p.parse, 2*len(corpus))
			for _, q := range corpus {
				c.Classify(q)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.Classify(corpus[i%len(corpus)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// pgbench -S in simple mode: the one statement it sends, short and always new.
	const pgbench = "SELECT abalance FROM pgbench_accounts WHERE aid = 74316;"
	b.Run("pgbench-S/"+parsers[0].name+"/parse-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parsers[0].parse(pgbench); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pgbench-S/"+parsers[0].name+"/uncached", func(b *testing.B) {
		c := classify.New(parsers[0].parse, 0)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Classify(pgbench); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResolve measures judging a statement's refs against a snapshot the size of a
// real database's built-ins, for the corpus: what the gateway adds to every read.
//
//	go test ./classify -run '^$' -bench Resolve -benchmem
func BenchmarkResolve(b *testing.B) {
	c := classify.New(parsers[0].parse, 0)
	var refs [][]classify.Ref
	for _, text := range benchCorpus(b) {
		sts, err := c.Classify(text)
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range sts {
			refs = append(refs, st.Refs)
		}
	}
	rv := classify.Resolver{Catalog: classify.Builtins(), Listed: func(string, string) bool { return false }}
	b.Run("corpus", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rv.Resolve(refs[i%len(refs)])
		}
	})
	b.Run("pgbench-S", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rv.Resolve(refs[0])
		}
	})
}
