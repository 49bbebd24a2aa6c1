package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The binary form of a Batch, as the gateway's write-ahead journal stores it. AppendBatch
// is on the hot path (a statement is journaled before it is forwarded), so it writes
// straight into the caller's buffer; DecodeBatch reads journal files that may be torn or
// corrupt, so it checks every length against the bytes left before it allocates.
//
// The encoding, all integers varints (encoding/binary):
//
//	batch     = version(1) opened ended sent finished events
//	opened    = uvarint(n) n×(present session)
//	ended     = uvarint(n) n×end
//	sent      = uvarint(n) n×(present statement)
//	finished  = uvarint(n) n×(present statement)
//	events    = uvarint(n) n×(present event)
//	present   = byte 0 (a nil pointer, nothing follows) | byte 1 (the value follows)
//	session   = ID GatewayID TunnelID Subject Email Groups:strings Connection Access DBUser
//	            Application SourceAddr StartedAt:time EndedAt:time EndReason Statements:varint
//	end       = ID At:time Reason
//	statement = SessionID Seq:varint StartedAt:time SQL Params:nullables Class Decision Rule
//	            PolicyVersion ReviewID State Duration:varint(ns) RowCount:varint CommandTag
//	            Error Masking:map Columns:strings Rows:rows
//	event     = Seq:varint Time:time Kind Actor Connection Session Data Prev:bytes Hash:bytes
//	string    = uvarint(len) bytes
//	time      = byte 0 (the zero time.Time) | byte 1 varint(UnixMicro)
//	strings   = uvarint(n+1) n×string                    (0: a nil slice)
//	nullables = uvarint(n+1) n×(byte 0 | byte 1 string)  (0: a nil slice; byte 0: NULL)
//	rows      = uvarint(n+1) n×nullables                 (0: a nil slice)
//	map       = uvarint(n+1) n×(string varint)           (0: a nil map; keys strictly ascending)
//	bytes     = uvarint(n+1) n bytes                     (0: a nil slice)
//
// Times keep microseconds (callers truncate to them); non-zero times decode in the local
// location, as time.UnixMicro returns them. The five lists do not keep nil-ness: an empty
// list decodes as nil.
const batchVersion = 1

// AppendBatch appends b's encoding to dst and returns the extended buffer.
func AppendBatch(dst []byte, b *Batch) []byte {
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(b.Opened)))
	for _, s := range b.Opened {
		if s == nil {
			dst = append(dst, 0)
			continue
		}
		dst = appendSession(append(dst, 1), s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Ended)))
	for i := range b.Ended {
		e := &b.Ended[i]
		dst = appendString(dst, e.ID)
		dst = appendTime(dst, e.At)
		dst = appendString(dst, e.Reason)
	}
	dst = appendStatements(dst, b.Sent)
	dst = appendStatements(dst, b.Finished)
	dst = binary.AppendUvarint(dst, uint64(len(b.Events)))
	for _, e := range b.Events {
		if e == nil {
			dst = append(dst, 0)
			continue
		}
		dst = appendEvent(append(dst, 1), e)
	}
	return dst
}

func appendSession(dst []byte, s *Session) []byte {
	dst = appendString(dst, s.ID)
	dst = appendString(dst, s.GatewayID)
	dst = appendString(dst, s.TunnelID)
	dst = appendString(dst, s.Subject)
	dst = appendString(dst, s.Email)
	dst = appendStrings(dst, s.Groups)
	dst = appendString(dst, s.Connection)
	dst = appendString(dst, s.Access)
	dst = appendString(dst, s.DBUser)
	dst = appendString(dst, s.Application)
	dst = appendString(dst, s.SourceAddr)
	dst = appendTime(dst, s.StartedAt)
	dst = appendTime(dst, s.EndedAt)
	dst = appendString(dst, s.EndReason)
	return binary.AppendVarint(dst, int64(s.Statements))
}

func appendStatements(dst []byte, sts []*Statement) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(sts)))
	for _, st := range sts {
		if st == nil {
			dst = append(dst, 0)
			continue
		}
		dst = appendStatement(append(dst, 1), st)
	}
	return dst
}

