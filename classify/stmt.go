package classify

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/hoopgw/hoop/policy"
)

// info is what a statement node is on its own, before what it contains is looked at.
type info struct {
	kind   string       // command tag: "CREATE TABLE"
	class  policy.Class // the class of the statement itself
	reason string       // why, when the kind does not say it
	always bool         // allowed whatever the policy (transaction control, harmless SET)
}

const (
	rolesReason   = "it changes roles and their privileges"
	remoteReason  = "foreign servers and subscriptions connect to other servers"
	codeReason    = "it installs code that runs on the database server"
	twoPhase      = "two-phase commit leaves a prepared transaction behind the session"
	tablespaceWhy = "tablespaces are directories on the database server"
)

// describe returns what the statement node m is; ok is false when m is not a statement.
func describe(m proto.Message) (in info, ok bool) {
	ddl := func(kind string) (info, bool) { return info{kind: kind, class: policy.DDL}, true }
	admin := func(kind, reason string) (info, bool) {
		return info{kind: kind, class: policy.Admin, reason: reason}, true
	}
	read := func(kind string) (info, bool) { return info{kind: kind, class: policy.Read}, true }
	always := func(kind string) (info, bool) {
		return info{kind: kind, class: policy.Read, always: true}, true
	}
	write := func(kind, reason string) (info, bool) {
		return info{kind: kind, class: policy.Write, reason: reason}, true
	}

	switch x := m.(type) {
	// reading
	case *pg_query.SelectStmt:
		switch {
		case x.GetIntoClause() != nil:
			return write("SELECT", "SELECT INTO creates a table")
		case len(x.GetLockingClause()) > 0:
			return write("SELECT", "SELECT "+lockStrength(x.GetLockingClause())+" locks rows")
		}
		return read("SELECT")
	case *pg_query.VariableShowStmt:
		return read("SHOW")
	case *pg_query.ExplainStmt:
		return read("EXPLAIN")
	case *pg_query.DeclareCursorStmt:
		return read("DECLARE CURSOR")
	case *pg_query.FetchStmt:
		if x.GetIsmove() {
			return read("MOVE")
		}
		return read("FETCH")
	case *pg_query.PrepareStmt:
		return read("PREPARE") // the class of what it prepares, which the walk adds
	case *pg_query.ReturnStmt:
		return read("RETURN") // only inside CREATE FUNCTION ... BEGIN ATOMIC

	// always allowed
	case *pg_query.TransactionStmt:
		return transaction(x), true
	case *pg_query.VariableSetStmt:
		return setting(x), true
	case *pg_query.ClosePortalStmt:
		return always("CLOSE")
	case *pg_query.DeallocateStmt:
		return always("DEALLOCATE")
	case *pg_query.DiscardStmt:
		return always("DISCARD")
	case *pg_query.ConstraintsSetStmt:
		return always("SET CONSTRAINTS")

	// writing
	case *pg_query.InsertStmt:
		return dml("INSERT", x.GetRelation()), true
	case *pg_query.UpdateStmt:
		return dml("UPDATE", x.GetRelation()), true
	case *pg_query.DeleteStmt:
		return dml("DELETE", x.GetRelation()), true
	case *pg_query.MergeStmt:
		return dml("MERGE", x.GetRelation()), true
	case *pg_query.CopyStmt:
		switch {
		case x.GetIsProgram():
			return admin("COPY", "COPY ... PROGRAM runs a program on the database server")
		case x.GetFilename() != "":
			return admin("COPY", "COPY with a file reads or writes a file on the database server")
		case x.GetIsFrom():
			return write("COPY", "COPY FROM loads rows")
		}
		return read("COPY")
	case *pg_query.LockStmt:
		if x.GetMode() == accessShareLock {
			// The lock every SELECT takes (pg_dump takes it on each table it dumps): it
			// blocks only what a reader's SELECT blocks too.
			return read("LOCK TABLE")
		}
		return write("LOCK TABLE", "LOCK TABLE takes locks that block other sessions")
	case *pg_query.NotifyStmt:
		return write("NOTIFY", "NOTIFY sends a message that other sessions receive")
	case *pg_query.ListenStmt:
		return write("LISTEN", "LISTEN subscribes the session to messages from other sessions")
	case *pg_query.UnlistenStmt:
		return always("UNLISTEN") // drops the session's own subscriptions (poolers send UNLISTEN *)

	// admin
	case *pg_query.ExecuteStmt:
		return admin("EXECUTE", "EXECUTE runs a prepared statement its text does not show")
	case *pg_query.DoStmt:
		return admin("DO", "DO runs code on the database server")
	case *pg_query.CallStmt:
		return admin("CALL", "CALL runs a procedure")
	case *pg_query.CreateFunctionStmt:
		if x.GetIsProcedure() {
			return admin("CREATE PROCEDURE", "CREATE PROCEDURE defines code that runs on the database server")
		}
		return admin("CREATE FUNCTION", "CREATE FUNCTION defines code that runs on the database server")
	case *pg_query.AlterSystemStmt:
		return admin("ALTER SYSTEM", "ALTER SYSTEM changes the server's configuration")
	case *pg_query.LoadStmt:
		return admin("LOAD", "LOAD loads a library into the database server")
	case *pg_query.CheckPointStmt:
		return admin("CHECKPOINT", "CHECKPOINT is server maintenance")
	case *pg_query.CreateRoleStmt:
		return admin("CREATE ROLE", rolesReason)
	case *pg_query.AlterRoleStmt:
		return admin("ALTER ROLE", rolesReason)
	case *pg_query.AlterRoleSetStmt:
		return admin("ALTER ROLE", "ALTER ROLE ... SET changes the settings of the role's future sessions")
	case *pg_query.DropRoleStmt:
		return admin("DROP ROLE", rolesReason)
	case *pg_query.GrantRoleStmt:
		if x.GetIsGrant() {
			return admin("GRANT ROLE", rolesReason)
		}
		return admin("REVOKE ROLE", rolesReason)
	case *pg_query.ReassignOwnedStmt:
		return admin("REASSIGN OWNED", rolesReason)
	case *pg_query.AlterDatabaseSetStmt:
		return admin("ALTER DATABASE", "ALTER DATABASE ... SET changes the settings of every future session")
	case *pg_query.CreateExtensionStmt:
		return admin("CREATE EXTENSION", codeReason)
	case *pg_query.AlterExtensionStmt:
		return admin("ALTER EXTENSION", codeReason)
	case *pg_query.CreatePLangStmt:
		return admin("CREATE LANGUAGE", codeReason)
	case *pg_query.CreateAmStmt:
		return admin("CREATE ACCESS METHOD", codeReason)
	case *pg_query.CreateEventTrigStmt:
		return admin("CREATE EVENT TRIGGER", "event triggers run code on every DDL statement")
	case *pg_query.AlterEventTrigStmt:
		return admin("ALTER EVENT TRIGGER", "event triggers run code on every DDL statement")
	case *pg_query.CreateFdwStmt:
		return admin("CREATE FOREIGN DATA WRAPPER", remoteReason)
	case *pg_query.AlterFdwStmt:
		return admin("ALTER FOREIGN DATA WRAPPER", remoteReason)
	case *pg_query.CreateForeignServerStmt:
		return admin("CREATE SERVER", remoteReason)
	case *pg_query.AlterForeignServerStmt:
		return admin("ALTER SERVER", remoteReason)
	case *pg_query.CreateUserMappingStmt:
		return admin("CREATE USER MAPPING", remoteReason)
	case *pg_query.AlterUserMappingStmt:
		return admin("ALTER USER MAPPING", remoteReason)
	case *pg_query.DropUserMappingStmt:
		return admin("DROP USER MAPPING", remoteReason)
	case *pg_query.CreateSubscriptionStmt:
		return admin("CREATE SUBSCRIPTION", remoteReason)
	case *pg_query.AlterSubscriptionStmt:
		return admin("ALTER SUBSCRIPTION", remoteReason)
	case *pg_query.DropSubscriptionStmt:
		return admin("DROP SUBSCRIPTION", remoteReason)
	case *pg_query.CreateTableSpaceStmt:
		return admin("CREATE TABLESPACE", tablespaceWhy)
	case *pg_query.DropTableSpaceStmt:
		return admin("DROP TABLESPACE", tablespaceWhy)
	case *pg_query.AlterTableSpaceOptionsStmt:
		return admin("ALTER TABLESPACE", tablespaceWhy)

	// ddl
	case *pg_query.CreateStmt:
		return ddl("CREATE TABLE")
	case *pg_query.CreateForeignTableStmt:
		return ddl("CREATE FOREIGN TABLE")
	case *pg_query.CreateTableAsStmt:
		if x.GetObjtype() == pg_query.ObjectType_OBJECT_MATVIEW {
			return ddl("CREATE MATERIALIZED VIEW")
		}
		return ddl("CREATE TABLE AS")
	case *pg_query.ViewStmt:
		return ddl("CREATE VIEW")
	case *pg_query.IndexStmt:
		return ddl("CREATE INDEX")
	case *pg_query.CreateSeqStmt:
		return ddl("CREATE SEQUENCE")
	case *pg_query.AlterSeqStmt:
		return ddl("ALTER SEQUENCE")
	case *pg_query.CreateSchemaStmt:
		return ddl("CREATE SCHEMA")
	case *pg_query.CreatedbStmt:
		return ddl("CREATE DATABASE")
	case *pg_query.AlterDatabaseStmt:
		return ddl("ALTER DATABASE")
	case *pg_query.AlterDatabaseRefreshCollStmt:
		return ddl("ALTER DATABASE")
	case *pg_query.DropdbStmt:
		return ddl("DROP DATABASE")
	case *pg_query.AlterTableStmt:
		return ddl("ALTER " + objectName(x.GetObjtype()))
	case *pg_query.ReplicaIdentityStmt:
		return ddl("ALTER TABLE")
	case *pg_query.AlterTableMoveAllStmt:
		return ddl("ALTER " + objectName(x.GetObjtype()))
	case *pg_query.DropStmt:
		return ddl("DROP " + objectName(x.GetRemoveType()))
	case *pg_query.TruncateStmt:
		return ddl("TRUNCATE TABLE")
	case *pg_query.CommentStmt:
		return ddl("COMMENT")
	case *pg_query.SecLabelStmt:
		return ddl("SECURITY LABEL")
	case *pg_query.GrantStmt:
		if x.GetIsGrant() {
			return ddl("GRANT")
		}
		return ddl("REVOKE")
	case *pg_query.AlterDefaultPrivilegesStmt:
		return ddl("ALTER DEFAULT PRIVILEGES")
	case *pg_query.RenameStmt:
		t := x.GetRenameType()
		if t == pg_query.ObjectType_OBJECT_COLUMN || t == pg_query.ObjectType_OBJECT_ATTRIBUTE ||
			t == pg_query.ObjectType_OBJECT_TABCONSTRAINT || t == pg_query.ObjectType_OBJECT_TRIGGER ||
			t == pg_query.ObjectType_OBJECT_RULE || t == pg_query.ObjectType_OBJECT_POLICY {
			t = x.GetRelationType()
		}
		return ddl("ALTER " + objectName(t))
	case *pg_query.AlterObjectSchemaStmt:
		return ddl("ALTER " + objectName(x.GetObjectType()))
	case *pg_query.AlterOwnerStmt:
		return ddl("ALTER " + objectName(x.GetObjectType()))
	case *pg_query.AlterObjectDependsStmt:
		return ddl("ALTER " + objectName(x.GetObjectType()))
	case *pg_query.AlterFunctionStmt:
		return ddl("ALTER " + objectName(x.GetObjtype()))
	case *pg_query.DefineStmt:
		return ddl("CREATE " + objectName(x.GetKind()))
	case *pg_query.CompositeTypeStmt, *pg_query.CreateEnumStmt, *pg_query.CreateRangeStmt:
		return ddl("CREATE TYPE")
	case *pg_query.AlterEnumStmt, *pg_query.AlterTypeStmt:
		return ddl("ALTER TYPE")
	case *pg_query.CreateDomainStmt:
		return ddl("CREATE DOMAIN")
	case *pg_query.AlterDomainStmt:
		return ddl("ALTER DOMAIN")
	case *pg_query.AlterCollationStmt:
		return ddl("ALTER COLLATION")
	case *pg_query.CreateTrigStmt:
		return ddl("CREATE TRIGGER")
	case *pg_query.RuleStmt:
		return ddl("CREATE RULE")
	case *pg_query.CreatePolicyStmt:
		return ddl("CREATE POLICY")
	case *pg_query.AlterPolicyStmt:
		return ddl("ALTER POLICY")
	case *pg_query.CreateStatsStmt:
		return ddl("CREATE STATISTICS")
	case *pg_query.AlterStatsStmt:
		return ddl("ALTER STATISTICS")
	case *pg_query.CreateOpClassStmt:
		return ddl("CREATE OPERATOR CLASS")
	case *pg_query.CreateOpFamilyStmt:
		return ddl("CREATE OPERATOR FAMILY")
	case *pg_query.AlterOpFamilyStmt:
		return ddl("ALTER OPERATOR FAMILY")
	case *pg_query.AlterOperatorStmt:
		return ddl("ALTER OPERATOR")
	case *pg_query.CreateConversionStmt:
		return ddl("CREATE CONVERSION")
	case *pg_query.CreateCastStmt:
		return ddl("CREATE CAST")
	case *pg_query.CreateTransformStmt:
		return ddl("CREATE TRANSFORM")
	case *pg_query.AlterTSDictionaryStmt:
		return ddl("ALTER TEXT SEARCH DICTIONARY")
	case *pg_query.AlterTSConfigurationStmt:
		return ddl("ALTER TEXT SEARCH CONFIGURATION")
	case *pg_query.AlterExtensionContentsStmt:
		return ddl("ALTER EXTENSION")
	case *pg_query.ImportForeignSchemaStmt:
		return ddl("IMPORT FOREIGN SCHEMA")
	case *pg_query.CreatePublicationStmt:
		return ddl("CREATE PUBLICATION")
	case *pg_query.AlterPublicationStmt:
		return ddl("ALTER PUBLICATION")
	case *pg_query.DropOwnedStmt:
		return ddl("DROP OWNED")
	case *pg_query.RefreshMatViewStmt:
		return ddl("REFRESH MATERIALIZED VIEW")
	case *pg_query.VacuumStmt:
		if x.GetIsVacuumcmd() {
			return ddl("VACUUM")
		}
		return ddl("ANALYZE")
	case *pg_query.ClusterStmt:
		return ddl("CLUSTER")
	case *pg_query.ReindexStmt:
		return ddl("REINDEX")
	}
	return info{}, false
}

