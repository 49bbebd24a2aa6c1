package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/store"
)

// maskRule is one policy masking rule, ready to run.
type maskRule struct {
	name    string
	content *mask.Masker // its detectors, in its mode; nil when it has none
	whole   *mask.Masker // its mode, for its column rules
	// derived is its mode for a value computed from a column it masks: partial keeps
	// part of a value as it is stored, which a computed value is not, so it redacts.
	derived *mask.Masker
	columns []policy.Column
	// ip: its detectors include ip_address, so a value of type inet or cidr, an IP
	// address by its type, is masked whatever its text looks like (2001:db8::/48).
	ip bool
}

// maskRules builds the masking rules that apply to id on connection: those naming the
// connection whose exempt groups id is not in.
func (g *Gateway) maskRules(p *policy.Policy, id policy.Identity, connection string) ([]maskRule, error) {
	var out []maskRule
	for _, r := range p.Masking {
		if !matchesName(r.Connections, connection) || anyIn(id.Groups, r.ExemptGroups) {
			continue
		}
		cfg := &mask.Config{Mode: mask.Mode(r.Mode), HashKey: g.hashKey}
		whole, err := mask.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("masking rule %s: %w", r.Name, err)
		}
		mr := maskRule{name: r.Name, whole: whole, derived: whole, columns: r.Columns}
		if cfg.Mode == mask.Partial {
			if mr.derived, err = mask.New(&mask.Config{Mode: mask.Redact}); err != nil {
				return nil, fmt.Errorf("masking rule %s: %w", r.Name, err)
			}
		}
		if len(r.Detectors) > 0 {
			for _, d := range r.Detectors {
				md, err := mask.ParseDetector(string(d))
				if err != nil {
					return nil, fmt.Errorf("masking rule %s: %w", r.Name, err)
				}
				cfg.Detectors = append(cfg.Detectors, md)
				mr.ip = mr.ip || md == mask.IPAddress
			}
			if mr.content, err = mask.New(cfg); err != nil {
				return nil, fmt.Errorf("masking rule %s: %w", r.Name, err)
			}
		}
		out = append(out, mr)
	}
	return out, nil
}

func matchesName(patterns []string, name string) bool {
	return slices.Contains(patterns, "*") || slices.Contains(patterns, name)
}

func anyIn(groups, set []string) bool {
	for _, g := range groups {
		if slices.Contains(set, g) {
			return true
		}
	}
	return false
}

// loadHashKey returns the key for the hash masking mode. masking.hash_key from the config
// comes first. Otherwise the key is the cluster's, kept in the store, so that every
// gateway sharing the store hashes a value alike (hashes stay joinable across gateways and
// restarts): the first gateway to start proposes the key of its data dir
// (mask-hash.key, kept from before keys lived in the store) or a new random one, and every
// later one takes what the store holds. Without a store, the data dir's key is used, made
// the first time. Nobody without the key can build a dictionary of hashes.
func loadHashKey(ctx context.Context, st *store.Store, dataDir, fromConfig string) ([]byte, error) {
	if fromConfig != "" {
		return decodeHashKey("masking.hash_key", fromConfig)
	}
	path := filepath.Join(dataDir, "mask-hash.key")
	local, err := readHashKey(path)
	if err != nil {
		return nil, err
	}
	if st == nil {
		if local != nil {
			return local, nil
		}
		key, err := newHashKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("mask hash key: %w", err)
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("mask hash key: %w", err)
		}
		return key, nil
	}
	proposed := local
	if proposed == nil {
		if proposed, err = newHashKey(); err != nil {
			return nil, err
		}
	}
	v, err := st.ClusterKey(ctx, "mask-hash", hex.EncodeToString(proposed))
	if err != nil {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	return decodeHashKey("the store's mask hash key", v)
}

// readHashKey reads a data dir's key file: nil when there is none.
func readHashKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	return decodeHashKey("mask hash key "+path, string(bytes.TrimSpace(b)))
}

// decodeHashKey decodes a hex key, never echoing it in an error.
func decodeHashKey(what, v string) ([]byte, error) {
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < mask.MinHashKey {
		return nil, fmt.Errorf("%s: want at least %d hex-encoded bytes", what, mask.MinHashKey)
	}
	return key, nil
}

func newHashKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	return key, nil
}

// sessionMasker masks one session's results by the rules that apply to it; it
// implements postgres.Masker. Column rules are resolved through the table OID and
// attribute number each RowDescription carries, looked up in the catalog once per
// table, so an alias (SELECT ssn AS x) does not escape them.
type sessionMasker struct {
	// set holds the rules and the policy they came from; a policy reload replaces them at
	// the next result, error or COPY (refresh).
	set        atomic.Pointer[ruleSet]
	g          *Gateway
	id         policy.Identity
	connection string

	cat     *catalog
	log     *slog.Logger
	counts  mask.Counts // values the detectors found
	columns int         // values masked whole by a column rule

	// Since the last statement's record: values found by detector, and masked by column.
	stmtCounts  mask.Counts
	stmtColumns map[string]int // "customers.ssn" → 3

	flowCache map[flowKey][]classify.Flow // the lineage of recent statements' results

	// statement's last text, masked under these rules: the gate's log line and the
	// record of the same statement mask it once, and a prepared statement brings its text
	// again at each Execute. Used on the client's side only.
	lastRules           *ruleSet
	lastSQL, lastMasked string
	lastParams          []int
}

type ruleSet struct {
	policy *policy.Policy
	rules  []maskRule
}