func appendStatement(dst []byte, st *Statement) []byte {
	dst = appendString(dst, st.SessionID)
	dst = binary.AppendVarint(dst, st.Seq)
	dst = appendTime(dst, st.StartedAt)
	dst = appendString(dst, st.SQL)
	dst = appendNullables(dst, st.Params)
	dst = appendString(dst, st.Class)
	dst = appendString(dst, st.Decision)
	dst = appendString(dst, st.Rule)
	dst = appendString(dst, st.PolicyVersion)
	dst = appendString(dst, st.ReviewID)
	dst = appendString(dst, st.State)
	dst = binary.AppendVarint(dst, int64(st.Duration))
	dst = binary.AppendVarint(dst, st.RowCount)
	dst = appendString(dst, st.CommandTag)
	dst = appendString(dst, st.Error)
	dst = appendMasking(dst, st.Masking)
	dst = appendStrings(dst, st.Columns)
	if st.Rows == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(st.Rows))+1)
	for _, row := range st.Rows {
		dst = appendNullables(dst, row)
	}
	return dst
}

func appendEvent(dst []byte, e *Event) []byte {
	dst = binary.AppendVarint(dst, e.Seq)
	dst = appendTime(dst, e.Time)
	dst = appendString(dst, e.Kind)
	dst = appendString(dst, e.Actor)
	dst = appendString(dst, e.Connection)
	dst = appendString(dst, e.Session)
	dst = appendString(dst, e.Data)
	dst = appendBytes(dst, e.Prev)
	return appendBytes(dst, e.Hash)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, p []byte) []byte {
	if p == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p))+1)
	return append(dst, p...)
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	return binary.AppendVarint(append(dst, 1), t.UnixMicro())
}

func appendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ss))+1)
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func appendNullables(dst []byte, ss []*string) []byte {
	if ss == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ss))+1)
	for _, s := range ss {
		if s == nil {
			dst = append(dst, 0)
			continue
		}
		dst = appendString(append(dst, 1), *s)
	}
	return dst
}

func appendMasking(dst []byte, m map[string]int) []byte {
	if m == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(m))+1)
	// Keys in order, so equal batches encode to equal bytes. A few keys sort on the stack.
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = binary.AppendVarint(dst, int64(m[k]))
	}
	return dst
}

// DecodeBatch decodes what AppendBatch wrote. Errors say what was wrong and at which byte
// offset: "batch: byte 37: statement 2 params: length 900 exceeds the 12 bytes left".
// Items are numbered by their index in their list.
//
// The decoded strings share one copy of p, so p may be reused once DecodeBatch returns.
func DecodeBatch(p []byte) (*Batch, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("batch: byte 0: empty input")
	}
	if p[0] != batchVersion {
		return nil, fmt.Errorf("batch: byte 0: version %d, want %d", p[0], batchVersion)
	}
	d := decoder{p: p, off: 1}
	b := &Batch{}

	if n := d.count("opened count", 1); n > 0 {
		b.Opened = make([]*Session, n)
		for i := range b.Opened {
			d.enter("session", i)
			if d.present("") {
				b.Opened[i] = d.session()
			}
			d.leave()
			if d.err != nil {
				return nil, d.err
			}
		}
	}
	if n := d.count("ended count", 3); n > 0 {
		b.Ended = make([]SessionEnd, n)
		for i := range b.Ended {
			d.enter("session end", i)
			e := &b.Ended[i]
			e.ID = d.str("id")
			e.At = d.time("at")
			e.Reason = d.str("reason")
			d.leave()
			if d.err != nil {
				return nil, d.err
			}
		}
	}
	b.Sent = d.statements("sent", "statement")
	b.Finished = d.statements("finished", "finished statement")
	if n := d.count("events count", 1); n > 0 {
		b.Events = make([]*Event, n)
		for i := range b.Events {
			d.enter("event", i)
			if d.present("") {
				b.Events[i] = d.event()
			}
			d.leave()
			if d.err != nil {
				return nil, d.err
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if left := len(p) - d.off; left > 0 {
		return nil, fmt.Errorf("batch: byte %d: %d trailing bytes after the events", d.off, left)
	}
	return b, nil
}

// decoder reads p from off. The first error sticks: later reads return zero values and
// read nothing.
type decoder struct {
	p     []byte
	s     string // string(p), made on the first non-empty string; decoded strings share it
	off   int
	err   error
	path  [3]pathElem // what is being read, for errors: "statement 2", "row 4", "cell 1"
	depth int
}

type pathElem struct {
	name string
	idx  int
}

func (d *decoder) enter(name string, idx int) {
	if d.depth < len(d.path) {
		d.path[d.depth] = pathElem{name, idx}
	}
	d.depth++
}

func (d *decoder) leave() { d.depth-- }

// fail records an error at off while reading what, unless one is recorded already.
func (d *decoder) fail(off int, what string, format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := "batch: byte " + strconv.Itoa(off) + ": "
	for _, e := range d.path[:min(d.depth, len(d.path))] {
		msg += e.name + " " + strconv.Itoa(e.idx) + " "
	}
	if what != "" {
		msg += what + " "
	}
	d.err = errors.New(msg[:len(msg)-1] + ": " + fmt.Sprintf(format, args...))
}

func (d *decoder) left() int { return len(d.p) - d.off }

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p[d.off:])
	d.advance(n, what)
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p[d.off:])
	d.advance(n, what)
	return v
}

