package classify

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hoopgw/hoop/policy"
)

// A statement that the walk finds to only read may still run code the database defines:
// a user's function (which may UPDATE), the function behind a user's operator or cast, the
// query of a view, the row-level security policies of a table. The walk cannot judge those
// from the text: it lists them as Refs, and Catalog.Resolve judges them against a snapshot
// of the database's catalog (pg_proc, pg_language, pg_operator, pg_cast, pg_depend) that
// the gateway reads through its own upstream connection.
//
// The rule, for a function the database defines (not one of initdb's built-ins, whose
// classes are the explicit lists of funcs.go):
//   - a function the policy lists under functions.read is read;
//   - a VOLATILE function is write: it may change data;
//   - a function in a language other than sql and plpgsql is write, whatever its
//     volatility: PostgreSQL refuses writes in a STABLE or IMMUTABLE function only for
//     those two (a C, plpython or plperl function marked IMMUTABLE can still write);
//   - a STABLE or IMMUTABLE sql or plpgsql function is read, and so is a STABLE or
//     IMMUTABLE member of a trusted extension (citext's = operator is C); unless its
//     source names a function that may write (it may call it: PostgreSQL does not stop
//     that), or, in plpgsql, runs EXECUTE;
//   - an aggregate is judged by its support functions (transition, final, combine, ...);
//   - a function the snapshot does not know, or a snapshot that could not be loaded, is
//     write: fail closed.
//
// Resolution is that of PostgreSQL, made strict where the raw parse tree cannot know: an
// unqualified name may resolve to a function of that name in any schema (the session may
// change its search_path), so every candidate with that name and a compatible number of
// arguments (defaults and VARIADIC counted) is judged, and the strictest wins; a qualified
// name is looked up in its schema only.

// RefKind says what a Ref names.
type RefKind uint8

const (
	// RefFunction is a function call: touch_canary(), public.report(1, 2).
	RefFunction RefKind = iota + 1
	// RefAttribute is a name used as a field, t.f, which PostgreSQL reads as the call f(t)
	// when t is a row and no column f exists: a call when a function of that name exists.
	RefAttribute
	// RefOperator is an operator: a === b, OPERATOR(public.===).
	RefOperator
	// RefCast is a cast to a type: x::money2, CAST(x AS public.money2).
	RefCast
	// RefRelation is a relation read: a view runs its query, a table its row-level
	// security policies.
	RefRelation
)

// Ref is a name a statement uses for code that the database defines.
type Ref struct {
	Kind   RefKind
	Schema string // "public"; "" when unqualified
	Name   string // "touch_canary", "===", "money2", "orders_v"
	Args   int    // the number of arguments of a call, 1 or 2 for an operator
	// Harmless marks a call of set_config that sets a setting anyone may SET
	// (set_config('search_path', '', false), as pg_dump sends): PostgreSQL's own
	// set_config is read there; a function of the database's own of that name is judged
	// as any other.
	Harmless bool
}

func (r Ref) String() string {
	name := r.Name
	if r.Schema != "" {
		name = r.Schema + "." + name
	}
	switch r.Kind {
	case RefFunction, RefAttribute:
		return name + "()"
	case RefOperator:
		return "operator " + name
	case RefCast:
		return "cast to " + name
	}
	return name
}

// FirstNormalOID is the first OID PostgreSQL gives an object made after initdb: below it
// are the built-ins.
const FirstNormalOID = 16384

