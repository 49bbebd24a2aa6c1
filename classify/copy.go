package classify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/hoopgw/hoop/internal/pgcopy"
)

// CopyTarget is one COPY ... TO STDOUT of a SQL text: what it copies and how PostgreSQL
// writes its rows, so that a gateway can read (and mask) them.
type CopyTarget struct {
	// Stmt is the statement's index in the text, counting every statement from 0, as
	// Classify lists them.
	Stmt int
	// Catalog, Schema and Table name the relation copied, as PostgreSQL reads the names
	// (unquoted names in lower case): "", "public", "customers" for COPY public.Customers.
	// Schema is empty when the name is not qualified; Catalog is the database of a
	// three-part name, which PostgreSQL only accepts when it is the current one.
	// All three are empty for COPY (query).
	Catalog, Schema, Table string
	// Columns are the columns listed, in order, as PostgreSQL reads the names; nil when
	// none are, when PostgreSQL copies the table's columns in order, leaving out dropped
	// and generated ones.
	Columns []string
	// Query is COPY (query) TO STDOUT: the rows are the query's.
	Query bool
	// Binary is FORMAT binary, whose rows are not text; Options is then the zero value.
	Binary bool
	// Encoding is the ENCODING option as written ("" when absent): the rows are then in
	// that encoding instead of the session's client_encoding. pgcopy cannot read rows in
	// an encoding for which pgcopy.EncodingEmbedsASCII is true.
	Encoding string
	// Options is how the rows are written, in text or CSV format: PostgreSQL's defaults
	// with the statement's DELIMITER, NULL, QUOTE, ESCAPE, HEADER and FORCE_QUOTE.
	Options pgcopy.Options
}

// ErrCopyOptions is returned (wrapped) by CopyTargets for a COPY ... TO STDOUT whose
// options PostgreSQL would refuse, or that do not say for certain how its rows are written.
// The caller must not guess: it should refuse the text.
var ErrCopyOptions = errors.New("classify: invalid COPY options")

// CopyTargets parses sql and lists its COPY ... TO STDOUT statements (see the function
// CopyTargets). A text that does not parse gives the parser's error, and one holding a
// NUL byte an error too: the caller must refuse the text, as Classify does.
func (p Parser) CopyTargets(sql string) (targets []CopyTarget, err error) {
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, fmt.Errorf("%w: the text holds a NUL byte", ErrCopyOptions)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: no parser", ErrInternal)
	}
	tree, err := p(sql)
	if err != nil {
		return nil, err
	}
	if tree == nil {
		return nil, fmt.Errorf("%w: the parser returned no tree", ErrInternal)
	}
	return CopyTargets(tree)
}

// CopyTargets lists, in statement order, the top-level COPY ... TO STDOUT statements of a
// parse tree (COPY ... TO STDIN too: PostgreSQL takes it for the same). Other statements,
// COPY FROM, and COPY to a file or a program give nothing. The error wraps ErrCopyOptions
// when a COPY's options are ones PostgreSQL would refuse (a DELIMITER of two bytes, a
// QUOTE in text format, an option given twice, an unknown option), or ones its rows could
// not be read back under (see pgcopy.Options.Validate); ErrInternal for a tree it cannot
// read. PostgreSQL's COPY FROM options (FREEZE, FORCE_NOT_NULL, FORCE_NULL, DEFAULT,
// ON_ERROR, REJECT_LIMIT, LOG_VERBOSITY) do not change how rows are written and are
// ignored.
func CopyTargets(tree *pg_query.ParseResult) (targets []CopyTarget, err error) {
	defer func() {
		if r := recover(); r != nil {
			targets, err = nil, fmt.Errorf("%w: %v", ErrInternal, r)
		}
	}()
	if len(tree.ProtoReflect().GetUnknown()) != 0 {
		return nil, fmt.Errorf("%w: the parse tree has fields this classifier does not know", ErrInternal)
	}
	for i, raw := range tree.GetStmts() {
		x := raw.GetStmt().GetCopyStmt()
		if x == nil || x.GetIsFrom() || x.GetIsProgram() || x.GetFilename() != "" {
			continue
		}
		t, err := copyTarget(x)
		if err != nil {
			return nil, err
		}
		t.Stmt = i
		targets = append(targets, t)
	}
	return targets, nil
}