func (g *Gateway) newMasker(p *policy.Policy, rules []maskRule, id policy.Identity, connection string, log *slog.Logger, cat *catalog) *sessionMasker {
	sm := &sessionMasker{g: g, id: id, connection: connection, log: log, cat: cat}
	sm.set.Store(&ruleSet{policy: p, rules: rules})
	return sm
}

// rules returns the rules in force, after taking the policy's reloads into account: a
// session follows the masking of the policy in force, like its statements do.
func (sm *sessionMasker) rules() []maskRule {
	cur := sm.set.Load()
	if sm.g == nil {
		return cur.rules
	}
	p := sm.g.Policy()
	if p == cur.policy {
		return cur.rules
	}
	rules, err := sm.g.maskRules(p, sm.id, sm.connection)
	if err != nil {
		// Keep masking with the rules it had: never less for a policy it cannot use.
		sm.log.Error("masking rules of the reloaded policy refused: the session keeps its rules", "err", err)
		sm.set.CompareAndSwap(cur, &ruleSet{policy: p, rules: cur.rules})
		return cur.rules
	}
	sm.set.CompareAndSwap(cur, &ruleSet{policy: p, rules: rules})
	sm.log.Info("masking rules follow the reloaded policy", "version", short(p.Version()), "rules", len(rules))
	return rules
}

// takeStatement returns what was masked since it was last called, for a statement's
// record: "email" → 2, "column:customers.ssn" → 3. nil when nothing was.
func (sm *sessionMasker) takeStatement() map[string]int {
	if sm.stmtCounts.Total() == 0 && len(sm.stmtColumns) == 0 {
		return nil
	}
	out := make(map[string]int)
	for i, d := range mask.Detectors() {
		if n := sm.stmtCounts[i]; n > 0 {
			out[d.String()] = int(n)
		}
	}
	for c, n := range sm.stmtColumns {
		if strings.HasPrefix(c, "opaque: ") {
			out[c] = n // a column masked whole because its lineage could not be traced
			continue
		}
		out["column:"+c] = n
	}
	sm.stmtCounts = mask.Counts{}
	clear(sm.stmtColumns)
	return out
}

// statement masks a statement's text, remembering the last one: the literals that go
// into or are compared with masked columns (literals), then what the detectors find. A
// nil sm returns sql.
func (sm *sessionMasker) statement(sql string) string {
	m, _ := sm.statementParams(sql)
	return m
}

// statementParams is statement, with the bind parameters ($n) that go into or are
// compared with masked columns.
func (sm *sessionMasker) statementParams(sql string) (string, []int) {
	if sm == nil {
		return sql, nil
	}
	sm.rules() // the rules in force after a reload
	set := sm.set.Load()
	if set == sm.lastRules && sql == sm.lastSQL {
		return sm.lastMasked, sm.lastParams
	}
	lit, params := sm.literals(sql)
	m := maskText(sm, lit)
	sm.lastRules, sm.lastSQL, sm.lastMasked, sm.lastParams = set, sql, m, params
	return m, params
}

func (sm *sessionMasker) hasColumnRules() bool { return hasColumnRules(sm.rules()) }

func hasColumnRules(rules []maskRule) bool {
	for _, r := range rules {
		if len(r.columns) > 0 {
			return true
		}
	}
	return false
}

// Text implements postgres.Masker.
func (sm *sessionMasker) Text(src []byte) []byte { return sm.content(src, false) }

// content runs every rule's detectors over src; NULL never comes out of free text, so
// the null mode redacts there.
func (sm *sessionMasker) content(src []byte, json bool) []byte {
	return sm.scan(src, json, true)
}

// scan masks src with every rule's detectors; count adds what it finds to the session's
// counts. Without count it is safe to call alongside the session's result masking (the
// record's statement texts and parameters are masked on the client's side).
func (sm *sessionMasker) scan(src []byte, json, count bool) []byte {
	out, null := sm.detect(src, json, count)
	if null {
		return []byte("[REDACTED]")
	}
	return out
}

// detect runs every rule's detectors over src. null is a null-mode rule's answer for a
// value in which it found something: the caller sends NULL, or a marker where NULL cannot
// go.
func (sm *sessionMasker) detect(src []byte, json, count bool) (out []byte, null bool) {
	out = src
	for _, r := range sm.rules() {
		if r.content == nil {
			continue
		}
		var found mask.Counts
		var next []byte
		if json {
			next, found, null = r.content.MaskJSON(nil, out)
		} else {
			next, found, null = r.content.Mask(nil, out)
		}
		if count {
			sm.add(found)
		}
		if null {
			return nil, true
		}
		out = next
	}
	return out, false
}

func (sm *sessionMasker) add(c mask.Counts) {
	for i, n := range c {
		sm.counts[i] += n
		sm.stmtCounts[i] += n
	}
}

// Close logs what the session's masking found and closes the catalog connection.
func (sm *sessionMasker) Close() {
	if n := sm.counts.Total(); n > 0 || sm.columns > 0 {
		sm.log.Info("values masked", "found", n, "by_detector", sm.counts.String(), "by_column_rule", sm.columns)
	}
	sm.cat.close()
}

func standIn(oid uint32, binary bool) ([]byte, bool) {
	var b []byte
	var ok bool
	if binary {
		b, ok = mask.StandInBinary(oid)
	} else {
		b, ok = mask.StandIn(oid)
	}
	if !ok {
		return nil, true // no stand-in for the type: NULL, never the value
	}
	return b, false
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
