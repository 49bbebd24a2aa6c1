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
//   - a STABLE or IMMUTABLE sql or plpgsql function is read;
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
	// Support are an aggregate's support functions (pg_aggregate's transition, final,
	// combine, serial, deserial and moving-aggregate functions), which run when it does.
	Support []uint32
}

// Builtin reports whether initdb made the function.
func (f *Function) Builtin() bool { return f.OID < FirstNormalOID }

func (f *Function) String() string { return f.Schema + "." + f.Name + "()" }

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

// Cast is a cast WITH FUNCTION to a type; the snapshot keeps those whose function is
// not a built-in.
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
	Version    string // where and when it was read, for logs: "db-prod at 12:00:01"
	unchecked  bool   // the built-in name list stands in for a snapshot
}

// NewCatalog makes a Catalog from the rows of a snapshot. types are the names of the
// built-in types (function-style casts such as int4(x) parse as function calls).
func NewCatalog(funcs []Function, ops []Operator, casts []Cast, rels []Relation, types []string) *Catalog {
	c := &Catalog{
		funcs: make(map[string][]*Function, len(funcs)), byOID: make(map[uint32]*Function, len(funcs)),
		ops: make(map[string][]*Operator, len(ops)), casts: make(map[string][]Cast, len(casts)),
		types: make(map[string]bool, len(types)), rels: make(map[string][]*Relation, len(rels)),
		relByOID: make(map[uint32]*Relation, len(rels)),
	}
	for i := range funcs {
		f := &funcs[i]
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
	c := builtinCatalog()
	return &Catalog{funcs: c.funcs, types: c.types, builtinOps: c.builtinOps, why: why, unchecked: true}
}

//go:embed builtins.txt
var builtinList string

// builtinCatalog is made from builtins.txt: the names of PostgreSQL's built-in functions
// ("f name"), operators ("o name") and types ("t name"), as selected by TestBuiltinsList from a real server.
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

// cliWhy is the reason a nil Catalog gives.
const cliWhy = "without the database's catalog; the gateway decides by its catalog: write unless the function is STABLE or IMMUTABLE in sql or plpgsql, or listed under functions.read"

// Listed reports whether the policy lists the function schema.name under functions.read:
// it only reads, whatever its volatility.
type Listed func(schema, name string) bool

// Resolution is what Resolve found.
type Resolution struct {
	Class  policy.Class // read or write
	Reason string       // why write: "calls public.touch_canary(): it is VOLATILE; ..."
	// Unknown is set when a call named a function the snapshot does not know: a fresher
	// snapshot may know it.
	Unknown bool
}

// Resolver judges Refs with a Catalog.
type Resolver struct {
	Catalog *Catalog // nil: the CLI's, without a database
	Listed  Listed   // nil: nothing is listed
	// Changed is set when the session itself changed code in the database (CREATE
	// FUNCTION, ALTER FUNCTION, CREATE VIEW, ...: "CREATE FUNCTION"). Its change may be
	// uncommitted, which the snapshot, read on another connection, cannot see: every
	// function the database defines is write for the rest of the session.
	Changed string
}

// Resolve judges refs. The class is write when any of them may write, else read.
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
	write := func(reason string) {
		if res.Class != policy.Write {
			res.Class, res.Reason = policy.Write, reason
		}
	}
	j := judge{rv: rv, c: c, seen: map[uint32]string{}}
	for _, r := range refs {
		switch r.Kind {
		case RefFunction, RefAttribute:
			cands := c.functions(r)
			if len(cands) == 0 {
				if r.Kind == RefAttribute {
					continue // a column, not a call
				}
				if r.Schema == "" || r.Schema == "pg_catalog" {
					if c.types[r.Name] {
						continue // a function-style cast to a built-in type: int4(x)
					}
				}
				if reason := j.casts(r.Schema, r.Name); reason != "" {
					write(reason)
					continue
				}
				if casts := c.casts[r.Name]; len(casts) > 0 {
					continue // a function-style cast to a type whose casts only read
				}
				res.Unknown = true
				if unchecked {
					write("calls " + r.String() + ", which is not a built-in function: it is classed write " + why)
				} else {
					write("calls " + r.String() + ", which the gateway's catalog snapshot does not know (" + c.Version + "): classed write; if it was created just now, try again")
				}
				continue
			}
			for _, f := range cands {
				if reason := j.function(f); reason != "" {
					write("calls " + reason)
					break
				}
			}
		case RefOperator:
			if unchecked {
				if (r.Schema == "" || r.Schema == "pg_catalog") && c.builtinOps[r.Name] {
					continue
				}
				write("uses " + r.String() + ", which is not a built-in operator: it is classed write " + why)
				continue
			}
			cands := c.operators(r)
			if len(cands) == 0 {
				res.Unknown = true
				write("uses " + r.String() + ", which the gateway's catalog snapshot does not know (" + c.Version + "): classed write")
				continue
			}
			for _, o := range cands {
				f := c.byOID[o.Func]
				if f == nil {
					if o.Func >= FirstNormalOID {
						write("uses " + r.String() + ", whose function the gateway's catalog snapshot does not know: classed write")
						break
					}
					continue
				}
				if reason := j.function(f); reason != "" {
					write("uses " + r.String() + ", which calls " + reason)
					break
				}
			}
		case RefCast:
			if reason := j.casts(r.Schema, r.Name); reason != "" {
				write(reason)
			}
		case RefRelation:
			if unchecked && rv.Catalog != nil {
				// The gateway without its snapshot: any relation may be a view.
				write("reads " + r.String() + ", which may be a view that calls a function that writes: it is classed write " + why)
				continue
			}
			for _, rel := range c.relations(r) {
				if reason := j.relation(rel, 0); reason != "" {
					write("reads " + reason)
					break
				}
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
	seen map[uint32]string // function OID → its reason ("" read)
}

// function returns why a call of f may write ("public.touch_canary(): it is VOLATILE;
// ..."), or "" when it only reads.
func (j *judge) function(f *Function) string {
	if f.Builtin() {
		return "" // its class is that of the explicit lists (funcs.go), applied by the walk
	}
	if r, ok := j.seen[f.OID]; ok {
		return r
	}
	j.seen[f.OID] = "" // a cycle among aggregates' support functions: judged on its way out
	r := j.judgeFunction(f)
	j.seen[f.OID] = r
	return r
}

func (j *judge) judgeFunction(f *Function) string {
	name := f.String()
	if j.rv.Changed != "" {
		return name + ": this session ran " + j.rv.Changed + ", whose change the gateway cannot see before it is committed, so every function the database defines is classed write in this session; reconnect to have them classed by the catalog again"
	}
	if j.rv.Listed != nil && j.rv.Listed(f.Schema, f.Name) {
		return ""
	}
	if f.Kind == 'a' {
		if len(f.Support) == 0 {
			return name + ": an aggregate whose support functions the gateway does not know; list it under functions.read in the policy if it only reads"
		}
		for _, s := range f.Support {
			sf := j.c.byOID[s]
			if sf == nil {
				if s >= FirstNormalOID {
					return name + ": an aggregate whose support function " + fmt.Sprint(s) + " the gateway's catalog snapshot does not know"
				}
				continue
			}
			if r := j.function(sf); r != "" {
				return name + ", an aggregate that calls " + r
			}
		}
		return ""
	}
	if !slices.Contains(enforcedLanguages, f.Language) {
		return name + " is in language " + f.Language + ", which may write whatever its volatility says; list it under functions.read in the policy if it only reads"
	}
	if f.Volatile == 'v' {
		return name + " is VOLATILE; list it under functions.read in the policy if it only reads"
	}
	return ""
}

// enforcedLanguages are the languages in which PostgreSQL refuses a write in a STABLE or
// IMMUTABLE function.
var enforcedLanguages = []string{"sql", "plpgsql"}

// casts returns why a cast to the type schema.name may write, or "".
func (j *judge) casts(schema, name string) string {
	for _, k := range j.c.casts[name] {
		if schema != "" && k.Schema != schema {
			continue
		}
		f := j.c.byOID[k.Func]
		if f == nil {
			return "casts to " + name + " with a function the gateway's catalog snapshot does not know: classed write"
		}
		if r := j.function(f); r != "" {
			return "casts to " + name + " with " + r
		}
	}
	return ""
}

// maxViewDepth bounds the walk through views that read views.
const maxViewDepth = 64

// relation returns why reading rel may write, or "".
func (j *judge) relation(rel *Relation, depth int) string {
	name := rel.Schema + "." + rel.Name
	if depth > maxViewDepth {
		return name + ": views nested too deep for the gateway to follow"
	}
	for _, oid := range rel.Functions {
		f := j.c.byOID[oid]
		if f == nil {
			if oid >= FirstNormalOID {
				return name + ", which calls a function the gateway's catalog snapshot does not know"
			}
			continue
		}
		if r := j.function(f); r != "" {
			return name + ", which calls " + r
		}
	}
	for _, oid := range rel.Relations {
		if inner := j.c.relByOID[oid]; inner != nil && inner != rel {
			if r := j.relation(inner, depth+1); r != "" {
				return name + ", which reads " + r
			}
		}
	}
	return ""
}
