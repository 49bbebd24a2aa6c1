package pgvalue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// maxDepth bounds how deep values nest (arrays of records of arrays…): deeper input is
// refused, not walked.
const maxDepth = 64

// maxDims is PostgreSQL's MAXDIM: no array has more dimensions.
const maxDims = 6

// ErrTooDeep is returned for a value nested deeper than Rewrite walks.
var ErrTooDeep = errors.New("value nested too deep")

// Step is one step from a value into a part of it.
type Step struct {
	Field int  // a record field's position from 0 (a range: 0 lower bound, 1 upper); with Elem, the element's position in row-major order
	Elem  bool // an element of an array or a range of a multirange
}

// Leaf is one scalar inside a value, as Rewrite hands it to the edit function. Its
// slices are valid only during that call, and may share memory with the value: read
// them, do not modify them.
type Leaf struct {
	Path []Step // from the top value to this scalar: [{Field: 1} {Elem: true, Field: 0}]
	Type Type   // the scalar's type, a domain resolved to its base type; OID 0 (Kind Text) for a field of record in text format
	// Text is the scalar as PostgreSQL prints it in text format (DateStyle ISO,
	// IntervalStyle postgres, lc_monetary C; a binary timestamptz in UTC), a binary
	// value decoded; for bytea the bytes themselves, whatever the format and
	// bytea_output; for jsonb the document without its version byte.
	Text []byte
	// Decoded is false for a binary value of a type this package cannot read (Kind
	// Unknown): Text then holds its raw bytes.
	Decoded bool
}

// Edit is what becomes of a leaf: kept, sent as NULL, or replaced by Text, a value of
// the leaf's type in text format (for bytea the bytes themselves). A replacement is
// checked by encoding it (binary format) or parsing it (text format); one that is not
// of the type makes the leaf NULL. Texts of kind Text, Enum, JSON, JSONB and, in text
// format, Unknown are taken as they are. The zero Edit replaces the leaf with empty
// text. Rewrite copies Text before it calls the edit function again.
type Edit struct {
	Keep bool
	Null bool
	Text []byte
}

// Rewriter holds the scratch space of Rewrite, so that a caller who rewrites many
// values reuses it. A Rewriter is used by one goroutine at a time; its zero value is
// ready.
type Rewriter struct {
	types   Types
	edit    func(*Leaf) Edit
	leaf    Leaf
	path    []Step
	scratch []byte   // leaves' texts: dequoted, decoded from binary
	enc     []byte   // a leaf's replacement, encoded; its parent copies it at once
	bufs    [][]byte // a changed container's output, by depth
	depth   int
}

// maxKept bounds the buffers a Rewriter keeps between values, so that one huge value
// does not pin its memory in the pool.
const maxKept = 64 << 10

var rewriters = sync.Pool{New: func() any { return new(Rewriter) }}

// Rewrite walks v, one column value of type oid in binary or text format, calls edit
// for every scalar inside it, and returns it re-encoded in the same format with the
// edits applied, appended to dst. When every edit keeps its leaf it returns v itself
// (no copy, no allocation). null reports that the value itself became NULL: a scalar
// value edited to NULL, or whose replacement cannot be encoded for its type. Inside an
// array, a record or a multirange, such a leaf becomes NULL (a range's bound becomes
// unbounded) and the rest of the value survives. A replaced value is never the raw
// value. types resolves the OIDs Builtin does not know; it may be nil, and those types
// are then read as Unknown. Malformed input is an error.
func Rewrite(dst []byte, types Types, oid uint32, binary bool, v []byte, edit func(*Leaf) Edit) (out []byte, null bool, err error) {
	r := rewriters.Get().(*Rewriter)
	out, null, err = r.Rewrite(dst, types, oid, binary, v, edit)
	rewriters.Put(r)
	return out, null, err
}

// Rewrite is the function Rewrite with r's scratch space.
func (r *Rewriter) Rewrite(dst []byte, types Types, oid uint32, binary bool, v []byte, edit func(*Leaf) Edit) (out []byte, null bool, err error) {
	r.types, r.edit, r.depth = types, edit, 0
	r.path, r.scratch = r.path[:0], r.scratch[:0]
	res, null, changed, err := r.value(oid, binary, v)
	r.types, r.edit, r.leaf = nil, nil, Leaf{}
	if cap(r.scratch) > maxKept {
		r.scratch = nil
	}
	if cap(r.enc) > maxKept {
		r.enc = nil
	}
	for i, b := range r.bufs {
		if cap(b) > maxKept {
			r.bufs[i] = nil
		}
	}
	switch {
	case err != nil:
		return dst, false, fmt.Errorf("pgvalue rewrite of type %d: %w", oid, err)
	case null:
		return dst, true, nil
	case !changed:
		return v, false, nil
	}
	return append(dst, res...), false, nil
}