// Function is one row of pg_proc, as the snapshot keeps it.
type Function struct {
	OID      uint32
	Schema   string // "public"
	Name     string // "touch_canary"
	Args     int    // pronargs
	Defaults int    // pronargdefaults
	Variadic bool   // provariadic <> 0
	Kind     byte   // prokind: 'f' function, 'a' aggregate, 'w' window, 'p' procedure
	Volatile byte   // provolatile: 'v', 's' or 'i'
	Language string // "sql", "plpgsql", "c", "internal", "plpython3u"
	// Body is the source of a STABLE or IMMUTABLE sql or plpgsql function (prosrc): such a
	// function cannot write itself, but may call one that does (PostgreSQL's
	// documentation: "not a completely bulletproof test"), so the names it mentions are
	// judged too. Empty for others.
	Body  string
	words []string // Body's identifiers, made by NewCatalog
	// Trusted is set for a member of an extension that PostgreSQL marks trusted (its
	// control file's trusted = true, for the installed version: citext, hstore, pgcrypto,
	// ...): code its authors and the PostgreSQL project vouch for, so that its STABLE and
	// IMMUTABLE functions are taken at their word whatever their language.
	Trusted bool
	// Extension is the extension it belongs to: "postgis"; "" for none. The policy may
	// take the STABLE and IMMUTABLE members of an extension at their word
	// (Resolver.Extensions).
	Extension string
	// Calls are the functions that run when it does, as far as the catalog records them:
	// an aggregate's support functions (transition, final, combine, ...), the functions
	// its argument defaults call (f(a int DEFAULT touch())), those a BEGIN ATOMIC body
	// calls, and the functions of the operators those use (pg_depend).
	Calls []uint32
}

// Builtin reports whether initdb made the function.
func (f *Function) Builtin() bool { return f.OID < FirstNormalOID }

func (f *Function) String() string { return f.Schema + "." + f.Name + "()" }

func (f *Function) hasCalls() bool { return len(f.Calls) > 0 }

// accepts reports whether a call with n arguments may resolve to f.
func (f *Function) accepts(n int) bool {
	if n <= f.Args && n >= f.Args-f.Defaults {
		return true
	}
	return f.Variadic && n >= f.Args-1
}

// Operator is one row of pg_operator.
type Operator struct {
	OID    uint32
	Schema string // "public"
	Name   string // "==="
	Args   int    // 1 for a prefix operator, 2 for a binary one
	Func   uint32 // oprcode: the function it calls
}

// Cast is a function that runs when a value is cast to a type: a cast WITH FUNCTION
// whose function is not a built-in, or a function a domain's CHECK constraint calls.
type Cast struct {
	Schema string // the target type's schema: "public"
	Type   string // the target type's name: "money2"
	Func   uint32 // castfunc
}

// Relation is a relation whose reading runs code: a view (its query) or a table with
// row-level security policies.
type Relation struct {
	OID       uint32
	Schema    string
	Name      string
	Functions []uint32 // functions its query or policies call, operators' functions included
	Relations []uint32 // relations its query reads, views among them
}

// Catalog is a snapshot of what the database defines, to judge a statement's Refs. It is
// not changed once made and is safe for concurrent use. A nil *Catalog is the CLI's,
// which has no database: built-in names are known from a list made from PostgreSQL, any
// other call is write, and the reason says the gateway decides by its catalog.
type Catalog struct {
	funcs      map[string][]*Function // by name
	byOID      map[uint32]*Function
	ops        map[string][]*Operator // by name
	casts      map[string][]Cast      // by type name
	types      map[string]bool        // built-in type names, for function-style casts: int4(x)
	builtinOps map[string]bool        // built-in operator names, when unchecked
	rels       map[string][]*Relation // by name
	relByOID   map[uint32]*Relation
	why        string // set when this is no snapshot: why, for reasons
	Version    string // where and when it was read, for reasons: "db-prod read at 12:00:01"
	unchecked  bool   // the built-in name list stands in for a snapshot
}

