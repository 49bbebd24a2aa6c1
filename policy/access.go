package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hoopgw/hoop/internal/yamlfile"
)

// Identity is who is asking, as the gateway verified it from an OIDC token.
type Identity struct {
	Subject string   // "00u1abcd": the token's sub
	Email   string   // "ana@example.com"
	Groups  []string // ["engineering"]: from the configured groups claim
	Grants  []Grant  // approved, unexpired JIT grants; the caller drops expired ones
}

// Grant is an approved just-in-time request. It allows its classes on its connection for
// as long as the caller keeps it in Identity.Grants, and only while the policy still has
// its JIT rule, the identity is still in one of that rule's groups, and the rule still
// covers the connection and the classes: a policy reload that narrows a JIT rule narrows
// the grants made under it.
type Grant struct {
	JIT        string  // "contractors-prod": the JIT rule it was granted under
	Connection string  // "db-prod"
	Classes    []Class // [read]: an empty list allows nothing
}

// Access is what an identity may do on a connection, for listing connections and opening
// a tunnel. Statements are still decided one by one with Decide.
type Access struct {
	Classes []Class  // allowed or held for review, in order read < write < ddl < admin
	Review  []Class  // those of Classes that are held for review
	Rules   []string // rules (and JIT grants) that allow or review one of Classes
	JIT     []string // JIT rules the identity may ask a grant under, for this connection
	Allowed bool     // Classes is not empty
	Reason  string   // why not, when !Allowed: "no rule grants access to db-prod to groups [sales]"
}

// Decide decides a statement of class class on connection by identity id. The precedence,
// across every rule whose groups and connections match: deny > review > allow, and deny by
// default; an active JIT grant counts as an allow. rule names the rule (or JIT rule) that
// decided, empty for the default deny; reason is a sentence for the person:
//
//	denied by rule engineers-read-prod: ddl statements are not allowed on db-prod
//	no rule grants write on db-prod to groups [analytics]
func (p *Policy) Decide(id Identity, connection string, class Class) (d Decision, rule, reason string) {
	if class.rank() == 0 {
		return Deny, "", fmt.Sprintf("statement class %q is unknown and denied", class)
	}
	var review, allow string
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.matches(id.Groups, connection) {
			continue
		}
		switch {
		case slices.Contains(r.Deny, class):
			return Deny, r.Name, fmt.Sprintf("denied by rule %s: %s statements are not allowed on %s", r.Name, class, connection)
		case review == "" && slices.Contains(r.Review, class):
			review = r.Name
		case allow == "" && slices.Contains(r.Allow, class):
			allow = r.Name
		}
	}
	if review != "" {
		return Review, review, fmt.Sprintf("held by rule %s: %s statements on %s need an approval", review, class, connection)
	}
	if allow != "" {
		return Allow, allow, fmt.Sprintf("allowed by rule %s: %s statements on %s", allow, class, connection)
	}
	if j := p.granted(id, connection, class); j != "" {
		return Allow, j, fmt.Sprintf("allowed by a just-in-time grant under %s: %s statements on %s", j, class, connection)
	}
	return Deny, "", fmt.Sprintf("no rule grants %s on %s %s", class, connection, toGroups(id.Groups))
}

// MaxLevel returns the highest class id may run on connection, allowed or held for review,
// so that the gateway logs in upstream with the least powerful role that can run it. ok is
// false when id may run nothing there.
func (p *Policy) MaxLevel(id Identity, connection string) (c Class, ok bool) {
	classes := Classes()
	for i := len(classes) - 1; i >= 0; i-- {
		if d, _, _ := p.Decide(id, connection, classes[i]); d != Deny {
			return classes[i], true
		}
	}
	return "", false
}

// Access returns what id may do on connection. A rule that only denies grants nothing, so
// a person whose groups match no allowing or reviewing rule (and who holds no grant) gets
// Allowed false.
func (p *Policy) Access(id Identity, connection string) Access {
	var a Access
	for _, c := range Classes() {
		d, _, _ := p.Decide(id, connection, c)
		if d == Deny {
			continue
		}
		a.Classes = append(a.Classes, c)
		if d == Review {
			a.Review = append(a.Review, c)
		}
		// Every rule that grants c, not only the first: the list says why access exists.
		for _, r := range p.Rules {
			if r.matches(id.Groups, connection) && (slices.Contains(r.Allow, c) || slices.Contains(r.Review, c)) &&
				!slices.Contains(a.Rules, r.Name) {
				a.Rules = append(a.Rules, r.Name)
			}
		}
		if j := p.granted(id, connection, c); j != "" && !slices.Contains(a.Rules, j) {
			a.Rules = append(a.Rules, j)
		}
	}
	for _, j := range p.JIT {
		if intersects(id.Groups, j.Groups) && matchConnection(j.Connections, connection) {
			a.JIT = append(a.JIT, j.Name)
		}
	}
	a.Allowed = len(a.Classes) > 0
	if !a.Allowed {
		a.Reason = fmt.Sprintf("no rule grants access to %s %s", connection, toGroups(id.Groups))
		if len(a.JIT) > 0 {
			a.Reason += fmt.Sprintf("; just-in-time access may be requested (%s)", strings.Join(a.JIT, ", "))
		}
	}
	return a
}

// granted returns the JIT rule of a grant of id that allows class on connection, or "".
func (p *Policy) granted(id Identity, connection string, class Class) string {
	for _, g := range id.Grants {
		if g.Connection != connection || !slices.Contains(g.Classes, class) {
			continue
		}
		for _, j := range p.JIT {
			if j.Name == g.JIT && intersects(id.Groups, j.Groups) && matchConnection(j.Connections, connection) &&
				slices.Contains(j.Access, class) {
				return j.Name
			}
		}
	}
	return ""
}

// CheckReferences returns an error for each connection name the policy uses that is not
// one of connections (the gateway config's), with a did-you-mean. A rule for an unknown
// connection is harmless but most likely a typo that leaves someone without access.
func (p *Policy) CheckReferences(connections []string) []error {
	var errs []error
	for _, ref := range p.refs {
		if ref.name == "*" || slices.Contains(connections, ref.name) {
			continue
		}
		errs = append(errs, &Error{File: ref.pos.File, Line: ref.pos.Line, Field: ref.field,
			Msg: "unknown connection " + ref.name + yamlfile.DidYouMean(ref.name, connections)})
	}
	return errs
}

func (r *Rule) matches(groups []string, connection string) bool {
	return intersects(groups, r.Groups) && matchConnection(r.Connections, connection)
}

func matchConnection(patterns []string, connection string) bool {
	return connection != "" && (slices.Contains(patterns, connection) || slices.Contains(patterns, "*"))
}

func intersects(a, b []string) bool {
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}

// toGroups renders groups for a reason: "to groups [analytics]".
func toGroups(groups []string) string {
	if len(groups) == 0 {
		return "to an identity in no group"
	}
	return fmt.Sprintf("to groups %v", groups)
}

// JITRule returns the jit rule named name, or nil.
func (p *Policy) JITRule(name string) *JIT {
	for i := range p.JIT {
		if p.JIT[i].Name == name {
			return &p.JIT[i]
		}
	}
	return nil
}