// resolve returns the type with OID oid, a domain resolved to its base type.
func (r *Rewriter) resolve(oid uint32) (Type, error) {
	for range maxDepth {
		t, ok := Builtin(oid)
		if !ok {
			if r.types == nil {
				return Type{OID: oid, Kind: Unknown}, nil
			}
			var err error
			if t, err = r.types.Type(oid); err != nil {
				return Type{}, fmt.Errorf("type %d: %w", oid, err)
			}
		}
		if t.Kind != Domain {
			return t, nil
		}
		oid = t.Elem
	}
	return Type{}, fmt.Errorf("domain %d: %w", oid, ErrTooDeep)
}

// value rewrites v of type oid. res is v when nothing changed; when something did, res
// is in r's buffers (or is the caller's Edit.Text), valid until the next part at the
// same depth is rewritten: the caller copies it at once.
func (r *Rewriter) value(oid uint32, bin bool, v []byte) (res []byte, null, changed bool, err error) {
	t, err := r.resolve(oid)
	if err != nil {
		return nil, false, false, err
	}
	return r.typed(t, bin, v)
}

func (r *Rewriter) typed(t Type, bin bool, v []byte) (res []byte, null, changed bool, err error) {
	switch t.Kind {
	case Array, Record, Range, Multirange:
	default:
		return r.leafValue(t, bin, v)
	}
	if r.depth++; r.depth > maxDepth {
		return nil, false, false, ErrTooDeep
	}
	switch {
	case t.Kind == Array && bin:
		res, changed, err = r.binaryArray(t, v)
	case t.Kind == Array:
		res, changed, err = r.textArray(t, v)
	case t.Kind == Record && bin:
		res, changed, err = r.binaryRecord(v)
	case t.Kind == Record:
		res, changed, err = r.textRecord(t, v)
	case t.Kind == Range && bin:
		res, changed, err = r.binaryRange(t, v)
	case t.Kind == Range:
		res, changed, err = r.textRange(t, v)
	case bin:
		res, changed, err = r.binaryMultirange(t, v)
	default:
		res, changed, err = r.textMultirange(t, v)
	}
	r.depth--
	return res, false, changed, err
}

// leafValue hands one scalar to the edit function and encodes its replacement.
func (r *Rewriter) leafValue(t Type, bin bool, v []byte) (res []byte, null, changed bool, err error) {
	mark := len(r.scratch)
	text, decoded := v, true
	switch {
	case bin && t.Kind == Unknown:
		decoded = false
	case bin && t.Kind == JSONB:
		if len(v) < 1 || v[0] != 1 {
			return nil, false, false, malformed("jsonb version")
		}
		text = v[1:]
	case bin && t.Kind != Text && t.Kind != Enum && t.Kind != JSON && t.Kind != Bytea:
		out, err := appendBinaryText(r.scratch, t, v)
		if err != nil {
			return nil, false, false, err
		}
		text, r.scratch = out[mark:], out[:mark]
	case !bin && t.Kind == Bytea:
		out, err := appendByteaDecoded(r.scratch, v)
		if err != nil {
			return nil, false, false, err
		}
		text, r.scratch = out[mark:], out[:mark]
	}
	r.leaf = Leaf{Path: r.path, Type: t, Text: text, Decoded: decoded}
	e := r.edit(&r.leaf)
	r.leaf = Leaf{}
	switch {
	case e.Keep:
		return v, false, false, nil
	case e.Null:
		return nil, true, true, nil
	}
	switch {
	case bin:
		if !decoded {
			return nil, true, true, nil // a type it cannot write: NULL, never the raw value
		}
		out, err := appendBinary(r.enc[:0], t, e.Text)
		if err != nil {
			return nil, true, true, nil
		}
		r.enc = out
		return out, false, true, nil
	case t.Kind == Bytea:
		r.enc = appendByteaText(r.enc[:0], e.Text, len(v) == 0 || isHexBytea(v))
		return r.enc, false, true, nil
	case !checkText(t, e.Text):
		return nil, true, true, nil
	}
	return e.Text, false, true, nil
}

// child rewrites one part of a container, with step on the path.
func (r *Rewriter) child(step Step, oid uint32, bin bool, v []byte) (res []byte, null, changed bool, err error) {
	r.path = append(r.path, step)
	res, null, changed, err = r.value(oid, bin, v)
	r.path = r.path[:len(r.path)-1]
	return res, null, changed, err
}