// dml is INSERT, UPDATE, DELETE or MERGE into target. A write to the system catalogs is
// admin: UPDATE pg_settings is SET (SET ROLE included) in another form.
func dml(kind string, target *pg_query.RangeVar) info {
	if target.GetRelname() == "pg_settings" || strings.EqualFold(target.GetSchemaname(), "pg_catalog") {
		return info{kind: kind, class: policy.Admin, reason: kind + " of a system catalog changes the server's state"}
	}
	return info{kind: kind, class: policy.Write}
}

// transaction classifies BEGIN, COMMIT, SAVEPOINT and the rest of transaction control.
func transaction(x *pg_query.TransactionStmt) info {
	always := func(kind string) info { return info{kind: kind, class: policy.Read, always: true} }
	switch x.GetKind() {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		kind := "BEGIN"
		if x.GetKind() == pg_query.TransactionStmtKind_TRANS_STMT_START {
			kind = "START TRANSACTION"
		}
		readWrite, ok := transactionModes(x.GetOptions())
		switch {
		case !ok:
			return info{kind: kind, class: policy.Admin, reason: "unknown transaction mode"}
		case readWrite:
			return info{kind: kind, class: policy.Write, reason: kind + " READ WRITE " + liftsReadOnly}
		}
		return always(kind)
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		return always("COMMIT")
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return always("ROLLBACK")
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return always("SAVEPOINT")
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return always("RELEASE")
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		return info{kind: "PREPARE TRANSACTION", class: policy.Admin, reason: twoPhase}
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		return info{kind: "COMMIT PREPARED", class: policy.Admin, reason: twoPhase}
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return info{kind: "ROLLBACK PREPARED", class: policy.Admin, reason: twoPhase}
	}
	return info{kind: "UNKNOWN", class: policy.Admin, reason: "unknown transaction statement"}
}