// NewCatalog makes a Catalog from the rows of a snapshot. types are the names of the
// built-in types (function-style casts such as int4(x) parse as function calls). The
// Catalog keeps funcs, ops and rels: the caller must not change them after.
func NewCatalog(funcs []Function, ops []Operator, casts []Cast, rels []Relation, types []string) *Catalog {
	c := &Catalog{
		funcs: make(map[string][]*Function, len(funcs)), byOID: make(map[uint32]*Function, len(funcs)),
		ops: make(map[string][]*Operator, len(ops)), casts: make(map[string][]Cast, len(casts)),
		types: make(map[string]bool, len(types)), rels: make(map[string][]*Relation, len(rels)),
		relByOID: make(map[uint32]*Relation, len(rels)),
	}
	for i := range funcs {
		f := &funcs[i]
		if f.Body != "" {
			f.words = slices.Compact(words(f.Body))
		}
		c.funcs[f.Name] = append(c.funcs[f.Name], f)
		c.byOID[f.OID] = f
	}
	for i := range ops {
		o := &ops[i]
		c.ops[o.Name] = append(c.ops[o.Name], o)
	}
	for _, k := range casts {
		c.casts[k.Type] = append(c.casts[k.Type], k)
	}
	for _, t := range types {
		c.types[t] = true
	}
	for i := range rels {
		r := &rels[i]
		c.rels[r.Name] = append(c.rels[r.Name], r)
		c.relByOID[r.OID] = r
	}
	return c
}

// Unavailable is the Catalog to use when the snapshot cannot be loaded: built-in names are
// known from the list made from PostgreSQL, every other call is write, and the reason
// says why ("the gateway could not read the catalog of db-prod: ...").
func Unavailable(why string) *Catalog {
	c := cliCatalog()
	return &Catalog{funcs: c.funcs, types: c.types, builtinOps: c.builtinOps, why: why, unchecked: true}
}

//go:embed builtins.txt
var builtinList string

// builtinCatalog is made from builtins.txt: the names of PostgreSQL's built-in functions
// ("f name"), operators ("o name") and types ("t name"), as TestBuiltinsList selects them
// from a real server.
func builtinCatalog() *Catalog {
	var funcs []Function
	var types []string
	ops := map[string]bool{}
	for line := range strings.Lines(builtinList) {
		kind, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case !ok:
		case kind == "f":
			// Any number of arguments: the list has names only.
			funcs = append(funcs, Function{OID: 1, Schema: "pg_catalog", Name: name, Args: 1 << 20, Defaults: 1 << 20})
		case kind == "t":
			types = append(types, name)
		case kind == "o":
			ops[name] = true
		}
	}
	c := NewCatalog(funcs, nil, nil, nil, types)
	c.builtinOps = ops
	return c
}

// Builtins returns the snapshot of a database that defines nothing of its own, made from
// the built-in names that builtins.txt lists: for tests.
func Builtins() *Catalog {
	c := builtinCatalog()
	var ops []Operator
	for name := range c.builtinOps {
		ops = append(ops, Operator{OID: 1, Schema: "pg_catalog", Name: name, Args: 1}, Operator{OID: 1, Schema: "pg_catalog", Name: name, Args: 2})
	}
	var funcs []Function
	for _, fs := range c.funcs {
		for _, f := range fs {
			funcs = append(funcs, *f)
		}
	}
	var types []string
	for t := range c.types {
		types = append(types, t)
	}
	out := NewCatalog(funcs, ops, nil, nil, types)
	out.Version = "built-ins"
	return out
}

// cliWhy is the reason a nil Catalog gives.
const cliWhy = "without the database's catalog; the gateway decides by its catalog: write unless the function is STABLE or IMMUTABLE in sql or plpgsql, or listed under functions.read"

// Listed reports whether the policy lists the function schema.name under functions.read:
// it only reads, whatever its volatility.
type Listed func(schema, name string) bool

// Resolution is what Resolve found.
type Resolution struct {
	Class  policy.Class // read, write, or admin (a view that calls dblink)
	Reason string       // why, when not read: "function public.touch_canary() is VOLATILE; ..."
	// Unknown is set when a call named a function the snapshot does not know: a fresher
	// snapshot may know it.
	Unknown bool
}

// Resolver judges Refs with a Catalog.
type Resolver struct {
	Catalog *Catalog // nil: the CLI's, without a database
	Listed  Listed   // nil: nothing is listed
	// Extensions reports whether the policy takes the STABLE and IMMUTABLE functions of
	// the extension named at their word (functions.extensions), as for a trusted
	// extension; nil: none.
	Extensions func(name string) bool
	// Changed is set when the session itself changed code in the database (CREATE
	// FUNCTION, ALTER FUNCTION, CREATE VIEW, ...: "CREATE FUNCTION"). Its change may be
	// uncommitted, which the snapshot, read on another connection, cannot see: every
	// function the database defines is write for the rest of the session.
	Changed string
}

