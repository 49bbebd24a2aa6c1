package classify

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/hoopgw/hoop/policy"
)

// harmlessSettings may be SET, SET LOCAL and RESET by anyone: they change how this
// session displays or plans things, not what it may do. Every other setting is admin.
var harmlessSettings = map[string]bool{
	"application_name": true, "search_path": true,
	"datestyle": true, "intervalstyle": true, "timezone": true, "timezone_abbreviations": true,
	"extra_float_digits": true, "bytea_output": true, "xmloption": true, "xmlbinary": true,
	"client_min_messages": true, "escape_string_warning": true, "quote_all_identifiers": true,
	"array_nulls": true, "lc_monetary": true, "lc_numeric": true, "lc_time": true,
	"default_text_search_config": true, "seed": true,
	"statement_timeout": true, "lock_timeout": true, "idle_in_transaction_session_timeout": true,
	"idle_session_timeout": true, "transaction_timeout": true, "client_connection_check_interval": true,
	"default_transaction_isolation": true, "transaction_isolation": true,
	"default_transaction_deferrable": true, "transaction_deferrable": true,
	"work_mem": true, "maintenance_work_mem": true, "hash_mem_multiplier": true, "temp_buffers": true,
	"row_security": true, "check_function_bodies": true, "synchronous_commit": true,
	"default_tablespace": true, "temp_tablespaces": true, "default_table_access_method": true,
	"default_toast_compression": true, "gin_fuzzy_search_limit": true, "gin_pending_list_limit": true,
	// the planner
	"jit": true, "plan_cache_mode": true, "cursor_tuple_fraction": true, "geqo": true,
	"from_collapse_limit": true, "join_collapse_limit": true, "constraint_exclusion": true,
	"random_page_cost": true, "seq_page_cost": true, "cpu_tuple_cost": true,
	"cpu_index_tuple_cost": true, "cpu_operator_cost": true, "parallel_setup_cost": true,
	"parallel_tuple_cost": true, "effective_cache_size": true, "effective_io_concurrency": true,
	"max_parallel_workers_per_gather": true, "default_statistics_target": true,
	// pg_dump's session setup: scan order, and a setting that can only restrict
	"synchronize_seqscans": true, "restrict_nonsystem_relation_kind": true,
}

// harmlessSetting reports whether a setting may be set by anyone (by SET or set_config).
func harmlessSetting(name string) bool {
	name = strings.ToLower(name)
	return harmlessSettings[name] || strings.HasPrefix(name, "enable_")
}

// safeEncodings are the client encodings (lowercased, without '_' and '-', as PostgreSQL
// compares them) in which every byte of a multibyte character is >= 0x80. In the others
// (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) a backslash or quote byte can be the second half
// of a character: the server and the gateway's parser, which reads UTF-8, would then see
// different strings, and a statement could hide inside what the gateway takes for a literal.
var safeEncodings = map[string]bool{
	"utf8": true, "unicode": true, "sqlascii": true,
	"latin1": true, "latin2": true, "latin3": true, "latin4": true, "latin5": true,
	"latin6": true, "latin7": true, "latin8": true, "latin9": true, "latin10": true,
	"iso88591": true, "iso88592": true, "iso88593": true, "iso88594": true, "iso88595": true,
	"iso88596": true, "iso88597": true, "iso88598": true, "iso88599": true, "iso885910": true,
	"iso885913": true, "iso885914": true, "iso885915": true, "iso885916": true,
	"win866": true, "win874": true, "win1250": true, "win1251": true, "win1252": true,
	"win1253": true, "win1254": true, "win1255": true, "win1256": true, "win1257": true,
	"win1258": true, "windows866": true, "windows874": true, "windows1250": true,
	"windows1251": true, "windows1252": true, "windows1253": true, "windows1254": true,
	"windows1255": true, "windows1256": true, "windows1257": true, "windows1258": true,
	"koi8": true, "koi8r": true, "koi8u": true, "alt": true,
	"euccn": true, "eucjp": true, "euckr": true, "euctw": true, "eucjis2004": true,
}

const liftsReadOnly = "may lift a read-only session"