// advance moves past a varint of n bytes, as binary.Uvarint and Varint return n: 0 for
// too few bytes, negative for more than 64 bits.
func (d *decoder) advance(n int, what string) {
	switch {
	case n == 0:
		d.fail(d.off, what, "truncated varint")
	case n < 0:
		d.fail(d.off, what, "varint overflows 64 bits")
	default:
		d.off += n
	}
}

func (d *decoder) int(what string) int {
	off := d.off
	v := d.varint(what)
	if int64(int(v)) != v {
		d.fail(off, what, "%d overflows int", v)
		return 0
	}
	return int(v)
}

// flag reads a byte that must be 0 or 1.
func (d *decoder) flag(what string) bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.p) {
		d.fail(d.off, what, "truncated")
		return false
	}
	c := d.p[d.off]
	if c > 1 {
		d.fail(d.off, what, "flag byte %d, want 0 or 1", c)
		return false
	}
	d.off++
	return c == 1
}

func (d *decoder) present(what string) bool {
	if what == "" {
		what = "presence"
	}
	return d.flag(what)
}

// check reports whether n items of at least min bytes each fit in what is left.
func (d *decoder) check(off int, what string, n uint64, min int) bool {
	if left := d.left(); n > uint64(left/min) {
		if min == 1 {
			d.fail(off, what, "length %d exceeds the %d bytes left", n, left)
		} else {
			d.fail(off, what, "%d items of at least %d bytes exceed the %d bytes left", n, min, left)
		}
		return false
	}
	return true
}

// count reads a plain list length.
func (d *decoder) count(what string, min int) int {
	off := d.off
	n := d.uvarint(what)
	if d.err != nil || !d.check(off, what, n, min) {
		return 0
	}
	return int(n)
}

// nilCount reads a length written as n+1, 0 meaning nil; it returns -1 for nil.
func (d *decoder) nilCount(what string, min int) int {
	off := d.off
	n := d.uvarint(what)
	if d.err != nil || n == 0 {
		return -1
	}
	if !d.check(off, what, n-1, min) {
		return -1
	}
	return int(n - 1)
}

