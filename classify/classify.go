package classify

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/hoopgw/hoop/policy"
)

// Parser parses SQL text, which may hold several statements, into PostgreSQL's raw parse
// tree. classify/native (cgo, for the gateway) and classify/wasm (pure Go, for the CLI)
// provide one each; both must be safe for concurrent use. An error means the text does
// not parse; its message is shown to the user ("syntax error at or near ...").
type Parser func(sql string) (*pg_query.ParseResult, error)

// Statement is one statement of a SQL text and its class.
type Statement struct {
	Text   string       // this statement's own text, without the ';': "DELETE FROM users WHERE id = 1"
	Class  policy.Class // policy.Read, policy.Write, policy.DDL or policy.Admin
	Always bool         // transaction control or a harmless SET: allowed whatever the policy (Class is read)
	Kind   string       // a command tag: "SELECT", "INSERT", "BEGIN", "SET", "COPY", "CREATE TABLE"
	Tables []string     // relations it names, as written, in order: ["public.users", "orders"]
	Reason string       // why it got its class, when that is not obvious: "DELETE inside a WITH"
	// Executes is the prepared statement an EXECUTE runs: "get_user". Its text alone cannot
	// be classified, so Class is admin; the engine should use the class that PREPARE (or a
	// protocol-level Parse) recorded for that name instead. It is set only when EXECUTE's
	// arguments are themselves read-only expressions, so that nothing is lost by the swap.
	Executes string
	// Prepares is the name a PREPARE gives its statement: "get_user"; Class is that
	// statement's, which the engine records for a later EXECUTE.
	Prepares string
	// Deallocates is the prepared statement a DEALLOCATE drops: "get_user"; DeallocatesAll
	// is set instead for DEALLOCATE ALL and DISCARD ALL, which drop every named one.
	Deallocates    string
	DeallocatesAll bool
	// Declares is the cursor a DECLARE opens: "c"; Class is its query's, which each FETCH
	// of the cursor runs more of. Hold is set for a cursor WITH HOLD, which outlives its
	// transaction.
	Declares string
	Hold     bool
	// Fetches is the cursor a FETCH or MOVE runs more of: "c". Its text alone cannot tell
	// what that runs, so Class is admin; the engine should use the class that DECLARE (or
	// the statement a protocol-level Bind made the portal from) recorded for that name.
	Fetches string
	// Closes is the cursor a CLOSE closes: "c"; ClosesAll is set instead for CLOSE ALL and
	// DISCARD ALL.
	Closes    string
	ClosesAll bool
	// Refs are the functions, operators, casts and relations the statement uses whose
	// class depends on what the database defines them to be: a user's function may UPDATE
	// (catalog.go). Class does not count them: Resolver.Resolve judges them against the
	// database's catalog. The explicit classes of funcs.go (dblink, set_config, ...) are
	// in Class, not here.
	Refs []Ref
}

// Sentinel errors.
var (
	// ErrInternal is returned (wrapped) by Classify when the classifier itself failed, for
	// example on a parse tree it could not walk. The caller must refuse the statement.
	ErrInternal = errors.New("classify: internal error")
	// ErrTooComplex is wrapped by a Parser's error, and returned (wrapped) by Classify, for
	// a text the parser cannot analyse safely: nested deeper than its stack or the tree's
	// decoder allow, or longer than it accepts. The caller must refuse the text; the error
	// says which limit it passed.
	ErrTooComplex = errors.New("the statement is too complex for the gateway to analyse")
)

// TooDeep is what a Parser says, after ErrTooComplex, of a tree nested deeper than
// protobuf's decoder accepts (10,000 messages), which also bounds every walk over it.
const TooDeep = "it is nested too deeply (more than 10000 levels of parse tree)"

// ParserStackFull is what a Parser says, after ErrTooComplex, when PostgreSQL's grammar ran
// out of its own stack (its "memory exhausted" error: 10,000 entries): a text nested that
// deeply, in parentheses, NOT or subqueries, does not parse in PostgreSQL either.
const ParserStackFull = "it is nested too deeply for PostgreSQL's grammar (more than 10000 levels)"

// maxCachedLen is the longest text the cache keeps: a long text rarely repeats, and
// keeping thousands of them would hold a lot of memory.
const maxCachedLen = 32 << 10

// Classifier classifies SQL texts, remembering the results for the most recent distinct
// texts. It is safe for concurrent use.
type Classifier struct {
	parse Parser
	cache *lru // nil when caching is off

	normalize Normalizer // nil: no sharing by shape
	shapes    *lru       // normalized text → the one statement it classified as
}

// Normalizer replaces the constants of a SQL text with placeholders ($1, $2, ...), with
// PostgreSQL's own scanner, so that texts differing only in constants normalize alike.
type Normalizer func(sql string) (string, error)

// Option configures a Classifier.
type Option func(*Classifier)

// WithNormalizer shares results between texts that differ only in constants, for the
// statements whose class cannot depend on a constant's value (see shareable): a client that
// sends its values as literals (pgbench's simple mode, many ORMs) then skips the parser.
// It needs a cache.
func WithNormalizer(n Normalizer) Option { return func(c *Classifier) { c.normalize = n } }

// New returns a Classifier that parses with p and caches the results for up to cacheSize
// distinct texts (no cache when cacheSize <= 0).
func New(p Parser, cacheSize int, opts ...Option) *Classifier {
	c := &Classifier{parse: p}
	for _, o := range opts {
		o(c)
	}
	if cacheSize > 0 {
		c.cache = newLRU(cacheSize)
		if c.normalize != nil {
			c.shapes = newLRU(cacheSize)
		}
	}
	return c
}