// Resolve judges refs: the class is the highest any of them needs (read, write, or admin
// for a view that calls dblink), with the reason of the first that needs it.
func (rv Resolver) Resolve(refs []Ref) Resolution {
	c := rv.Catalog
	unchecked := c == nil || c.unchecked
	why := cliWhy
	if c == nil {
		c = cliCatalog()
	} else if c.why != "" {
		why = c.why
	}
	res := Resolution{Class: policy.Read}
	raise := func(v verdict, prefix string) {
		if rank(v.class) > rank(res.Class) {
			res.Class, res.Reason = v.class, prefix+v.reason
		}
	}
	j := judge{rv: rv, c: c} // its maps are made on first use: most statements need none
	for _, r := range refs {
		switch r.Kind {
		case RefFunction, RefAttribute:
			cands := c.functions(r)
			if len(cands) == 0 {
				if r.Kind == RefAttribute {
					continue // a column, not a call
				}
				if (r.Schema == "" || r.Schema == "pg_catalog") && c.types[r.Name] {
					continue // a function-style cast to a built-in type: int4(x)
				}
				if c.onlyBuiltin(r) {
					// No function of the database's own has the name: a form the parser
					// handles itself (unnest(a, b) in FROM), or an error.
					continue
				}
				if len(c.casts[r.Name]) > 0 {
					raise(j.casts(r.Schema, r.Name), "") // a function-style cast: money2(x)
					continue
				}
				res.Unknown = true
				if unchecked && r.Schema != "" && rv.Listed != nil && rv.Listed(r.Schema, r.Name) {
					continue // the policy vouches for it, whatever the catalog says
				}
				if unchecked {
					raise(verdict{policy.Write, "function " + r.String() + " is not a built-in function: it is classed write " + why}, "")
				} else {
					raise(verdict{policy.Write, "function " + r.String() + " is not in the gateway's catalog snapshot (" + c.Version + "): classed write; if it was created just now, try again"}, "")
				}
				continue
			}
			for _, f := range cands {
				if r.Harmless && f.Builtin() {
					continue
				}
				raise(j.function(f), "")
			}
		case RefOperator:
			if unchecked {
				if (r.Schema == "" || r.Schema == "pg_catalog") && c.builtinOps[r.Name] {
					continue
				}
				raise(verdict{policy.Write, r.String() + " is not a built-in operator: it is classed write " + why}, "")
				continue
			}
			cands := c.operators(r)
			if len(cands) == 0 {
				res.Unknown = true
				raise(verdict{policy.Write, r.String() + " is not in the gateway's catalog snapshot (" + c.Version + "): classed write"}, "")
				continue
			}
			for _, o := range cands {
				raise(j.call(o.Func), r.String()+": ")
			}
		case RefCast:
			raise(j.casts(r.Schema, r.Name), "")
		case RefRelation:
			if unchecked && rv.Catalog != nil {
				// The gateway without its snapshot: any relation may be a view.
				raise(verdict{policy.Write, "relation " + r.String() + " may be a view that calls a function that writes: it is classed write " + why}, "")
				continue
			}
			for _, rel := range c.relations(r) {
				raise(j.relation(rel, 0), "")
			}
		}
	}
	return res
}

// cliCatalog is the built-in name list, made once.
var cliCatalog = sync.OnceValue(func() *Catalog {
	c := builtinCatalog()
	c.unchecked = true
	return c
})

