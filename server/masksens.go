package server

import (
	"strings"
	"sync"
	"time"

	"github.com/hoopgw/hoop/classify"
)

// A column no column rule names is still masked in values computed from it when the
// detectors find what they look for in it: `reverse(email)` or `encode(card::text::bytea,
// 'base64')` hide a value from the detectors, not from its lineage. Whether they do is
// learned two ways: from results (a stored column whose values the detectors masked), and
// by a sample of the column (sampleRows values, read with the session's credential) the
// first time a computed column needs to know. Answers are kept per connection for
// sensitivityTTL, so a column that starts holding personal data is found again soon.

// sampleRows is how many non-NULL values of a column are read to tell whether the
// detectors find anything in it.
const sampleRows = 200

// sensitivityTTL is how long an answer is kept.
const sensitivityTTL = 10 * time.Minute

// maxSensitivity bounds the answers kept: past it they are all dropped and found again.
const maxSensitivity = 50000

type sourceKey struct {
	connection string
	src        classify.Source
}

type sensEntry struct {
	found bool
	at    time.Time
}

// sensitivity is the gateway's memory of which columns hold what the detectors find. Safe
// for concurrent use.
type sensitivity struct {
	mu    sync.Mutex
	m     map[sourceKey]sensEntry
	names map[string]map[string]bool // connection → "table.column" and ".column" found
}

func (s *sensitivity) get(k sourceKey, now time.Time) (sensEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || now.Sub(e.at) > sensitivityTTL {
		return sensEntry{}, false
	}
	return e, true
}

func (s *sensitivity) put(k sourceKey, e sensEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSensitivity {
		s.m = make(map[sourceKey]sensEntry)
		s.names = make(map[string]map[string]bool)
	}
	s.m[k] = e
	if e.found {
		n := s.names[k.connection]
		if n == nil {
			n = make(map[string]bool)
			s.names[k.connection] = n
		}
		n[k.src.Table+"."+k.src.Column] = true
		n["."+k.src.Column] = true
	}
}

// columnNames returns the names of the columns found to hold what the detectors find on
// a connection.
func (s *sensitivity) columnNames(connection string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.names[connection] {
		if c, ok := strings.CutPrefix(k, "."); ok {
			out = append(out, c)
		}
	}
	return out
}

// named reports whether a column of table ("" for any) was found to hold what the
// detectors find on a connection.
func (s *sensitivity) named(connection, table, column string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[connection][table+"."+column]
}

// learn records that the detectors found values in a column.
func (s *sensitivity) learn(k sourceKey, now time.Time) { s.put(k, sensEntry{found: true, at: now}) }

// sensAnswer says whether a column holds what a rule's detectors find, and which rule.
type sensAnswer struct {
	found bool
	rule  *maskRule
}

// sensitive tells whether the detectors of the session's rules find values in column src.
// A column that cannot be sampled counts as one they do (fail closed).
func (sm *sessionMasker) sensitive(rules []maskRule, src classify.Source) sensAnswer {
	var first *maskRule
	for i := range rules {
		if rules[i].content != nil {
			first = &rules[i]
			break
		}
	}
	if first == nil || sm.g == nil {
		return sensAnswer{}
	}
	k := sourceKey{connection: sm.connection, src: src}
	now := sm.now()
	if e, ok := sm.g.sensitivity.get(k, now); ok {
		if !e.found {
			return sensAnswer{}
		}
		return sensAnswer{found: true, rule: first}
	}
	if src.Schema == "pg_catalog" || src.Schema == "information_schema" {
		// The database's own catalog (names, types, settings, privileges) holds no
		// table's values, and much of it is not the session's to read directly (pg_authid
		// behind pg_roles): not sampled; the detectors still scan it as it is returned,
		// and a column found that way counts from then on.
		return sensAnswer{}
	}
	values, err := sm.cat.sample(src.Schema, src.Table, src.Column, sampleRows)
	if err != nil {
		sm.log.Warn("masking: a column could not be sampled; values computed from it are masked", "column", src.Table+"."+src.Column, "err", maskText(sm, err.Error()))
		sm.g.sensitivity.put(k, sensEntry{found: true, at: now})
		return sensAnswer{found: true, rule: first}
	}
	for _, v := range values {
		for i := range rules {
			r := &rules[i]
			if r.content == nil {
				continue
			}
			if out, found, null := r.content.Mask(nil, v); null || found.Total() > 0 || !sameBytes(out, v) {
				sm.g.sensitivity.put(k, sensEntry{found: true, at: now})
				return sensAnswer{found: true, rule: r}
			}
		}
	}
	sm.g.sensitivity.put(k, sensEntry{at: now})
	return sensAnswer{}
}

func (sm *sessionMasker) now() time.Time { return time.Now() }