// setting classifies SET, SET LOCAL, RESET and SET TRANSACTION.
func setting(x *pg_query.VariableSetStmt) info {
	kind := "SET"
	if x.GetKind() == pg_query.VariableSetKind_VAR_RESET || x.GetKind() == pg_query.VariableSetKind_VAR_RESET_ALL {
		kind = "RESET"
	}
	always := info{kind: kind, class: policy.Read, always: true}
	switch x.GetKind() {
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		// Back to the values the session started with: a read-only session's
		// default_transaction_read_only = on is one of them (the gateway sends it at
		// login), and RESET ALL leaves the role and session authorization alone. Poolers
		// (asyncpg) send it when they take a connection back.
		return always
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		return setMulti(x, kind)
	case pg_query.VariableSetKind_VAR_SET_VALUE, pg_query.VariableSetKind_VAR_SET_DEFAULT,
		pg_query.VariableSetKind_VAR_SET_CURRENT, pg_query.VariableSetKind_VAR_RESET:
	default:
		return info{kind: kind, class: policy.Admin, reason: "unknown kind of SET"}
	}
	name := strings.ToLower(x.GetName())
	setTo := x.GetKind() == pg_query.VariableSetKind_VAR_SET_VALUE
	switch name {
	case "role", "session_authorization":
		return info{kind: kind, class: policy.Admin, reason: kind + " " + name + " changes the privileges of the session"}
	case "default_transaction_read_only", "transaction_read_only":
		if setTo && isTrue(x.GetArgs()) {
			return always
		}
		return info{kind: kind, class: policy.Write, reason: kind + " " + name + " " + liftsReadOnly}
	case "standard_conforming_strings":
		// Off, the server reads backslashes in '...' as escapes and the gateway's parser
		// does not: a quote could end a literal for one and not the other.
		if setTo && isTrue(x.GetArgs()) {
			return always
		}
		return info{kind: kind, class: policy.Admin, reason: kind + " " + name +
			" could make the server read string literals differently from the gateway"}
	case "client_encoding":
		if !setTo {
			return always // back to the encoding the session started with
		}
		if enc, ok := constString(x.GetArgs()); ok && safeEncodings[normalizeEncoding(enc)] {
			return always
		}
		return info{kind: kind, class: policy.Admin, reason: kind + " " + name +
			" to an encoding whose characters can hide a quote from the gateway"}
	}
	if harmlessSetting(name) {
		return always
	}
	return info{kind: kind, class: policy.Admin, reason: kind + " " + name + " is not a harmless setting"}
}

// setMulti classifies SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ...
// and SET TRANSACTION SNAPSHOT.
func setMulti(x *pg_query.VariableSetStmt, kind string) info {
	switch x.GetName() {
	case "TRANSACTION SNAPSHOT":
		return info{kind: kind, class: policy.Read, always: true}
	case "TRANSACTION", "SESSION CHARACTERISTICS":
		if readWrite, ok := transactionModes(x.GetArgs()); !ok {
			return info{kind: kind, class: policy.Admin, reason: "unknown transaction mode"}
		} else if readWrite {
			return info{kind: kind, class: policy.Write, reason: "READ WRITE " + liftsReadOnly}
		}
		return info{kind: kind, class: policy.Read, always: true}
	}
	return info{kind: kind, class: policy.Admin, reason: "unknown kind of SET"}
}

// transactionModes reports whether the modes of BEGIN, START TRANSACTION or SET TRANSACTION
// ask for READ WRITE; ok is false for a mode it does not know.
func transactionModes(opts []*pg_query.Node) (readWrite, ok bool) {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil {
			return false, false
		}
		switch d.GetDefname() {
		case "transaction_read_only":
			if !isTrue([]*pg_query.Node{d.GetArg()}) {
				readWrite = true
			}
		case "transaction_isolation", "transaction_deferrable":
		default:
			return false, false
		}
	}
	return readWrite, true
}

// isTrue reports whether args is one constant that PostgreSQL reads as boolean true:
// true, on, yes, 1 and the prefixes it accepts (t, tr, y, ye). Anything else, including
// what PostgreSQL would reject, is not true.
func isTrue(args []*pg_query.Node) bool {
	if len(args) != 1 {
		return false
	}
	c := args[0].GetAConst()
	if c == nil || c.GetIsnull() {
		return false
	}
	switch v := c.GetVal().(type) {
	case *pg_query.A_Const_Ival:
		return v.Ival.GetIval() == 1
	case *pg_query.A_Const_Boolval:
		return v.Boolval.GetBoolval()
	case *pg_query.A_Const_Sval:
		s := strings.ToLower(strings.TrimSpace(v.Sval.GetSval()))
		switch {
		case s == "":
			return false
		case strings.HasPrefix("true", s), strings.HasPrefix("yes", s), s == "on", s == "1":
			return true
		}
	}
	return false
}

// constString returns the value of args when it is one string or identifier constant.
func constString(args []*pg_query.Node) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	if s, ok := args[0].GetAConst().GetVal().(*pg_query.A_Const_Sval); ok {
		return s.Sval.GetSval(), true
	}
	return "", false
}

// normalizeEncoding lowercases an encoding name and drops what is not a letter or digit,
// as PostgreSQL does before looking it up: "UTF-8" and "utf8" are the same.
func normalizeEncoding(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
