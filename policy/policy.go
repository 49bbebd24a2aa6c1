package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Policy is the content of one or more policy files, merged. Load and Parse return a
// validated Policy; a Policy is not changed after, so one value may be shared by every
// session, and a reload swaps it for a new one.
type Policy struct {
	Rules      []Rule      // statement rules, in file order
	Recordings Recordings  // who may read recordings
	Reviews    Reviews     // how held statements are approved
	JIT        []JIT       // just-in-time access to a whole connection
	Masking    []Masking   // what is masked in results
	Functions  []Functions // functions the database defines that only read, whatever the catalog says
	Files      []string    // the files it came from, in order: ["policy.yaml"]

	version   string
	reviewsAt Pos       // where reviews was set; zero when no file sets it
	refs      []nameRef // every connection name used, for CheckReferences
	groupRefs []nameRef // every group name used, for GroupTypos
}

// Pos is where something was defined.
type Pos struct {
	File string // "policy.yaml"
	Line int    // 16
}

// String returns "policy.yaml:16".
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Rule says what groups may do on connections, by statement class. A class is in at most
// one of Allow, Review and Deny.
type Rule struct {
	Name        string   // "engineers-read-prod"
	Groups      []string // ["engineering"]: an identity in any of them matches
	Connections []string // ["db-prod"]; "*" matches every connection
	Allow       []Class  // [read]: run at once
	Review      []Class  // [write]: held until an approver says yes
	Deny        []Class  // [ddl, admin]: refused, even if another rule allows it
	Pos         Pos      // policy.yaml:16

	field string // "rules[0]", for messages
}

// Recordings says who may list, show and replay sessions and verify the audit trail.
type Recordings struct {
	Readers []string // groups: ["auditors", "dba"]
}

// Reviews says how a held statement (or a JIT request) is approved. Nobody approves their
// own request, even when in an approver group.
type Reviews struct {
	Approvers    []string      // groups: ["dba"]
	MinApprovals int           // 1 (default)
	ExpiresAfter time.Duration // 30m (default): an unanswered review is denied after this
}

// JIT lets groups ask for time-boxed access to whole connections ("hoop connect db-prod
// --duration 1h --reason …"). It grants nothing by itself: an approved request becomes a
// Grant in the Identity.
type JIT struct {
	Name        string        // "contractors-prod"
	Groups      []string      // ["contractors"]: who may ask
	Connections []string      // ["db-prod"] or ["*"]
	Access      []Class       // [read]: the classes a grant allows at most
	MaxDuration time.Duration // 4h
	Approvers   []string      // ["dba"]; empty means Reviews.Approvers
	Pos         Pos           // policy.yaml:48

	field string
}

// Masking says what is masked in the results of a connection.
type Masking struct {
	Name         string     // "pii"
	Connections  []string   // ["*"]
	ExemptGroups []string   // ["dba"]: their results are not masked by this rule
	Mode         MaskMode   // partial; redact when not set
	Detectors    []Detector // [credit_card, email]: values recognised in any column
	Columns      []Column   // ["*.ssn", "customers.phone"]: masked whatever they contain
	Pos          Pos        // policy.yaml:56

	field string
}

// Functions lists functions of a connection's database that only read, though the
// catalog cannot vouch for it (they are VOLATILE, or in a language such as C or plpython
// whose volatility PostgreSQL does not enforce): their calls are read. It cannot make a
// function whose class the gateway knows by name (dblink, set_config, nextval, ...) read.
type Functions struct {
	Connections []string // ["db-prod"] or ["*"]
	// Read are schema.name patterns: "public.report_daily", "reports.*", "public.report_*".
	// '*' matches any run of characters; names are matched as PostgreSQL stores them
	// (unquoted names in lower case).
	Read []string
	// Extensions are extensions whose STABLE and IMMUTABLE functions are taken at their
	// word whatever their language, as PostgreSQL's trusted extensions are: ["postgis"].
	Extensions []string
	Pos        Pos // policy.yaml:70

	field string
}

// ReadFunction reports whether the policy lists the function schema.name of connection
// under functions.read.
func (p *Policy) ReadFunction(connection, schema, name string) bool {
	full := schema + "." + name
	for i := range p.Functions {
		f := &p.Functions[i]
		if !slices.Contains(f.Connections, connection) && !slices.Contains(f.Connections, "*") {
			continue
		}
		for _, pat := range f.Read {
			if globMatch(pat, full) {
				return true
			}
		}
	}
	return false
}

