package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/postgres"
)

// maskRule is one policy masking rule, ready to run.
type maskRule struct {
	name    string
	content *mask.Masker // its detectors, in its mode; nil when it has none
	whole   *mask.Masker // its mode, for its column rules
	columns []policy.Column
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
		mr := maskRule{name: r.Name, whole: whole, columns: r.Columns}
		if len(r.Detectors) > 0 {
			for _, d := range r.Detectors {
				md, err := mask.ParseDetector(string(d))
				if err != nil {
					return nil, fmt.Errorf("masking rule %s: %w", r.Name, err)
				}
				cfg.Detectors = append(cfg.Detectors, md)
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

// loadHashKey returns the gateway's key for the hash masking mode: masking.hash_key from
// the config, else the one in the data dir, made the first time: hashes stay equal across
// restarts, and nobody without the key can build a dictionary of them.
func loadHashKey(dataDir, fromConfig string) ([]byte, error) {
	if fromConfig != "" {
		key, err := hex.DecodeString(fromConfig)
		if err != nil || len(key) < mask.MinHashKey {
			return nil, fmt.Errorf("masking.hash_key: want at least %d hex-encoded bytes", mask.MinHashKey)
		}
		return key, nil
	}
	path := filepath.Join(dataDir, "mask-hash.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(string(bytes.TrimSpace(b)))
		if derr != nil || len(key) < mask.MinHashKey {
			return nil, fmt.Errorf("mask hash key %s: want at least %d hex-encoded bytes", path, mask.MinHashKey)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("mask hash key: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
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

	// statement's last text, masked under these rules: the gate's log line and the
	// record of the same statement mask it once, and a prepared statement brings its text
	// again at each Execute. Used on the client's side only.
	lastRules           *ruleSet
	lastSQL, lastMasked string
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
		out["column:"+c] = n
	}
	sm.stmtCounts = mask.Counts{}
	clear(sm.stmtColumns)
	return out
}

// statement masks a statement's text as maskText does, remembering the last one. A nil
// sm returns sql.
func (sm *sessionMasker) statement(sql string) string {
	if sm == nil {
		return sql
	}
	sm.rules() // the rules in force after a reload
	set := sm.set.Load()
	if set == sm.lastRules && sql == sm.lastSQL {
		return sm.lastMasked
	}
	m := maskText(sm, sql)
	sm.lastRules, sm.lastSQL, sm.lastMasked = set, sql, m
	return m
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

// Rows implements postgres.Masker.
func (sm *sessionMasker) Rows(fields []pgproto3.FieldDescription, formats []int16) (postgres.RowMasker, error) {
	cols := make([]colPlan, len(fields))
	rules := sm.rules()
	set := sm.set.Load()
	byColumn := hasColumnRules(rules)
	for i, f := range fields {
		cols[i] = colPlan{oid: f.DataTypeOID, binary: formats[i] == 1}
		if f.TableOID == 0 || !byColumn {
			continue
		}
		table, column, err := sm.cat.column(f.TableOID, f.TableAttributeNumber)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			for _, c := range r.columns {
				if c.Column == column.name && (c.Table == "*" || c.Table == table.name || c.Table == table.schema+"."+table.name) {
					cols[i].whole = r.whole
					cols[i].label = table.name + "." + column.name
				}
			}
		}
	}
	return &rowMasker{sm: sm, set: set, cols: cols}, nil
}

// colPlan is how one column's values are masked.
type colPlan struct {
	oid    uint32
	binary bool
	whole  *mask.Masker // a column rule's: the whole value, whatever it holds
	label  string       // the column a rule masks: "customers.ssn"
}

type rowMasker struct {
	sm   *sessionMasker
	set  *ruleSet // the rules it was planned with
	cols []colPlan
	buf  []byte
}

// Stale implements postgres.RowMasker.
func (rm *rowMasker) Stale() bool {
	cur := rm.sm.set.Load()
	return cur != rm.set || (rm.sm.g != nil && rm.sm.g.Policy() != cur.policy)
}

// Type OIDs whose values are text, in both formats.
var textTypes = map[uint32]bool{25: true, 1043: true, 1042: true, 19: true, 142: true, 705: true, 0: true}

const (
	oidJSON  = 114
	oidJSONB = 3802
	oidBytea = 17
)

// Value implements postgres.RowMasker.
func (rm *rowMasker) Value(col int, v []byte) ([]byte, bool) {
	c := rm.cols[col]
	if c.whole != nil {
		rm.sm.columns++
		if rm.sm.stmtColumns == nil {
			rm.sm.stmtColumns = make(map[string]int)
		}
		rm.sm.stmtColumns[c.label]++
		if textTypes[c.oid] {
			out, null := c.whole.MaskWhole(rm.buf[:0], v)
			rm.buf = out
			return out, null
		}
		return standIn(c.oid, c.binary) // json "null", a zero, an empty bytea...
	}
	text, ok := rm.asText(c, v)
	if !ok {
		// A value the gateway cannot read as text: scan its bytes anyway, and send NULL
		// rather than a value in which something was found.
		if m := rm.sm.content(v, false); !sameBytes(m, v) {
			return nil, true
		}
		return v, false
	}
	json := c.oid == oidJSON || c.oid == oidJSONB
	masked := rm.sm.content(text, json)
	if sameBytes(masked, text) {
		return v, false
	}
	switch {
	case textTypes[c.oid]:
		return masked, false
	case json && !c.binary:
		return masked, false
	case c.oid == oidJSONB && c.binary:
		return append([]byte{1}, masked...), false
	case c.oid == oidJSON:
		return masked, false
	}
	// A number, a bytea or another type that held something a detector found: a
	// stand-in of the type, so the client can still decode the row.
	return standIn(c.oid, c.binary)
}

// asText returns the text the detectors read for a value: the value itself for text
// types and in text format, the decimal digits of a binary integer, the bytes of a
// bytea, the document of binary jsonb. ok is false for binary values of other types.
func (rm *rowMasker) asText(c colPlan, v []byte) ([]byte, bool) {
	switch {
	case c.oid == oidBytea && !c.binary:
		if b, err := hex.DecodeString(string(bytes.TrimPrefix(v, []byte(`\x`)))); err == nil {
			return b, true
		}
		return v, true
	case !c.binary || textTypes[c.oid] || c.oid == oidJSON || c.oid == oidBytea:
		return v, true
	case c.oid == oidJSONB:
		if len(v) > 0 && v[0] == 1 {
			return v[1:], true
		}
		return nil, false
	case c.oid == 20 && len(v) == 8:
		return strconv.AppendInt(nil, int64(binary.BigEndian.Uint64(v)), 10), true
	case c.oid == 23 && len(v) == 4:
		return strconv.AppendInt(nil, int64(int32(binary.BigEndian.Uint32(v))), 10), true
	case c.oid == 21 && len(v) == 2:
		return strconv.AppendInt(nil, int64(int16(binary.BigEndian.Uint16(v))), 10), true
	case c.oid == oidNumeric:
		return numericText(v)
	}
	return nil, false
}

const oidNumeric = 1700

// numericText writes a binary numeric as its decimal digits (sign, integer part, a '.'
// and the fraction), so that a card number kept as numeric is found like in text format.
func numericText(v []byte) ([]byte, bool) {
	if len(v) < 8 {
		return nil, false
	}
	ndigits := int(binary.BigEndian.Uint16(v[0:]))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	if len(v) != 8+2*ndigits || sign == 0xC000 || sign == 0xD000 || sign == 0xF000 { // NaN, ±Infinity
		return nil, sign >= 0xC000 && len(v) == 8+2*ndigits
	}
	var out []byte
	if sign == 0x4000 {
		out = append(out, '-')
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(v[8+2*i:]))
	}
	if weight < 0 {
		out = append(out, '0')
	}
	for i := 0; i <= weight; i++ {
		d := digit(i)
		if i == 0 {
			out = strconv.AppendInt(out, int64(d), 10)
		} else {
			out = append(out, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
		}
	}
	if ndigits > weight+1 {
		out = append(out, '.')
		for i := max(weight+1, 0); i < ndigits; i++ {
			if i < 0 {
				continue
			}
			d := digit(i)
			out = append(out, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
		}
	}
	return out, true
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

// catalog looks up table and column names by OID on a connection of its own to the
// database, with the session's credential, once per table.
type catalog struct {
	cfg    *pgconn.Config
	conn   *pgconn.PgConn
	tables map[uint32]*tableInfo
}

type tableInfo struct {
	schema, name string
	columns      map[uint16]columnInfo
}

type columnInfo struct {
	name      string
	typ       uint32 // the type's OID
	dropped   bool
	generated bool
	attnum    uint16
}

func (c *catalog) column(oid uint32, attnum uint16) (*tableInfo, columnInfo, error) {
	t, ok := c.tables[oid]
	if !ok {
		var err error
		if t, err = c.load(oid); err != nil {
			return nil, columnInfo{}, err
		}
		c.tables[oid] = t
	}
	col, ok := t.columns[attnum]
	if !ok {
		return nil, columnInfo{}, fmt.Errorf("catalog: table %s.%s has no column %d", t.schema, t.name, attnum)
	}
	return t, col, nil
}

func (c *catalog) load(oid uint32) (*tableInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	res := c.conn.ExecParams(ctx,
		`SELECT n.nspname, c.relname, a.attnum, a.attname, a.atttypid, a.attisdropped, a.attgenerated <> '' FROM pg_catalog.pg_class c
		 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
		 WHERE c.oid = $1 AND a.attnum > 0`,
		[][]byte{[]byte(strconv.FormatUint(uint64(oid), 10))}, []uint32{26}, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, res.Err)
	}
	if len(res.Rows) == 0 {
		return nil, fmt.Errorf("catalog lookup of table %d: not found", oid)
	}
	t := &tableInfo{schema: string(res.Rows[0][0]), name: string(res.Rows[0][1]), columns: make(map[uint16]columnInfo)}
	for _, r := range res.Rows {
		n, err := strconv.Atoi(string(r[2]))
		if err != nil {
			return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, err)
		}
		typ, err := strconv.ParseUint(string(r[4]), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, err)
		}
		t.columns[uint16(n)] = columnInfo{name: string(r[3]), typ: uint32(typ), dropped: string(r[5]) == "t",
			generated: string(r[6]) == "t", attnum: uint16(n)}
	}
	return t, nil
}

func (c *catalog) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := pgconn.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return fmt.Errorf("catalog connection: %w", err)
	}
	c.conn = conn
	return nil
}

func (c *catalog) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
	}
}