// unknownFields reports whether any of ms has a field from a newer parser than this
// package knows: its meaning could change how rows are written.
func unknownFields(ms ...proto.Message) bool {
	for _, m := range ms {
		if m != nil && len(m.ProtoReflect().GetUnknown()) != 0 {
			return true
		}
	}
	return false
}

func copyTarget(x *pg_query.CopyStmt) (CopyTarget, error) {
	var t CopyTarget
	if unknownFields(x, x.GetRelation()) {
		return t, fmt.Errorf("%w: the COPY statement has fields this classifier does not know", ErrInternal)
	}
	switch r := x.GetRelation(); {
	case x.GetQuery() != nil:
		t.Query = true
	case r != nil && r.GetRelname() != "":
		t.Catalog, t.Schema, t.Table = r.GetCatalogname(), r.GetSchemaname(), r.GetRelname()
	default:
		return t, fmt.Errorf("%w: a COPY of neither a table nor a query", ErrInternal)
	}
	for _, n := range x.GetAttlist() {
		s := n.GetString_()
		if s == nil {
			return t, fmt.Errorf("%w: a COPY column that is not a name", ErrInternal)
		}
		t.Columns = append(t.Columns, s.GetSval())
	}
	o, binary, encoding, err := copyOptions(x.GetOptions())
	if err != nil {
		return t, err
	}
	t.Options, t.Binary, t.Encoding = o, binary, encoding
	return t, nil
}

// copyOptions reads COPY's options as PostgreSQL's ProcessCopyOptions does for COPY TO.
// The old syntax (COPY BINARY t, WITH CSV HEADER, USING DELIMITERS) reaches it as the same
// list of options.
func copyOptions(list []*pg_query.Node) (o pgcopy.Options, binary bool, encoding string, err error) {
	bad := func(d *pg_query.DefElem, format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if d != nil && d.GetLocation() >= 0 {
			msg += " (at byte " + strconv.Itoa(int(d.GetLocation())) + ")"
		}
		return fmt.Errorf("%w: %s", ErrCopyOptions, msg)
	}
	var (
		csv                                 bool
		delim, null, quote, escape          *string
		header, forceQuoteAll, haveEncoding bool
		forceQuote                          []string
		seen                                = map[string]bool{}
	)
	for _, n := range list {
		d := n.GetDefElem()
		if d == nil {
			return o, false, "", fmt.Errorf("%w: a COPY option that is not a DefElem", ErrInternal)
		}
		if unknownFields(d) {
			return o, false, "", fmt.Errorf("%w: a COPY option has fields this classifier does not know", ErrInternal)
		}
		name := d.GetDefname()
		switch name {
		case "format", "delimiter", "null", "header", "quote", "escape", "force_quote", "encoding":
			if seen[name] {
				return o, false, "", bad(d, "%s is given twice", strings.ToUpper(name))
			}
			seen[name] = true
		}
		switch name {
		case "format":
			s, err := defString(d)
			if err != nil {
				return o, false, "", bad(d, "%v", err)
			}
			switch s {
			case "text":
			case "csv":
				csv = true
			case "binary":
				binary = true
			default:
				return o, false, "", bad(d, "COPY format %q is not recognized", s)
			}
		case "delimiter", "null", "quote", "escape", "encoding":
			s, err := defString(d)
			if err != nil {
				return o, false, "", bad(d, "%v", err)
			}
			switch name {
			case "delimiter":
				delim = &s
			case "null":
				null = &s
			case "quote":
				quote = &s
			case "escape":
				escape = &s
			case "encoding":
				encoding, haveEncoding = s, true
			}
		case "header":
			if header, err = defHeader(d); err != nil {
				return o, false, "", bad(d, "%v", err)
			}
		case "force_quote":
			switch a := d.GetArg(); {
			case a.GetAStar() != nil:
				forceQuoteAll = true
			case a.GetList() != nil:
				for _, item := range a.GetList().GetItems() {
					s := item.GetString_()
					if s == nil {
						return o, false, "", bad(d, "FORCE_QUOTE takes a list of column names")
					}
					forceQuote = append(forceQuote, s.GetSval())
				}
			default:
				return o, false, "", bad(d, "FORCE_QUOTE takes a list of column names or *")
			}
		case "freeze", "force_not_null", "force_null", "default", "on_error", "reject_limit", "log_verbosity":
			// COPY FROM's: they change nothing in the rows COPY TO writes (and PostgreSQL
			// refuses most of them with COPY TO).
		default:
			return o, false, "", bad(d, "COPY option %q is not recognized", name)
		}
	}
	if haveEncoding && encoding == "" {
		return o, false, "", bad(nil, "ENCODING is empty")
	}

	// The checks of ProcessCopyOptions, in its order.
	given := func(s *string) bool { return s != nil }
	if binary {
		switch {
		case given(delim):
			return o, false, "", bad(nil, "DELIMITER cannot be given in BINARY mode")
		case given(null):
			return o, false, "", bad(nil, "NULL cannot be given in BINARY mode")
		case header:
			return o, false, "", bad(nil, "HEADER cannot be given in BINARY mode")
		case given(quote) || given(escape) || forceQuoteAll || forceQuote != nil:
			return o, false, "", bad(nil, "QUOTE, ESCAPE and FORCE_QUOTE are for CSV mode only")
		}
		return pgcopy.Options{}, true, encoding, nil
	}
	o = pgcopy.Defaults(csv)
	o.Header = header
	if given(delim) {
		if len(*delim) != 1 {
			return o, false, "", bad(nil, "DELIMITER must be a single one-byte character, not %q", *delim)
		}
		o.Delimiter = (*delim)[0]
	}
	if given(null) {
		o.Null = *null
	}
	if !csv && (given(quote) || given(escape) || forceQuoteAll || forceQuote != nil) {
		return o, false, "", bad(nil, "QUOTE, ESCAPE and FORCE_QUOTE are for CSV mode only")
	}
	for _, q := range []struct {
		name string
		s    *string
		to   *byte
	}{{"QUOTE", quote, &o.Quote}, {"ESCAPE", escape, &o.Escape}} {
		if !given(q.s) {
			continue
		}
		if len(*q.s) != 1 {
			return o, false, "", bad(nil, "%s must be a single one-byte character, not %q", q.name, *q.s)
		}
		*q.to = (*q.s)[0]
	}
	if given(quote) && !given(escape) {
		o.Escape = o.Quote // ESCAPE defaults to QUOTE
	}
	o.ForceQuote, o.ForceQuoteAll = forceQuote, forceQuoteAll
	if err := o.Validate(); err != nil {
		return o, false, "", fmt.Errorf("%w: %w", ErrCopyOptions, err)
	}
	return o, false, encoding, nil
}