// functions returns the functions a call or attribute r may resolve to.
func (c *Catalog) functions(r Ref) []*Function {
	var out []*Function
	for _, f := range c.funcs[r.Name] {
		if r.Schema != "" && f.Schema != r.Schema || f.Kind == 'p' || !f.accepts(r.Args) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// onlyBuiltin reports whether every function named as r names, whatever its arguments, is
// a built-in, and there is one.
func (c *Catalog) onlyBuiltin(r Ref) bool {
	found := false
	for _, f := range c.funcs[r.Name] {
		if r.Schema != "" && f.Schema != r.Schema {
			continue
		}
		if !f.Builtin() {
			return false
		}
		found = true
	}
	return found
}

// operators returns the operators r may resolve to.
func (c *Catalog) operators(r Ref) []*Operator {
	var out []*Operator
	for _, o := range c.ops[r.Name] {
		if r.Schema != "" && o.Schema != r.Schema || o.Args != r.Args {
			continue
		}
		out = append(out, o)
	}
	return out
}

// relations returns the relations r may name that run code when read.
func (c *Catalog) relations(r Ref) []*Relation {
	var out []*Relation
	for _, rel := range c.rels[r.Name] {
		if r.Schema != "" && rel.Schema != r.Schema {
			continue
		}
		out = append(out, rel)
	}
	return out
}

// judge judges the functions of one Resolve, each once.
type judge struct {
	rv   Resolver
	c    *Catalog
	seen map[uint32]verdict // functions judged
	rels map[uint32]verdict // relations judged
}

// verdict is the class a function's call needs, and why when not read.
type verdict struct {
	class  policy.Class
	reason string // "public.touch_canary() is VOLATILE; ..."
}

var readVerdict = verdict{class: policy.Read}

// function judges a call of f.
func (j *judge) function(f *Function) verdict {
	if f.Builtin() && !f.hasCalls() {
		return j.judgeFunction(f) // cheap, and the common case: no memo
	}
	if r, ok := j.seen[f.OID]; ok {
		return r
	}
	if j.seen == nil {
		j.seen = make(map[uint32]verdict)
	}
	j.seen[f.OID] = readVerdict // a cycle: judged on its way out
	r := j.judgeFunction(f)
	j.seen[f.OID] = r
	return r
}

func (j *judge) judgeFunction(f *Function) verdict {
	name := "function " + f.String()
	if f.Builtin() {
		// The explicit lists (funcs.go), as the walk applies them to the statement's own
		// calls: here for the calls of views, defaults and aggregates.
		if c, ok := funcClass(f.Name, f.Args); ok {
			return verdict{c, name + " is " + string(c)}
		}
		return readVerdict
	}
	if j.rv.Changed != "" {
		return verdict{policy.Write, name + ": this session ran " + j.rv.Changed + ", whose change the gateway cannot see before it is committed, so every function the database defines is classed write in this session; reconnect to have them classed by the catalog again"}
	}
	if j.rv.Listed != nil && j.rv.Listed(f.Schema, f.Name) {
		return readVerdict // the policy vouches for it, and what it calls
	}
	var own verdict
	switch {
	case f.Kind == 'a':
		// Its own volatility and language mean nothing: its support functions run.
		if len(f.Calls) == 0 {
			return verdict{policy.Write, name + " is an aggregate whose support functions the gateway does not know; list it under functions.read in the policy if it only reads"}
		}
	case f.Volatile != 'v' && (f.Trusted || f.Extension != "" && j.rv.Extensions != nil && j.rv.Extensions(f.Extension)):
		own = readVerdict
	case !slices.Contains(enforcedLanguages, f.Language):
		hint := ""
		if f.Extension != "" && f.Volatile != 'v' {
			hint = ", or its extension " + f.Extension + " under functions.extensions"
		}
		own = verdict{policy.Write, name + " is in language " + f.Language + ", which may write whatever its volatility says; list it under functions.read in the policy if it only reads" + hint}
	case f.Volatile == 'v':
		own = verdict{policy.Write, name + " is VOLATILE; list it under functions.read in the policy if it only reads"}
	default:
		own = j.body(f)
	}
	for _, oid := range f.Calls {
		r := j.call(oid)
		if rank(r.class) > rank(own.class) {
			own = verdict{r.class, name + " runs when it does: " + r.reason}
		}
	}
	return own
}

// body judges what a STABLE or IMMUTABLE sql or plpgsql function's source may call: every
// name in it (comments and strings too: strict) that names a function that may write, of
// the database's own (any number of arguments) or one of the explicit lists (nextval,
// set_config, dblink, ...); and, in plpgsql, EXECUTE, which runs SQL made at run time.
func (j *judge) body(f *Function) verdict {
	name := "function " + f.String()
	for _, word := range f.words {
		if f.Language == "plpgsql" && word == "execute" {
			return verdict{policy.Write, name + " runs SQL made at run time (EXECUTE), which may call a function that writes; list it under functions.read in the policy if it only reads"}
		}
		if c, ok := funcClass(word, 1); ok {
			return verdict{c, name + " calls " + word + ", which is " + string(c)}
		}
		for _, g := range j.c.funcs[word] {
			if g.Builtin() || g.Kind == 'p' || g == f {
				continue
			}
			if r := j.function(g); r.class != policy.Read {
				return verdict{r.class, name + " may call it: " + r.reason}
			}
		}
	}
	return readVerdict
}

// words returns the identifiers of a function's source, as PostgreSQL would fold them:
// unquoted ones in lower case, quoted ones as written.
func words(src string) []string {
	var out []string
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case ch == '"':
			end := strings.IndexByte(src[i+1:], '"')
			if end < 0 {
				return append(out, src[i+1:])
			}
			out = append(out, src[i+1:i+1+end])
			i += end + 2
		case ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= 0x80:
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] == '$' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' ||
				src[j] >= '0' && src[j] <= '9' || src[j] >= 0x80) {
				j++
			}
			out = append(out, strings.ToLower(src[i:j]))
			i = j
		default:
			i++
		}
	}
	return out
}