// shareable reports whether a text's classification holds for every text with the same
// normalized form: one statement of a kind whose class the walk never takes from a
// constant's value (only SET, transaction options and EXPLAIN options do that), and that
// names no prepared statement.
func shareable(sts []Statement) bool {
	if len(sts) != 1 || sts[0].Executes != "" || sts[0].Prepares != "" || sts[0].Deallocates != "" || sts[0].DeallocatesAll ||
		sts[0].Declares != "" || sts[0].Fetches != "" || sts[0].Closes != "" || sts[0].ClosesAll {
		return false
	}
	switch sts[0].Kind {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE":
		return true
	}
	return false
}

// singleText is a one-statement text without its surrounding blanks and final ';'.
func singleText(sql string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sql), ";"))
}

// Classify splits sql into its statements and classifies each one. A text that does not
// parse gives one admin Statement whose Reason starts with "does not parse: " (fail
// closed); an empty text, or one with only comments, gives none. The error is for a text
// too complex to analyse (ErrTooComplex) or a failure of the classifier itself
// (ErrInternal); on either the caller must refuse the text.
// The returned slice belongs to the caller.
func (c *Classifier) Classify(sql string) ([]Statement, error) {
	cacheable := c.cache != nil && len(sql) <= maxCachedLen && strings.IndexByte(sql, 0) < 0
	if cacheable {
		if sts, ok := c.cache.get(sql); ok {
			return clone(sts), nil
		}
	}
	var shape string
	if cacheable && c.shapes != nil {
		if key, err := c.normalize(sql); err == nil {
			shape = key
			if sts, ok := c.shapes.get(shape); ok {
				out := clone(sts)
				out[0].Text = singleText(sql)
				return out, nil
			}
		}
	}
	sts, err := c.classify(sql)
	if err != nil {
		return nil, err
	}
	if cacheable {
		// The caches keep their own copies: the caller may change what it gets.
		c.cache.add(sql, clone(sts))
		if shape != "" && shareable(sts) {
			c.shapes.add(shape, clone(sts))
		}
	}
	return sts, nil
}

func (c *Classifier) classify(sql string) (sts []Statement, err error) {
	if strings.IndexByte(sql, 0) >= 0 {
		// PostgreSQL's messages end a query at a NUL byte, and so does the C parser: what
		// follows it is seen by neither, but a caller might pass it on.
		return []Statement{unparsed(sql, "the text holds a NUL byte")}, nil
	}
	if c.parse == nil {
		return nil, fmt.Errorf("%w: no parser", ErrInternal)
	}
	tree, perr := c.parse(sql)
	if errors.Is(perr, ErrTooComplex) {
		return nil, perr
	}
	if perr != nil {
		return []Statement{unparsed(sql, perr.Error())}, nil
	}
	if tree == nil {
		return nil, fmt.Errorf("%w: the parser returned no tree", ErrInternal)
	}
	defer func() {
		if r := recover(); r != nil {
			sts, err = nil, fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	if len(tree.ProtoReflect().GetUnknown()) != 0 {
		return []Statement{unparsed(sql, "the parse tree has fields this classifier does not know")}, nil
	}
	sts = make([]Statement, 0, len(tree.GetStmts()))
	for _, raw := range tree.GetStmts() {
		sts = append(sts, classifyRaw(sql, raw))
	}
	return sts, nil
}

// unparsed is the fail-closed result for a text the classifier cannot read.
func unparsed(sql, why string) Statement {
	return Statement{
		Text:   strings.TrimSpace(sql),
		Class:  policy.Admin,
		Kind:   "UNKNOWN",
		Reason: "does not parse: " + why,
	}
}

// stmtText slices one statement's text out of the whole by the parser's byte offsets; a
// length of 0 means "to the end".
func stmtText(sql string, raw *pg_query.RawStmt) string {
	start, n := int(raw.GetStmtLocation()), int(raw.GetStmtLen())
	if start < 0 || start > len(sql) {
		return strings.TrimSpace(sql)
	}
	end := len(sql)
	if n > 0 && start+n <= len(sql) {
		end = start + n
	}
	return strings.TrimSpace(sql[start:end])
}

// clone copies statements so that the copy shares nothing mutable with the original: all
// the Tables go in one backing array, so a clone costs two allocations.
func clone(sts []Statement) []Statement {
	if sts == nil {
		return nil
	}
	out := make([]Statement, len(sts))
	copy(out, sts)
	n := 0
	for i, st := range sts {
		n += len(st.Tables)
		if st.Refs != nil {
			out[i].Refs = slices.Clone(st.Refs)
		}
	}
	if n == 0 {
		return out
	}
	tables := make([]string, 0, n)
	for i := range out {
		if out[i].Tables == nil {
			continue
		}
		start := len(tables)
		tables = append(tables, out[i].Tables...)
		out[i].Tables = tables[start:len(tables):len(tables)]
	}
	return out
}

// Split returns the statements of a script, each as its own text, in order, without the
// semicolons between them: what hoop exec runs one by one. A script that does not parse
// is an error that says where.
func (p Parser) Split(sql string) ([]string, error) {
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, errors.New("the script holds a NUL byte")
	}
	tree, err := p(sql)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, raw := range tree.GetStmts() {
		if t := strings.TrimSuffix(stmtText(sql, raw), ";"); strings.TrimSpace(t) != "" {
			out = append(out, strings.TrimSpace(t))
		}
	}
	return out, nil
}
