package server

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/store"
)

// reader allows id to read recordings and the audit trail when the policy's
// recordings.readers names one of its groups; it answers the refusal itself.
func (g *Gateway) reader(w http.ResponseWriter, id identity.Identity, what string) bool {
	readers := g.Policy().Recordings.Readers
	if anyIn(id.Groups, readers) {
		return true
	}
	metrics.denials.WithLabelValues("recordings").Inc()
	g.audit("recordings.refused", id.String(), "", "", map[string]any{"what": what})
	msg := fmt.Sprintf("%s may not read recordings: the policy's recordings.readers allows groups %s (yours: %s)",
		id, groupList(readers), groupList(id.Groups))
	writeError(w, http.StatusForbidden, api.CodeForbidden, msg)
	return false
}

func (g *Gateway) handleSessions(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	if !g.reader(w, id, "sessions list") {
		return
	}
	q := r.URL.Query()
	f := store.SessionFilter{User: q.Get("user"), Connection: q.Get("connection")}
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, err.Error())
			return
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, "limit: want a number from 1 to 10000")
			return
		}
		f.Limit = n
	}
	g.caughtUp(r.Context())
	list, err := g.store.ListSessions(r.Context(), f)
	if err != nil {
		g.log.Error("sessions list", "err", err)
		writeError(w, http.StatusInternalServerError, "", "the gateway could not read its store")
		return
	}
	g.audit("recordings.read", id.String(), "", "", map[string]any{"what": "sessions list", "filter": q.Encode()})
	out := make([]api.Session, 0, len(list))
	for _, s := range list {
		out = append(out, apiSession(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// parseSince reads a time as RFC 3339 or a duration back from now ("24h").
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration back from now (24h) or a time (2026-01-02 or 2026-01-02T15:04:05Z)", s)
}

func (g *Gateway) handleSession(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	sid := r.PathValue("id")
	if !g.reader(w, id, "session "+sid) {
		return
	}
	g.caughtUp(r.Context())
	s, sts, err := g.store.GetSession(r.Context(), sid)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no session %q; hoop sessions list shows them", sid))
		return
	}
	if err != nil {
		g.log.Error("session show", "err", err)
		writeError(w, http.StatusInternalServerError, "", "the gateway could not read its store")
		return
	}
	g.audit("recordings.read", id.String(), s.Connection, s.ID, map[string]any{"what": "session"})
	out := api.SessionDetail{Session: apiSession(s), Statements: make([]api.Statement, 0, len(sts))}
	for _, st := range sts {
		out.Statements = append(out.Statements, api.Statement{
			Seq: st.Seq, Start: st.StartedAt.UTC(), SQL: st.SQL, Params: st.Params, Class: st.Class, Decision: st.Decision,
			Rule: st.Rule, PolicyVersion: st.PolicyVersion, ReviewID: st.ReviewID, State: st.State,
			DurationMS: float64(st.Duration.Microseconds()) / 1000, Rows: st.RowCount, CommandTag: st.CommandTag,
			Error: st.Error, Masking: st.Masking, Columns: st.Columns, Result: st.Rows,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func apiSession(s *store.Session) api.Session {
	user := s.Email
	if user == "" {
		user = s.Subject
	}
	out := api.Session{ID: s.ID, User: user, Subject: s.Subject, Groups: nonNil(s.Groups), Connection: s.Connection,
		Access: s.Access, DBUser: s.DBUser, Application: s.Application, Source: s.SourceAddr, Start: s.StartedAt.UTC(),
		EndReason: s.EndReason, Statements: s.Statements}
	if !s.EndedAt.IsZero() {
		out.End = s.EndedAt.UTC()
	}
	return out
}

func (g *Gateway) handleAuditVerify(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	if !g.reader(w, id, "audit verify") {
		return
	}
	rep, err := g.VerifyAudit(r.Context())
	if err != nil {
		g.log.Error("audit verify", "err", err)
		writeError(w, http.StatusInternalServerError, "", "audit verify: "+err.Error())
		return
	}
	g.audit("audit.verify", id.String(), "", "", map[string]any{"ok": rep.OK, "checked": rep.Checked, "seq": rep.Seq, "break": string(rep.Break)})
	writeJSON(w, http.StatusOK, api.AuditReport{OK: rep.OK, Checked: rep.Checked, Seq: rep.Seq, Break: string(rep.Break),
		Reason: rep.String(), Head: hex.EncodeToString(rep.Head)})
}
