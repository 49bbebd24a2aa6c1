// Package classify gives each statement of a SQL text its class — read, write, ddl or
// admin — by parsing it with PostgreSQL's own parser and walking the whole tree. The
// gateway decides with the result, so it is a security boundary: when in doubt it picks
// the stricter class, and what it does not understand is admin (fail closed).
//
//	c := classify.New(native.Parse, 4096) // the gateway; the CLI uses wasm.Parse
//	sts, err := c.Classify("SELECT 1; WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d")
//	// sts[0]: SELECT, read; sts[1]: SELECT, write, Reason "DELETE inside a WITH"
//
// The package itself is pure Go and takes the parser as a function: classify/native
// links libpg_query with cgo (the gateway), classify/wasm runs the same library compiled to
// WebAssembly (the CLI, built with CGO_ENABLED=0). Both give the same tree.
//
// # Classes
//
// A statement's class is the highest of its own class and that of everything it contains:
// a DELETE in a CTE, a function call in an ORDER BY, a DEFAULT or a subquery all count.
//
// read: SELECT (joins, window functions, CTEs, LATERAL, JSON, VALUES, TABLE, UNION, ...),
// SHOW, EXPLAIN without ANALYZE of anything (it plans, it does not run; but EXPLAIN
// EXECUTE evaluates EXECUTE's arguments, which count), EXPLAIN ANALYZE of a read, DECLARE
// CURSOR of a read, FETCH and MOVE, COPY ... TO STDOUT of a table or a read, calls of
// functions that only read (currval and lastval included), LOCK TABLE ... IN ACCESS SHARE
// MODE (the lock a SELECT takes; pg_dump takes it per table), releasing one's own
// advisory locks (pg_advisory_unlock*), and, always allowed, UNLISTEN and RESET ALL (a
// pooler's reset: RESET ALL returns to the values the session started with, and a read-only
// session starts with default_transaction_read_only = on).
//
// write: INSERT, UPDATE, DELETE, MERGE, COPY ... FROM STDIN, SELECT ... INTO (it creates
// a table, but the command is a SELECT), writable CTEs at any depth, row locks (FOR
// UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE), nextval and setval, advisory locks
// (pg_advisory_*, pg_try_advisory_*), NOTIFY and pg_notify, LISTEN (it changes what the
// session receives from others: not read), LOCK TABLE in any other mode, large-object
// changes (lo_create, lo_put, lo_from_bytea, lo_unlink, ...), EXPLAIN ANALYZE, COPY (...)
// TO STDOUT and PREPARE of any of these. And what would lift a read-only session: BEGIN
// or START TRANSACTION READ WRITE, SET TRANSACTION READ WRITE, SET SESSION
// CHARACTERISTICS AS TRANSACTION READ WRITE, SET [SESSION|LOCAL]
// default_transaction_read_only or transaction_read_only to anything but true (DEFAULT
// included), RESET of either.
//
// ddl: CREATE, ALTER and DROP of schema objects, TRUNCATE, COMMENT, SECURITY LABEL, GRANT
// and REVOKE of privileges, ALTER DEFAULT PRIVILEGES, CREATE TABLE AS, CREATE
// MATERIALIZED VIEW, REFRESH MATERIALIZED VIEW (it rewrites the view like maintenance
// does), VACUUM, ANALYZE, CLUSTER, REINDEX.
//
// admin: SET ROLE, RESET ROLE, SET and RESET SESSION AUTHORIZATION, SET of any setting not
// on the harmless list, ALTER SYSTEM, LOAD, CHECKPOINT, DO, CALL, CREATE FUNCTION and
// CREATE PROCEDURE (they define code that runs on the server), CREATE LANGUAGE, EXTENSION,
// ACCESS METHOD and EVENT TRIGGER, foreign data wrappers, servers, user mappings and
// subscriptions (they connect to other servers), tablespaces (server directories), roles
// (CREATE, ALTER, DROP ROLE, GRANT and REVOKE of roles, REASSIGN OWNED), ALTER ROLE and
// ALTER DATABASE ... SET (they change future sessions' settings), PREPARE TRANSACTION,
// COMMIT PREPARED and ROLLBACK PREPARED (two-phase commit needs server configuration and
// leaves transactions behind), COPY ... PROGRAM, COPY to or from a server file, writes to
// pg_settings or any pg_catalog table (UPDATE pg_settings is SET in disguise), EXECUTE
// (see below), and calls, anywhere in the tree, of functions that reach server files,
// programs, other sessions, other servers or server settings, or that run SQL given as a
// string: pg_read_file, pg_read_binary_file, pg_ls_*, pg_stat_file, lo_import, lo_export,
// dblink*, set_config, pg_terminate_backend, pg_cancel_backend, pg_reload_conf,
// pg_rotate_logfile, query_to_xml*, cursor_to_xml*, table_to_xml*, schema_to_xml*,
// database_to_xml*, ts_stat, pg_logical_*, pg_create_*, pg_drop_replication_slot,
// pg_switch_wal, pg_promote, pg_file_*, pg_stat_reset*, and others (funcs.go). Functions
// are matched by name whatever their schema or quoting, and also when called with
// attribute notation (t.pg_read_file). Finally: a text that does not parse, a NUL byte,
// and any node or field of the parse tree the walker does not know (one only found in
// analysed trees, or one from a newer parser) are admin.
//
// # Too complex to analyse
//
// A text the parser cannot analyse safely is not a class but an error wrapping
// ErrTooComplex, which the caller refuses whatever the policy: a tree deeper than the
// parse tree's decoder accepts (10,000 messages, which also bounds every recursive walk
// over it, this package's included), a text deeper than PostgreSQL's grammar accepts (its
// "memory exhausted"), and what the Parser itself refuses before parsing (classify/native:
// a text over 1 MiB, a chain of more than 20,000 operators). classify/native also keeps
// libpg_query's C recursion from overflowing the stack: see its package documentation.
//
// # Code the database defines
//
// A function of the database's own (not one of initdb's built-ins) may UPDATE even when
// called from a SELECT; so may the function behind a user's operator or cast, a view's
// query, a table's row-level security policy, an aggregate's transition function, or a
// function's argument default. The walk cannot judge those from the text: it lists them
// in Statement.Refs, and Resolver.Resolve judges them against a snapshot of the database's
// catalog (catalog.go): a VOLATILE function, or one in a language other than sql and
// plpgsql, is write unless the policy lists it under functions.read; an unknown one is
// write. Without a catalog (hoop policy explain and test) built-ins are known by name
// (builtins.txt) and any other function is write, saying that the gateway decides by its
// catalog.
//
// # Always allowed
//
// Transaction control and harmless session settings have Always set and class read: a
// policy allows them even to a grant that allows nothing else. They are BEGIN and START
// TRANSACTION (READ ONLY, ISOLATION LEVEL, DEFERRABLE), COMMIT, END, ROLLBACK, ABORT,
// SAVEPOINT, RELEASE, ROLLBACK TO, SET CONSTRAINTS, DISCARD, DEALLOCATE, CLOSE, and SET,
// SET LOCAL and RESET of the settings in harmlessSettings (settings.go: search_path,
// application_name, DateStyle, TimeZone, statement_timeout, work_mem, planner settings,
// ...). Three settings are harmless only with some values: default_transaction_read_only
// and transaction_read_only when set to true; standard_conforming_strings when set to on
// (off would make the server read backslashes in '...' while the gateway's parser does
// not, so a quote could end a literal for one and not the other); client_encoding when set
// to an encoding in which no byte of a multibyte character is ASCII (not SJIS, BIG5, GBK,
// UHC, GB18030 or JOHAB, whose second bytes can be a backslash or a quote). The engine must
// hold the StartupMessage's parameters to the same rules, and should make a read-only
// session read-only there (or by role), so that RESET and DISCARD ALL return to it.
//
// # Prepared statements
//
// PREPARE name AS stmt has the class of stmt. EXECUTE name cannot be classified from its
// text: it is admin with Executes = "name", so that the engine uses instead the class
// PREPARE (or a protocol-level Parse) recorded. Executes is set only when EXECUTE's
// arguments only read. DEALLOCATE is always allowed.
//
// Cursors likewise: DECLARE c CURSOR FOR q has the class of q and Declares = "c"; FETCH and
// MOVE run more of q (a volatile function in its target list runs at FETCH time), so they
// are admin with Fetches = "c", for the engine to use the class the DECLARE recorded. CLOSE
// names the cursor it closes (Closes); DEALLOCATE ALL, CLOSE ALL and DISCARD ALL set
// DeallocatesAll and ClosesAll. The engine applies these names' changes only once the
// database has run the statement.
//
// # Cache
//
// A Classifier keeps the statements of the most recent distinct texts (an LRU keyed by the
// exact text, up to 32 KiB), so that a repeated text skips the parser; callers get copies.
package classify