// ReadExtension reports whether the policy lists the extension name of connection under
// functions.extensions.
func (p *Policy) ReadExtension(connection, name string) bool {
	for i := range p.Functions {
		f := &p.Functions[i]
		if (slices.Contains(f.Connections, connection) || slices.Contains(f.Connections, "*")) && slices.Contains(f.Extensions, name) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern, in which '*' matches any run of
// characters and every other character itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, last)
}

// MaskMode is how a masked value is replaced.
type MaskMode string

// The mask modes.
const (
	MaskRedact  MaskMode = "redact"  // replaced whole
	MaskPartial MaskMode = "partial" // all but the last 4 characters replaced
	MaskHash    MaskMode = "hash"    // a keyed hash (HMAC), so equal values stay equal
	MaskNull    MaskMode = "null"    // NULL
)

func maskModes() []string { return []string{"redact", "partial", "hash", "null"} }

// Detector names a kind of secret or personal data recognised in any value.
type Detector string

// The detectors.
const (
	DetectCreditCard   Detector = "credit_card"    // card numbers with a valid Luhn digit
	DetectEmail        Detector = "email"          // e-mail addresses
	DetectPhone        Detector = "phone"          // phone numbers
	DetectUSSSN        Detector = "us_ssn"         // US social security numbers
	DetectIBAN         Detector = "iban"           // IBANs with a valid mod-97 check
	DetectIPAddress    Detector = "ip_address"     // IPv4 and IPv6 addresses
	DetectAWSAccessKey Detector = "aws_access_key" // AKIA… access key ids
	DetectGitHubToken  Detector = "github_token"   // ghp_… tokens with a valid checksum
	DetectJWT          Detector = "jwt"            // JSON web tokens with a decodable header
	DetectPrivateKey   Detector = "private_key"    // PEM private keys
)

// Detectors returns every detector.
func Detectors() []Detector {
	return []Detector{DetectCreditCard, DetectEmail, DetectPhone, DetectUSSSN, DetectIBAN,
		DetectIPAddress, DetectAWSAccessKey, DetectGitHubToken, DetectJWT, DetectPrivateKey}
}

// Column names a column to mask, by table.
type Column struct {
	Table  string // "customers"; "*" for every table
	Column string // "phone"
}

// String returns "customers.phone".
func (c Column) String() string { return c.Table + "." + c.Column }

// defaultExpiry is how long a review waits when reviews.expires_after is not set.
const defaultExpiry = 30 * time.Minute

// nameRef is a connection or group name used in a file, for CheckReferences and
// GroupTypos.
type nameRef struct {
	name  string
	pos   Pos
	field string
}

// Version returns the hex SHA-256 that identifies the policy's content, logged with every
// decision. For one file it is the file's sha256sum; for several, the SHA-256 of their
// sha256sums, one per line, in order.
func (p *Policy) Version() string { return p.version }

// Load reads, validates and merges policy files. A problem in the files is an ErrorList
// naming every problem found.
func Load(paths ...string) (*Policy, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("load policy: %w", ErrNoFiles)
	}
	files := make([]*Policy, 0, len(paths))
	var errs ErrorList
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load policy: %w", err)
		}
		f, ferrs := parse(path, data)
		files = append(files, f)
		errs = append(errs, ferrs...)
	}
	return merge(files, errs)
}

// Parse validates one policy file's content; name is used in messages ("policy.yaml").
func Parse(name string, data []byte) (*Policy, error) {
	f, errs := parse(name, data)
	return merge([]*Policy{f}, errs)
}

// merge joins the files' content. Rule and JIT names are unique across all files (they
// name what decided a statement); masking names too. Only one file may set reviews.
func merge(files []*Policy, errs ErrorList) (*Policy, error) {
	p := &Policy{Reviews: Reviews{MinApprovals: 1, ExpiresAfter: defaultExpiry}}
	add := func(pos Pos, field, msg string) {
		errs = append(errs, &Error{File: pos.File, Line: pos.Line, Field: field, Msg: msg})
	}
	names := map[string]Pos{}   // rules and jit
	masking := map[string]Pos{} // masking
	readers := map[string]bool{}
	sums := sha256.New()
	for _, f := range files {
		p.Files = append(p.Files, f.Files...)
		p.refs = append(p.refs, f.refs...)
		p.groupRefs = append(p.groupRefs, f.groupRefs...)
		sums.Write([]byte(f.version + "\n"))
		for _, r := range f.Rules {
			if first, dup := names[r.Name]; dup {
				add(r.Pos, r.field+".name", fmt.Sprintf("duplicate rule name %s (first at %s)", r.Name, first))
				continue
			}
			names[r.Name] = r.Pos
			p.Rules = append(p.Rules, r)
		}
		for _, j := range f.JIT {
			if first, dup := names[j.Name]; dup {
				add(j.Pos, j.field+".name", fmt.Sprintf("duplicate rule name %s (first at %s)", j.Name, first))
				continue
			}
			names[j.Name] = j.Pos
			p.JIT = append(p.JIT, j)
		}
		for _, m := range f.Masking {
			if first, dup := masking[m.Name]; dup {
				add(m.Pos, m.field+".name", fmt.Sprintf("duplicate masking name %s (first at %s)", m.Name, first))
				continue
			}
			masking[m.Name] = m.Pos
			p.Masking = append(p.Masking, m)
		}
		p.Functions = append(p.Functions, f.Functions...)
		for _, g := range f.Recordings.Readers {
			if !readers[g] {
				readers[g] = true
				p.Recordings.Readers = append(p.Recordings.Readers, g)
			}
		}
		if f.reviewsAt.File != "" {
			if p.reviewsAt.File != "" {
				add(f.reviewsAt, "reviews", "already set at "+p.reviewsAt.String()+"; set it in one file")
			} else {
				p.Reviews, p.reviewsAt = f.Reviews, f.reviewsAt
			}
		}
	}
	if len(files) == 1 {
		p.version = files[0].version
	} else {
		p.version = hex.EncodeToString(sums.Sum(nil))
	}
	// Without approvers, a held statement or a JIT request would wait for nobody. (Checked
	// only on otherwise valid files: a broken reviews section would make it a false alarm.)
	if len(errs) == 0 && len(p.Reviews.Approvers) == 0 {
		for _, r := range p.Rules {
			if len(r.Review) > 0 {
				add(r.Pos, r.field+".review", "nobody can approve: set reviews.approvers")
			}
		}
		for _, j := range p.JIT {
			if len(j.Approvers) == 0 {
				add(j.Pos, j.field+".approvers", "nobody can approve: set approvers here or in reviews.approvers")
			}
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(slices.Index(p.Files, a.File), slices.Index(p.Files, b.File)),
				cmp.Compare(a.Line, b.Line))
		})
		return nil, errs
	}
	return p, nil
}