// call judges a function known by its OID only.
func (j *judge) call(oid uint32) verdict {
	if f := j.c.byOID[oid]; f != nil {
		return j.function(f)
	}
	if oid < FirstNormalOID {
		return readVerdict
	}
	return verdict{policy.Write, fmt.Sprintf("function with oid %d is not in the gateway's catalog snapshot", oid)}
}

// enforcedLanguages are the languages in which PostgreSQL refuses a write in a STABLE or
// IMMUTABLE function.
var enforcedLanguages = []string{"sql", "plpgsql"}

// casts judges a cast to the type schema.name.
func (j *judge) casts(schema, name string) verdict {
	out := readVerdict
	for _, k := range j.c.casts[name] {
		if schema != "" && k.Schema != schema {
			continue
		}
		if r := j.call(k.Func); rank(r.class) > rank(out.class) {
			out = verdict{r.class, "cast to " + name + ": " + r.reason}
		}
	}
	return out
}

// maxViewDepth bounds the walk through views that read views.
const maxViewDepth = 64

// relation judges reading rel, each relation once.
func (j *judge) relation(rel *Relation, depth int) verdict {
	if r, ok := j.rels[rel.OID]; ok {
		return r
	}
	if j.rels == nil {
		j.rels = make(map[uint32]verdict)
	}
	j.rels[rel.OID] = readVerdict // a cycle: judged on its way out
	r := j.judgeRelation(rel, depth)
	j.rels[rel.OID] = r
	return r
}

func (j *judge) judgeRelation(rel *Relation, depth int) verdict {
	name := "relation " + rel.Schema + "." + rel.Name
	if depth > maxViewDepth {
		return verdict{policy.Write, name + ": views nested too deep for the gateway to follow"}
	}
	out := readVerdict
	for _, oid := range rel.Functions {
		if r := j.call(oid); rank(r.class) > rank(out.class) {
			out = verdict{r.class, name + ": " + r.reason}
		}
	}
	for _, oid := range rel.Relations {
		if inner := j.c.relByOID[oid]; inner != nil && inner != rel {
			if r := j.relation(inner, depth+1); rank(r.class) > rank(out.class) {
				out = verdict{r.class, name + ": " + r.reason}
			}
		}
	}
	return out
}
