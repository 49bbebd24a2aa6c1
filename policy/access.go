package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

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
// decided, empty for the default deny; reason is a sentence for the person, which names
// the rule that decided or, for the default deny, the rules that match (or that none
// does), what they allow, and what the person may do about it:
//
//	denied by rule engineers-read-prod: ddl statements are not allowed on db-prod
//	denied by rule analysts-read: it allows read on db-prod; this statement is write; ask a policy admin for a rule that grants write on db-prod
//	no rule in the policy matches ann@example.com (groups [sales]) on db-prod; ask a policy admin for access
func (p *Policy) Decide(id Identity, connection string, class Class) (d Decision, rule, reason string) {
	return p.decide(id, connection, class, "")
}

// decide is Decide for a statement that kind describes (its command tag, "DELETE", or why
// it has its class, "DELETE inside a WITH"; "" when not known), which a denial names.
func (p *Policy) decide(id Identity, connection string, class Class, kind string) (d Decision, rule, reason string) {
	if class.rank() == 0 {
		return Deny, "", fmt.Sprintf("statement class %q is unknown and denied", class)
	}
	var review, allow string
	var matched []*Rule
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.matches(id.Groups, connection) {
			continue
		}
		matched = append(matched, r)
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
	return Deny, "", p.defaultDenial(id, connection, class, kind, matched)
}

// defaultDenial explains a default deny: the rules that match id on connection, none of
// which allows, holds or denies class (or that no rule matches), the JIT grants id holds
// there, and what to do: ask for just-in-time access when a JIT rule offers class to id
// on connection, else ask a policy admin.
//
//	denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE); …
//	denied by rules r1, r2: r1 allows read on db-prod, r2 allows read and holds write for review on db-prod; this statement is ddl; …
//	no rule in the policy matches ann@example.com (groups [sales]) on db-prod; …
func (p *Policy) defaultDenial(id Identity, connection string, class Class, kind string, matched []*Rule) string {
	var b strings.Builder
	switch len(matched) {
	case 0:
		fmt.Fprintf(&b, "no rule in the policy matches %s on %s", describeIdentity(id), connection)
	case 1:
		fmt.Fprintf(&b, "denied by rule %s: it %s on %s", matched[0].Name, matched[0].grants(), connection)
	default:
		names := make([]string, len(matched))
		what := make([]string, len(matched))
		for i, r := range matched {
			names[i] = r.Name
			what[i] = fmt.Sprintf("%s %s on %s", r.Name, r.grants(), connection)
		}
		fmt.Fprintf(&b, "denied by rules %s: %s", strings.Join(names, ", "), strings.Join(what, ", "))
	}
	grants := p.activeGrants(id, connection)
	for _, g := range grants {
		fmt.Fprintf(&b, "; the just-in-time grant under %s allows %s", g.JIT, classList(g.Classes))
	}
	// With nothing matched, the class is beside the point: nothing at all is granted.
	if len(matched) > 0 || len(grants) > 0 {
		fmt.Fprintf(&b, "; this statement is %s", class)
		if kind != "" {
			fmt.Fprintf(&b, " (%s)", kind)
		}
	}
	var jit *JIT
	for i, j := range p.JIT {
		if intersects(id.Groups, j.Groups) && matchConnection(j.Connections, connection) && slices.Contains(j.Access, class) {
			jit = &p.JIT[i]
			break
		}
	}
	switch {
	case jit != nil:
		fmt.Fprintf(&b, "; JIT rule %s lets you ask for %s access for up to %s: hoop connect %s --duration %s --reason \"…\"",
			jit.Name, classList(jit.Access), shortDuration(jit.MaxDuration), connection, shortDuration(min(time.Hour, jit.MaxDuration)))
	case len(matched) > 0 || len(grants) > 0:
		fmt.Fprintf(&b, "; ask a policy admin for a rule that grants %s on %s", class, connection)
	default:
		b.WriteString("; ask a policy admin for access")
	}
	return b.String()
}

// grants says what r does with the classes it names: "allows read, holds write for review
// and denies ddl and admin".
func (r *Rule) grants() string {
	var parts []string
	if len(r.Allow) > 0 {
		parts = append(parts, "allows "+classList(r.Allow))
	}
	if len(r.Review) > 0 {
		parts = append(parts, "holds "+classList(r.Review)+" for review")
	}
	if len(r.Deny) > 0 {
		parts = append(parts, "denies "+classList(r.Deny))
	}
	if len(parts) == 0 {
		return "allows nothing"
	}
	if len(parts) == 1 && len(r.Deny) > 0 {
		return "only denies " + classList(r.Deny)
	}
	return andList(parts)
}

// activeGrants returns id's grants on connection that still hold under their JIT rule.
func (p *Policy) activeGrants(id Identity, connection string) []Grant {
	var out []Grant
	for _, g := range id.Grants {
		if g.Connection != connection {
			continue
		}
		if j := p.JITRule(g.JIT); j != nil && intersects(id.Groups, j.Groups) && matchConnection(j.Connections, connection) {
			var classes []Class
			for _, c := range g.Classes {
				if slices.Contains(j.Access, c) {
					classes = append(classes, c)
				}
			}
			if len(classes) > 0 {
				out = append(out, Grant{JIT: g.JIT, Connection: g.Connection, Classes: classes})
			}
		}
	}
	return out
}

// classList renders classes for a reason: "read", "read and write", "read, write and ddl".
func classList(classes []Class) string {
	s := make([]string, len(classes))
	for i, c := range classes {
		s[i] = string(c)
	}
	return andList(s)
}

// andList joins items as a sentence does: "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// shortDuration prints d as a person writes it: "4h", "30m", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// describeIdentity names id for a reason: "ann@example.com (groups [sales])".
func describeIdentity(id Identity) string {
	who := id.Email
	if who == "" {
		who = id.Subject
	}
	if who == "" {
		who = "this identity"
	}
	if len(id.Groups) == 0 {
		return who + " (in no group)"
	}
	return fmt.Sprintf("%s (groups %v)", who, id.Groups)
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
