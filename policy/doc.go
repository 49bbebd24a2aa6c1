// Package policy reads hoop's access policy files and decides, for an identity, what it may
// do on a connection. It is pure: no sockets, no clocks, and no I/O except Load reading the
// files it is given.
//
// A policy is one or more YAML files (the gateway config's policy_files), merged into one
// Policy. Every problem is reported with its file, line and field path, all at once:
//
//	policy.yaml:19: rules[0].allow[0]: unknown class 'wirte' (did you mean write?)
//
// # Decisions
//
// A statement has one Class: read < write < ddl < admin. For an identity, a connection and
// a class, the rules that match are those naming one of the identity's groups and the
// connection (or "*"). Among them:
//
//  1. deny wins: if any matching rule denies the class, the statement is denied;
//  2. then review: if any matching rule holds the class for review, it is held;
//  3. then allow: if any matching rule (or an active JIT grant) allows it, it runs;
//  4. otherwise it is denied (default deny).
//
// An explicit deny or review in one rule is never lifted by another rule: a person in both
// engineering and dba gets engineering's deny of ddl on db-prod. Groups are compared exactly
// (case-sensitive).
//
// # Functions
//
// functions lists, per connection, the database's own functions that only read though
// the catalog cannot vouch for it (VOLATILE, or in a language such as C whose volatility
// PostgreSQL does not enforce): the gateway classes their calls read. Patterns are
// schema.name with '*' for any run of characters:
//
//	functions:
//	  - connections: [db-prod]
//	    read: [public.report_*, reports.*]
//	    extensions: [postgis]    # its STABLE and IMMUTABLE functions, as for a trusted extension
package policy
