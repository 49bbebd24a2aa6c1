package classify

import (
	"strings"

	"github.com/hoopgw/hoop/policy"
)

// Functions are matched by their last name part, lowercased, whatever the schema:
// pg_catalog.pg_read_file, "pg_read_file" and myschema.pg_read_file are all admin. A
// user's own function that shares a name is judged as the built-in (stricter, never
// looser).

// adminFuncs reach outside the database or its privileges: server files and programs,
// other servers, other sessions, server settings and replication, or they run SQL given
// as a string, which the gateway cannot see.
var adminFuncs = map[string]bool{
	// server files
	"pg_stat_file": true, "pg_logdir_ls": true, "pg_current_logfile": true,
	"lo_import": true, "lo_export": true,
	"pg_show_all_file_settings": true, "pg_hba_file_rules": true, "pg_ident_file_mappings": true,
	// settings: set_config is SET in a function call (SET ROLE too)
	"set_config": true,
	// other sessions and the server
	"pg_terminate_backend": true, "pg_cancel_backend": true, "pg_signal_backend": true,
	"pg_reload_conf": true, "pg_rotate_logfile": true, "pg_rotate_logfile_old": true,
	"pg_switch_wal": true, "pg_switch_xlog": true, "pg_promote": true,
	"pg_drop_replication_slot": true, "pg_replication_slot_advance": true,
	"pg_sync_replication_slots": true,
	"pg_start_backup":           true, "pg_stop_backup": true, "pg_backup_start": true, "pg_backup_stop": true,
	"pg_import_system_collations": true, "pg_nextoid": true, "pg_truncate_visibility_map": true,
	"pg_stat_statements_reset": true,
	// they run SQL given as a string (or a cursor), which the gateway cannot classify
	"query_to_xml": true, "query_to_xmlschema": true, "query_to_xml_and_xmlschema": true,
	"cursor_to_xml": true, "cursor_to_xmlschema": true,
	"ts_stat": true, "connectby": true, "xpath_table": true,
}

// adminPrefixes name families of admin functions.
var adminPrefixes = []string{
	"pg_read_",        // pg_read_file, pg_read_binary_file
	"pg_ls_",          // pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, ...
	"pg_file_",        // adminpack: pg_file_write, pg_file_rename, pg_file_unlink, ...
	"dblink",          // dblink, dblink_exec, dblink_connect, dblink_open, ...
	"table_to_xml",    // table_to_xml, table_to_xmlschema, table_to_xml_and_xmlschema
	"schema_to_xml",   // schema_to_xml, ...
	"database_to_xml", // database_to_xml, ...
	"crosstab",        // tablefunc: crosstab(text), crosstab2, ...: SQL given as a string
	"pg_logical_",     // pg_logical_slot_get_changes, pg_logical_emit_message, ...
	"pg_create_",      // pg_create_logical_replication_slot, pg_create_restore_point, ...
	"pg_copy_",        // pg_copy_logical_replication_slot, ...
	"pg_replication_origin_",
	"pg_wal_replay_", "pg_xlog_replay_",
	"pg_stat_reset", // pg_stat_reset, pg_stat_reset_shared, ...
	"pg_log_",       // pg_log_backend_memory_contexts, pg_log_standby_snapshot
	"binary_upgrade_",
}

// writeFuncs change data or state that other sessions see, or hold locks.
var writeFuncs = map[string]bool{
	"nextval": true, "setval": true,
	"pg_notify": true,
	// large objects: lo_import and lo_export are admin (server files)
	"lo_create": true, "lo_creat": true, "lo_unlink": true, "lo_put": true, "lo_from_bytea": true,
	"lo_truncate": true, "lo_truncate64": true, "lowrite": true,
}

// writePrefixes name families of write functions.
var writePrefixes = []string{
	"pg_advisory_",     // pg_advisory_lock, pg_advisory_xact_lock_shared, pg_advisory_unlock_all, ...
	"pg_try_advisory_", // pg_try_advisory_lock, ...
}

// funcClass returns the class a call of the function named name with nargs arguments
// needs, and false for a function that only reads.
func funcClass(name string, nargs int) (policy.Class, bool) {
	name = strings.ToLower(name)
	if adminFuncs[name] || hasPrefix(name, adminPrefixes) {
		return policy.Admin, true
	}
	if name == "ts_rewrite" && nargs == 2 {
		return policy.Admin, true // ts_rewrite(query, 'SELECT ...') runs the SQL
	}
	if strings.HasPrefix(name, "pg_advisory_unlock") {
		return policy.Read, false // releases the session's own advisory locks (poolers send pg_advisory_unlock_all())
	}
	if writeFuncs[name] || hasPrefix(name, writePrefixes) {
		return policy.Write, true
	}
	return policy.Read, false
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