func (d *decoder) str(what string) string {
	off := d.off
	n := d.uvarint(what)
	if d.err != nil || n == 0 || !d.check(off, what, n, 1) {
		return ""
	}
	if d.s == "" {
		d.s = string(d.p)
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *decoder) bytes(what string) []byte {
	n := d.nilCount(what, 1)
	if n < 0 {
		return nil
	}
	b := make([]byte, n)
	d.off += copy(b, d.p[d.off:])
	return b
}

// zeroMicro is the zero time.Time's UnixMicro: a non-zero time never has it.
const zeroMicro = -62135596800000000

func (d *decoder) time(what string) time.Time {
	if !d.flag(what) {
		return time.Time{}
	}
	off := d.off
	v := d.varint(what)
	if v == zeroMicro {
		d.fail(off, what, "non-zero time at the zero time's instant")
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.UnixMicro(v)
}

func (d *decoder) strings(what string) []string {
	n := d.nilCount(what, 1)
	if n < 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		d.enter(what, i)
		ss[i] = d.str("")
		d.leave()
		if d.err != nil {
			return nil
		}
	}
	return ss
}

func (d *decoder) nullables(what, item string) []*string {
	n := d.nilCount(what, 1)
	if n < 0 {
		return nil
	}
	ptrs := make([]*string, n)
	var vals []string // backs the non-NULL values, made at the first
	for i := range ptrs {
		d.enter(item, i)
		if d.flag("presence") {
			if vals == nil {
				vals = make([]string, n-i)
			}
			v := &vals[0]
			vals = vals[1:]
			*v = d.str("")
			ptrs[i] = v
		}
		d.leave()
		if d.err != nil {
			return nil
		}
	}
	return ptrs
}

func (d *decoder) masking(what string) map[string]int {
	n := d.nilCount(what, 2)
	if n < 0 {
		return nil
	}
	m := make(map[string]int, n)
	var prev string
	for i := range n {
		d.enter(what, i)
		off := d.off
		k := d.str("key")
		if i > 0 && k <= prev && d.err == nil {
			d.fail(off, "key", "%q not after %q", k, prev)
		}
		m[k] = d.int("count")
		d.leave()
		if d.err != nil {
			return nil
		}
		prev = k
	}
	return m
}

func (d *decoder) session() *Session {
	s := &Session{}
	s.ID = d.str("id")
	s.GatewayID = d.str("gateway id")
	s.TunnelID = d.str("tunnel id")
	s.Subject = d.str("subject")
	s.Email = d.str("email")
	s.Groups = d.strings("groups")
	s.Connection = d.str("connection")
	s.Access = d.str("access")
	s.DBUser = d.str("db user")
	s.Application = d.str("application")
	s.SourceAddr = d.str("source addr")
	s.StartedAt = d.time("started at")
	s.EndedAt = d.time("ended at")
	s.EndReason = d.str("end reason")
	s.Statements = d.int("statements")
	return s
}

func (d *decoder) statements(list, item string) []*Statement {
	n := d.count(list+" count", 1)
	if n == 0 {
		return nil
	}
	sts := make([]*Statement, n)
	for i := range sts {
		d.enter(item, i)
		if d.present("") {
			sts[i] = d.statement()
		}
		d.leave()
		if d.err != nil {
			return nil
		}
	}
	return sts
}

func (d *decoder) statement() *Statement {
	st := &Statement{}
	st.SessionID = d.str("session id")
	st.Seq = d.varint("seq")
	st.StartedAt = d.time("started at")
	st.SQL = d.str("sql")
	st.Params = d.nullables("params", "param")
	st.Class = d.str("class")
	st.Decision = d.str("decision")
	st.Rule = d.str("rule")
	st.PolicyVersion = d.str("policy version")
	st.ReviewID = d.str("review id")
	st.State = d.str("state")
	st.Duration = time.Duration(d.varint("duration"))
	st.RowCount = d.varint("row count")
	st.CommandTag = d.str("command tag")
	st.Error = d.str("error")
	st.Masking = d.masking("masking")
	st.Columns = d.strings("columns")
	if n := d.nilCount("rows", 1); n >= 0 {
		st.Rows = make([][]*string, n)
		for i := range st.Rows {
			d.enter("row", i)
			st.Rows[i] = d.nullables("cells", "cell")
			d.leave()
			if d.err != nil {
				break
			}
		}
	}
	return st
}

func (d *decoder) event() *Event {
	e := &Event{}
	e.Seq = d.varint("seq")
	e.Time = d.time("time")
	e.Kind = d.str("kind")
	e.Actor = d.str("actor")
	e.Connection = d.str("connection")
	e.Session = d.str("session")
	e.Data = d.str("data")
	e.Prev = d.bytes("prev")
	e.Hash = d.bytes("hash")
	return e
}
