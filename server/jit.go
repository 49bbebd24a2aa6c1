package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/identity"
)

// grants are the approved just-in-time grants, by identity, until they end.
type grants struct {
	mu  sync.Mutex
	all map[string][]activeGrant // issuer + subject → grants
}

type activeGrant struct {
	policy.Grant
	until  time.Time
	review string
}

func grantKey(id identity.Identity) string {
	return id.Issuer + "\x00" + id.Workload + "\x00" + id.Subject
}

// active returns id's grants that have not ended, dropping the ended ones.
func (gs *grants) active(id identity.Identity, now time.Time) []policy.Grant {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	k := grantKey(id)
	var out []policy.Grant
	kept := gs.all[k][:0]
	for _, g := range gs.all[k] {
		if now.Before(g.until) {
			kept = append(kept, g)
			out = append(out, g.Grant)
		}
	}
	if len(kept) == 0 {
		delete(gs.all, k)
	} else {
		gs.all[k] = kept
	}
	return out
}

// end returns when id's grants for connection end: the latest end, zero for none.
func (gs *grants) end(id identity.Identity, connection string) (time.Time, string) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	var until time.Time
	var review string
	for _, g := range gs.all[grantKey(id)] {
		if g.Connection == connection && g.until.After(until) {
			until, review = g.until, g.review
		}
	}
	return until, review
}

func (gs *grants) add(id identity.Identity, g activeGrant) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.all == nil {
		gs.all = make(map[string][]activeGrant)
	}
	gs.all[grantKey(id)] = append(gs.all[grantKey(id)], g)
}

// accessRequest is a pending access review's grant, made when it is approved.
type accessRequest struct {
	jit      string
	classes  []policy.Class
	duration time.Duration
}

// handleAccess opens a review for time-boxed access to a connection under a jit rule.
func (g *Gateway) handleAccess(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	var req api.AccessRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "body: want {\"connection\", \"duration\", \"reason\"}: "+err.Error())
		return
	}
	if _, ok := g.conns[req.Connection]; !ok {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no connection named %q on this gateway", req.Connection))
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("duration %q: want a positive duration such as 1h", req.Duration))
		return
	}
	p := g.Policy()
	pid := g.policyIdentity(id)
	var rule *policy.JIT
	for _, name := range p.Access(pid, req.Connection).JIT {
		if j := p.JITRule(name); j != nil {
			rule = j
			break
		}
	}
	if rule == nil {
		msg := fmt.Sprintf("no jit rule lets %s ask for access to %s (groups: %s)", id, req.Connection, groupList(id.Groups))
		g.audit("access.refused", id.String(), req.Connection, "", map[string]any{"reason": msg})
		writeError(w, http.StatusForbidden, api.CodeForbidden, msg)
		return
	}
	if rule.MaxDuration > 0 && d > rule.MaxDuration {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("duration %s: jit rule %s allows at most %s", d, rule.Name, rule.MaxDuration))
		return
	}
	approvers := rule.Approvers
	if len(approvers) == 0 {
		approvers = p.Reviews.Approvers
	}
	if len(approvers) == 0 {
		writeError(w, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("jit rule %s names no approvers, nor does reviews.approvers", rule.Name))
		return
	}
	expires := p.Reviews.ExpiresAfter
	if expires <= 0 {
		expires = 30 * time.Minute
	}
	// The reason is the requester's free text: kept as their sessions on the connection
	// would keep it, masked by the same rules.
	mask, err := g.textMasker(pid, req.Connection)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "the gateway could not open the review: "+err.Error())
		return
	}
	now := g.reviews.now().UTC().Truncate(time.Millisecond)
	rid := newID("r")
	classes := make([]string, len(rule.Access))
	for i, c := range rule.Access {
		classes[i] = string(c)
	}
	rv := &review{
		r: api.Review{ID: rid, Kind: api.ReviewAccess, State: api.ReviewPending, Requester: id.String(), Groups: nonNil(id.Groups),
			Connection: req.Connection, Class: strings.Join(classes, ","), Rule: rule.Name, Reason: mask(strings.TrimSpace(req.Reason)),
			Duration: d.String(), Created: now, Expires: now.Add(expires), MinApprovals: max(p.Reviews.MinApprovals, 1),
			URL: strings.TrimRight(g.cfg.PublicURL, "/") + "/reviews/" + rid},
		requester: id,
		approvers: slices.Clone(approvers),
		done:      make(chan struct{}),
		access:    &accessRequest{jit: rule.Name, classes: slices.Clone(rule.Access), duration: d},
		mask:      mask,
	}
	if err := g.reviews.open(rv); err != nil {
		if le := (*reviewLimitError)(nil); errors.As(err, &le) {
			writeError(w, http.StatusTooManyRequests, api.CodeTooManyRequests, "no review was opened: "+le.msg)
			return
		}
		writeError(w, http.StatusInternalServerError, "", "the gateway could not open the review: "+err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, rv.r)
}

// granted makes an approved access review's grant, from now for its duration.
func (g *Gateway) granted(r *review) {
	if r.access == nil {
		return
	}
	until := time.Now().Add(r.access.duration)
	g.grants.add(r.requester, activeGrant{Grant: policy.Grant{JIT: r.access.jit, Connection: r.r.Connection, Classes: r.access.classes},
		until: until, review: r.r.ID})
	g.audit("access.granted", r.r.Requester, r.r.Connection, "", map[string]any{"review": r.r.ID, "jit": r.access.jit,
		"until": until.UTC().Format(time.RFC3339), "classes": r.r.Class})
}

// textMasker returns what masks a text kept about id's use of connection, such as a
// just-in-time request's reason: the detectors of the masking rules that apply to id there,
// the same that mask its sessions' records.
func (g *Gateway) textMasker(id policy.Identity, connection string) (func(string) string, error) {
	p := g.Policy()
	rules, err := g.maskRules(p, id, connection)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return func(s string) string { return s }, nil
	}
	sm := g.newMasker(p, rules, id, connection, g.log, nil) // texts only: no catalog
	return func(s string) string { return maskText(sm, s) }, nil
}