// defString is PostgreSQL's defGetString for the values COPY's grammar gives options.
// A parenthesized list, which PostgreSQL would join with dots, is refused.
func defString(d *pg_query.DefElem) (string, error) {
	name := strings.ToUpper(d.GetDefname())
	a := d.GetArg()
	switch {
	case a == nil:
		return "", fmt.Errorf("%s requires a value", name)
	case a.GetString_() != nil:
		return a.GetString_().GetSval(), nil
	case a.GetInteger() != nil:
		return strconv.Itoa(int(a.GetInteger().GetIval())), nil
	case a.GetFloat() != nil:
		return a.GetFloat().GetFval(), nil
	case a.GetBoolean() != nil:
		return strconv.FormatBool(a.GetBoolean().GetBoolval()), nil
	case a.GetAStar() != nil:
		return "*", nil
	}
	return "", fmt.Errorf("%s requires a single value", name)
}

// defHeader is PostgreSQL's defGetCopyHeaderChoice for COPY TO: a Boolean; MATCH is for
// COPY FROM only.
func defHeader(d *pg_query.DefElem) (bool, error) {
	a := d.GetArg()
	if a == nil {
		return true, nil
	}
	if i := a.GetInteger(); i != nil {
		switch i.GetIval() {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return false, fmt.Errorf("HEADER requires a Boolean value, not %d", i.GetIval())
	}
	s, err := defString(d)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "on":
		return true, nil
	case "false", "off":
		return false, nil
	case "match":
		return false, errors.New("HEADER MATCH is for COPY FROM only")
	}
	return false, fmt.Errorf("HEADER requires a Boolean value, not %q", s)
}