// lockStrength names the strongest row lock of a SELECT's locking clauses: "FOR UPDATE".
func lockStrength(clauses []*pg_query.Node) string {
	best := pg_query.LockClauseStrength_LCS_NONE
	for _, c := range clauses {
		if s := c.GetLockingClause().GetStrength(); s > best {
			best = s
		}
	}
	switch best {
	case pg_query.LockClauseStrength_LCS_FORKEYSHARE:
		return "FOR KEY SHARE"
	case pg_query.LockClauseStrength_LCS_FORSHARE:
		return "FOR SHARE"
	case pg_query.LockClauseStrength_LCS_FORNOKEYUPDATE:
		return "FOR NO KEY UPDATE"
	}
	return "FOR UPDATE"
}

// objectNames spells the object types whose enum name is not their SQL name.
var objectNames = map[pg_query.ObjectType]string{
	pg_query.ObjectType_OBJECT_MATVIEW:         "MATERIALIZED VIEW",
	pg_query.ObjectType_OBJECT_FDW:             "FOREIGN DATA WRAPPER",
	pg_query.ObjectType_OBJECT_FOREIGN_SERVER:  "SERVER",
	pg_query.ObjectType_OBJECT_TSCONFIGURATION: "TEXT SEARCH CONFIGURATION",
	pg_query.ObjectType_OBJECT_TSDICTIONARY:    "TEXT SEARCH DICTIONARY",
	pg_query.ObjectType_OBJECT_TSPARSER:        "TEXT SEARCH PARSER",
	pg_query.ObjectType_OBJECT_TSTEMPLATE:      "TEXT SEARCH TEMPLATE",
	pg_query.ObjectType_OBJECT_OPCLASS:         "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_OPFAMILY:        "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_LARGEOBJECT:     "LARGE OBJECT",
	pg_query.ObjectType_OBJECT_STATISTIC_EXT:   "STATISTICS",
	pg_query.ObjectType_OBJECT_TABCONSTRAINT:   "TABLE",
	pg_query.ObjectType_OBJECT_DOMCONSTRAINT:   "DOMAIN",
	pg_query.ObjectType_OBJECT_ATTRIBUTE:       "TYPE",
	pg_query.ObjectType_OBJECT_COLUMN:          "TABLE",
	pg_query.ObjectType_OBJECT_DEFACL:          "DEFAULT PRIVILEGES",
	pg_query.ObjectType_OBJECT_TYPE_UNDEFINED:  "OBJECT",
}

// objectName is the SQL name of an object type: "TABLE", "MATERIALIZED VIEW".
func objectName(t pg_query.ObjectType) string {
	if s, ok := objectNames[t]; ok {
		return s
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}

// accessShareLock is PostgreSQL's AccessShareLock, LockStmt's mode for ACCESS SHARE.
const accessShareLock = 1