func (r *Rewriter) childTyped(step Step, t Type, bin bool, v []byte) (res []byte, null, changed bool, err error) {
	r.path = append(r.path, step)
	res, null, changed, err = r.typed(t, bin, v)
	r.path = r.path[:len(r.path)-1]
	return res, null, changed, err
}

var be = binary.BigEndian

// splice builds a changed container: the bytes of v not copied yet, up to where a
// part is replaced, then the replacement. It writes into r's buffer for its depth,
// which the parent copies from before that depth is used again, so a rewrite that
// changes something allocates nothing once the buffers have grown.
type splice struct {
	r       *Rewriter
	v       []byte
	out     []byte
	copied  int
	started bool
}

// cut copies v up to from and skips v[from:to]: the caller appends its replacement
// to s.out.
func (s *splice) cut(from, to int) {
	if !s.started {
		s.started = true
		for len(s.r.bufs) <= s.r.depth {
			s.r.bufs = append(s.r.bufs, nil)
		}
		s.out = s.r.bufs[s.r.depth][:0]
	}
	s.out = append(s.out, s.v[s.copied:from]...)
	s.copied = to
}

// lengthPrefixed replaces v[from:to] by res after its length (-1 for NULL), as binary
// arrays and records hold their parts.
func (s *splice) lengthPrefixed(from, to int, res []byte, null bool) {
	s.cut(from, to)
	if null {
		s.out = be.AppendUint32(s.out, 0xffffffff)
		return
	}
	s.out = be.AppendUint32(s.out, uint32(len(res)))
	s.out = append(s.out, res...)
}

func (s *splice) result() ([]byte, bool) {
	if !s.started {
		return s.v, false
	}
	s.out = append(s.out, s.v[s.copied:]...)
	s.r.bufs[s.r.depth] = s.out
	return s.out, true
}

// binaryArray walks an array in binary format: ndim, flags (has NULLs), element type,
// ndim × (length, lower bound), then each element as its length (-1: NULL) and bytes.
func (r *Rewriter) binaryArray(t Type, v []byte) ([]byte, bool, error) {
	if len(v) < 12 {
		return nil, false, malformed("array of %d bytes", len(v))
	}
	ndim, flags, elem := int32(be.Uint32(v)), be.Uint32(v[4:]), be.Uint32(v[8:])
	if ndim < 0 || ndim > maxDims || flags > 1 {
		return nil, false, malformed("array of %d dimensions, flags %#x", ndim, flags)
	}
	if elem == 0 {
		elem = t.Elem
	}
	p := 12 + 8*int(ndim)
	if len(v) < p {
		return nil, false, malformed("array header of %d bytes", len(v))
	}
	n := 0
	if ndim > 0 {
		n = 1
	}
	for d := range int(ndim) {
		size := int32(be.Uint32(v[12+8*d:]))
		if size < 0 || (size > 0 && n > (len(v)-p)/4/int(size)) {
			return nil, false, malformed("array dimension of %d elements in %d bytes", size, len(v))
		}
		n *= int(size)
	}
	s := splice{r: r, v: v}
	anyNull := false
	for i := range n {
		if len(v)-p < 4 {
			return nil, false, malformed("array element %d missing", i)
		}
		l := int32(be.Uint32(v[p:]))
		p += 4
		if l == -1 {
			continue
		}
		if l < 0 || int(l) > len(v)-p {
			return nil, false, malformed("array element of %d bytes", l)
		}
		res, null, changed, err := r.child(Step{Field: i, Elem: true}, elem, true, v[p:p+int(l)])
		if err != nil {
			return nil, false, err
		}
		if changed {
			anyNull = anyNull || null
			s.lengthPrefixed(p-4, p+int(l), res, null)
		}
		p += int(l)
	}
	if p != len(v) {
		return nil, false, malformed("array with %d bytes after its elements", len(v)-p)
	}
	out, changed := s.result()
	if anyNull {
		be.PutUint32(out[4:], 1)
	}
	return out, changed, nil
}

