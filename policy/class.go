package policy

import (
	"errors"
	"fmt"

	"github.com/hoopgw/hoop/internal/yamlfile"
)

// Class is the class of a statement, as the SQL analysis assigns it. Classes are ordered
// read < write < ddl < admin: a higher class needs a more powerful database role.
type Class string

// The statement classes, in order.
const (
	Read  Class = "read"  // SELECT, SHOW, EXPLAIN, VALUES, TABLE, read-only functions
	Write Class = "write" // INSERT, UPDATE, DELETE, MERGE, COPY FROM, row locks, nextval
	DDL   Class = "ddl"   // CREATE, ALTER, DROP, TRUNCATE, GRANT, VACUUM, …
	Admin Class = "admin" // SET ROLE, ALTER SYSTEM, DO, COPY … PROGRAM, server files, dblink
)

// Sentinel errors.
var (
	// ErrUnknownClass is returned (wrapped) by ParseClass for a name that is not a class.
	ErrUnknownClass = errors.New("unknown class")
	// ErrNoFiles is returned by Load when it is given no file.
	ErrNoFiles = errors.New("no policy files")
	// ErrUnknownDecision is returned (wrapped) by ParseDecision for a name that is not a
	// decision.
	ErrUnknownDecision = errors.New("unknown decision")
)

// Classes returns every class, in order read, write, ddl, admin.
func Classes() []Class { return []Class{Read, Write, DDL, Admin} }

// ParseClass returns the class named s: "read", "write", "ddl" or "admin".
func ParseClass(s string) (Class, error) {
	if c := Class(s); c.rank() > 0 {
		return c, nil
	}
	return "", fmt.Errorf("%w '%s'%s", ErrUnknownClass, s, yamlfile.DidYouMean(s, classNames()))
}

// rank is 1 for read up to 4 for admin, 0 for anything else.
func (c Class) rank() int {
	switch c {
	case Read:
		return 1
	case Write:
		return 2
	case DDL:
		return 3
	case Admin:
		return 4
	}
	return 0
}

func classNames() []string { return []string{"read", "write", "ddl", "admin"} }

// Decision is what happens to a statement. The zero value is Deny, so a forgotten decision
// fails closed.
type Decision int

// The decisions.
const (
	Deny   Decision = iota // refused, with the rule and the reason
	Review                 // held until an approver says yes
	Allow                  // forwarded
)

// String returns "deny", "review" or "allow".
func (d Decision) String() string {
	switch d {
	case Deny:
		return "deny"
	case Review:
		return "review"
	case Allow:
		return "allow"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// MarshalText writes the decision as String does, for JSON logs and audit events.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