// binaryRecord walks a record in binary format: the field count, then per field its
// type OID, its length (-1: NULL) and bytes.
func (r *Rewriter) binaryRecord(v []byte) ([]byte, bool, error) {
	if len(v) < 4 {
		return nil, false, malformed("record of %d bytes", len(v))
	}
	nf := int32(be.Uint32(v))
	if nf < 0 || int(nf) > (len(v)-4)/8 {
		return nil, false, malformed("record of %d fields in %d bytes", nf, len(v))
	}
	p := 4
	s := splice{r: r, v: v}
	for i := range int(nf) {
		if len(v)-p < 8 {
			return nil, false, malformed("record field %d missing", i)
		}
		oid, l := be.Uint32(v[p:]), int32(be.Uint32(v[p+4:]))
		p += 8
		if l == -1 {
			continue
		}
		if l < 0 || int(l) > len(v)-p {
			return nil, false, malformed("record field of %d bytes", l)
		}
		res, null, changed, err := r.child(Step{Field: i}, oid, true, v[p:p+int(l)])
		if err != nil {
			return nil, false, err
		}
		if changed {
			s.lengthPrefixed(p-4, p+int(l), res, null)
		}
		p += int(l)
	}
	if p != len(v) {
		return nil, false, malformed("record with %d bytes after its fields", len(v)-p)
	}
	out, changed := s.result()
	return out, changed, nil
}

// A range's flags in binary format (rangetypes.h).
const (
	rangeEmpty = 0x01
	rangeLBInc = 0x02
	rangeUBInc = 0x04
	rangeLBInf = 0x08
	rangeUBInf = 0x10
	rangeLBNul = 0x20
	rangeUBNul = 0x40
)

// binaryRange walks a range in binary format: flags, then each bound that is neither
// infinite nor absent as its length and bytes. A bound edited to NULL becomes unbounded.
func (r *Rewriter) binaryRange(t Type, v []byte) ([]byte, bool, error) {
	if len(v) < 1 {
		return nil, false, malformed("empty range bytes")
	}
	flags := v[0]
	if flags&rangeEmpty != 0 {
		if len(v) != 1 {
			return nil, false, malformed("empty range of %d bytes", len(v))
		}
		return v, false, nil
	}
	p := 1
	s := splice{r: r, v: v}
	newFlags := flags
	for b, absent := range [2]byte{rangeLBInf | rangeLBNul, rangeUBInf | rangeUBNul} {
		if flags&absent != 0 {
			continue
		}
		if len(v)-p < 4 {
			return nil, false, malformed("range bound missing")
		}
		l := int32(be.Uint32(v[p:]))
		p += 4
		if l < 0 || int(l) > len(v)-p {
			return nil, false, malformed("range bound of %d bytes", l)
		}
		res, null, changed, err := r.child(Step{Field: b}, t.Elem, true, v[p:p+int(l)])
		if err != nil {
			return nil, false, err
		}
		if changed {
			if null {
				if b == 0 {
					newFlags = newFlags&^rangeLBInc | rangeLBInf
				} else {
					newFlags = newFlags&^rangeUBInc | rangeUBInf
				}
				s.cut(p-4, p+int(l))
			} else {
				s.lengthPrefixed(p-4, p+int(l), res, false)
			}
		}
		p += int(l)
	}
	if p != len(v) {
		return nil, false, malformed("range with %d bytes after its bounds", len(v)-p)
	}
	out, changed := s.result()
	if changed {
		out[0] = newFlags
	}
	return out, changed, nil
}

// binaryMultirange walks a multirange in binary format: the range count, then each
// range as its length and bytes.
func (r *Rewriter) binaryMultirange(t Type, v []byte) ([]byte, bool, error) {
	if len(v) < 4 {
		return nil, false, malformed("multirange of %d bytes", len(v))
	}
	n := int32(be.Uint32(v))
	if n < 0 || int(n) > (len(v)-4)/4 {
		return nil, false, malformed("multirange of %d ranges in %d bytes", n, len(v))
	}
	rt, err := r.resolve(t.Elem)
	if err != nil {
		return nil, false, err
	}
	if rt.Kind != Range {
		return nil, false, fmt.Errorf("multirange %d of %s %d", t.OID, rt.Kind, t.Elem)
	}
	p := 4
	s := splice{r: r, v: v}
	for i := range int(n) {
		if len(v)-p < 4 {
			return nil, false, malformed("multirange range %d missing", i)
		}
		l := int32(be.Uint32(v[p:]))
		p += 4
		if l < 0 || int(l) > len(v)-p {
			return nil, false, malformed("multirange range of %d bytes", l)
		}
		res, _, changed, err := r.childTyped(Step{Field: i, Elem: true}, rt, true, v[p:p+int(l)])
		if err != nil {
			return nil, false, err
		}
		if changed {
			s.lengthPrefixed(p-4, p+int(l), res, false)
		}
		p += int(l)
	}
	if p != len(v) {
		return nil, false, malformed("multirange with %d bytes after its ranges", len(v)-p)
	}
	out, changed := s.result()
	return out, changed, nil
}
