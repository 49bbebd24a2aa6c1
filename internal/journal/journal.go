// Package journal is the gateway's write-ahead log for session recordings.
//
// A statement's record is appended to the journal before the statement is
// forwarded to the database. A background goroutine later copies records into
// the store in large batches and then releases them; on restart, records the
// store has not applied are replayed.
//
// On Linux, a segment file is created at its full size, its blocks reserved
// with fallocate, and mapped into memory (MAP_SHARED): an Append copies its
// record into the mapping, straight into the page cache. Elsewhere, or on a
// file system without fallocate, Appends are plain write calls. There is no
// fsync either way: the data reaches the page cache, which survives the process
// being killed (SIGKILL), though not the machine losing power.
//
// Each record gets a log sequence number (LSN), starting at 1 and increasing
// by one per record. Records are kept in segment files in the journal's
// directory, each named by the LSN of its first record ("%020d.wal"). A record
// on disk is
//
//	4 bytes  payload length, big-endian
//	4 bytes  CRC-32C (Castagnoli) of the LSN bytes followed by the payload, big-endian
//	8 bytes  LSN, big-endian
//	n bytes  payload
//
// A closed segment file holds exactly its records. The one being written may
// end in zero bytes, space reserved for records to come.
package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const (
	// defaultSegmentSize is the segment size used when Options.SegmentSize is zero.
	defaultSegmentSize = 64 << 20

	// maxPayload is the largest payload Append accepts.
	maxPayload = 64 << 20

	// maxKeptBuffer is the largest write buffer kept for reuse once it is empty.
	maxKeptBuffer = 4 << 20

	headerSize = 16
	suffix     = ".wal"
	nameDigits = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("journal: closed")

// Options configures a Journal. A zero field takes its default.
type Options struct {
	// SegmentSize is the size at which a segment file is closed and a new one
	// started: 64 MiB by default. A record larger than SegmentSize still goes
	// in one segment.
	SegmentSize int64
}

// A Journal is an append-only log of records on disk. It is safe for
// concurrent use.
type Journal struct {
	mu      sync.Mutex
	dir     string   // "" keeps nothing
	lock    *os.File // dir's lock file, held while open
	segSize int64
	closed  bool
	cut     int64
	next    uint64 // LSN of the next record

	// Segment files.
	segs   []uint64 // first LSNs of closed segment files, oldest first
	f      *os.File // segment file being written; nil until created
	fFirst uint64   // first LSN of f, or of the segment file to create next
	fSize  int64    // bytes of records in f
	trunc  bool     // f must be truncated to fSize before the next write
	stale  []string // segment files Skip could not remove

	// The mapping of f, when records are copied into it rather than written
	// (mapped). Bytes of f past fSize are zero.
	mapped bool
	m      []byte

	// Records not yet written. buf[done:] is unwritten; marks[mi:] are the
	// points in it where a new segment begins. size is the size the current
	// segment will have once buf is written. When mapped, records are only
	// buffered after a failure to make room for them in a mapping, and marks
	// and size are unused: rolls are decided as records are copied.
	buf   []byte
	done  int
	marks []mark
	mi    int
	size  int64
}

// A mark is a segment roll inside the write buffer.
type mark struct {
	off   int    // offset in buf of the new segment's first record
	first uint64 // its LSN
}

// Open opens the journal in dir, creating dir (mode 0700) if needed. If dir is
// "", the journal keeps nothing: Append only numbers records, and Replay sees
// none. That suits stores kept in memory.
//
// Open reads every segment file to find the last LSN, checking each record's
// checksum and that LSNs increase by exactly one across records and segments.
// A damaged record in the last segment (incomplete, or failing its checksum) is
// taken to be a write torn by a crash: the file is truncated to the end of the
// last whole record before it, and Cut reports the number of bytes removed. A
// damaged record in any other segment, or a record out of sequence, is an error
// that names the file and byte offset.
//
// The last segment may end in zero bytes, space reserved for records that
// were never written: they are its clean end, not a damaged record, and Open
// removes them without counting them in Cut.
//
// Appends continue in the last segment file.
func Open(dir string, opts Options) (*Journal, error) {
	return openJournal(dir, opts, useMap)
}

// useMap says whether Open maps segment files; tests turn it off to exercise
// write calls where mapping is possible.
var useMap = canMap

// openJournal is Open, mapping segment files if mapped.
func openJournal(dir string, opts Options, mapped bool) (*Journal, error) {
	j := &Journal{dir: dir, segSize: opts.SegmentSize, next: 1, fFirst: 1, mapped: mapped}
	if j.segSize <= 0 {
		j.segSize = defaultSegmentSize
	}
	if dir == "" {
		return j, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened && lock != nil {
			lock.Close()
		}
	}()
	j.lock = lock
	firsts, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	var rd reader
	for i, first := range firsts {
		path := j.path(first)
		if i > 0 && first != j.next {
			return nil, fmt.Errorf("journal %s: segment starts at LSN %d, want %d", path, first, j.next)
		}
		last := i == len(firsts)-1
		end, size, err := rd.scan(path, first, -1, nil)
		var bad *corruptError
		switch {
		case err == nil:
		case errors.As(err, &bad) && bad.torn && last:
			// Writes continue at end: cut what follows, whether a torn record
			// or space reserved for records (which a mapping re-reserves).
			if err := os.Truncate(path, end); err != nil {
				return nil, fmt.Errorf("journal: cutting torn record: %w", err)
			}
			if !bad.zeros {
				j.cut = size - end
			}
		default:
			return nil, err
		}
		j.next = rd.want
		if !last {
			j.segs = append(j.segs, first)
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		j.f, j.fFirst, j.fSize, j.size = f, first, end, end
	}
	if j.f == nil {
		j.fFirst = j.next
	}
	opened = true
	return j, nil
}

// listSegments returns the first LSNs of the segment files in dir, in order.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		digits, ok := strings.CutSuffix(name, suffix)
		if !ok || len(digits) != nameDigits || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(digits, 10, 64)
		if err != nil || first == 0 {
			return nil, fmt.Errorf("journal %s: bad segment file name", filepath.Join(dir, name))
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	return firsts, nil
}

// path returns the name of the segment file whose first LSN is first.
func (j *Journal) path(first uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%020d%s", first, suffix))
}

// Last returns the LSN of the newest record, buffered or written, or 0 if
// there is none. After Skip it is at least the LSN skipped to.
func (j *Journal) Last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next - 1
}

// Cut returns the number of bytes Open cut from a torn record at the end of
// the last segment file.
func (j *Journal) Cut() int64 {
	return j.cut
}

// Skip makes the next record's LSN at least after+1. It is for a store that
// has applied records the journal's files no longer hold.
//
// If Skip moves the next LSN forward, every record the journal holds has an
// LSN of at most after, and so is applied: Skip drops any buffered records and
// deletes every segment file, so that the files always hold consecutive LSNs.
// A file it cannot delete is tried again before the next segment file is
// created, and the write fails until that succeeds.
func (j *Journal) Skip(after uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || after < j.next || after == ^uint64(0) {
		return
	}
	j.next = after + 1
	if j.dir == "" {
		return
	}
	if j.f != nil {
		// The file is deleted next; its data no longer matters.
		j.unmap()
		j.f.Close()
		j.f = nil
		j.segs = append(j.segs, j.fFirst)
	}
	for _, first := range j.segs {
		j.stale = append(j.stale, j.path(first))
	}
	j.segs = j.segs[:0]
	j.removeStale() // Failures are retried before the next segment is created.
	j.fFirst, j.fSize, j.size, j.trunc = j.next, 0, 0, false
	j.resetBuffer()
}

// removeStale deletes the files Skip left behind.
func (j *Journal) removeStale() error {
	for len(j.stale) > 0 {
		err := os.Remove(j.stale[0])
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
		j.stale = j.stale[1:]
	}
	j.stale = nil
	return nil
}

// Replay calls fn for each record with an LSN greater than after, in LSN
// order, reading the segment files. It first writes any buffered records, as
// Flush does. Records appended after Replay starts are not seen. The payload
// is only valid during the call to fn.
//
// Replay stops at the first error from fn and returns it. A damaged or
// missing record is an error that names the file and byte offset.
func (j *Journal) Replay(after uint64, fn func(lsn uint64, payload []byte) error) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	if j.dir == "" {
		j.mu.Unlock()
		return nil
	}
	if err := j.flushLocked(); err != nil {
		j.mu.Unlock()
		return err
	}
	firsts := slices.Clone(j.segs)
	curSize := int64(-1)
	if j.f != nil {
		firsts = append(firsts, j.fFirst)
		curSize = j.fSize
	}
	next := j.next
	j.mu.Unlock()

	var rd reader
	want := uint64(0)
	for i, first := range firsts {
		path := j.path(first)
		limit := int64(-1)
		if i == len(firsts)-1 {
			limit = curSize
		} else if firsts[i+1] <= after+1 {
			continue // Every record in it is at most after.
		}
		if want != 0 && first != want {
			return fmt.Errorf("journal %s: segment starts at LSN %d, want %d", path, first, want)
		}
		_, _, err := rd.scan(path, first, limit, func(lsn uint64, payload []byte) error {
			if lsn <= after || lsn >= next {
				return nil
			}
			return fn(lsn, payload)
		})
		if err != nil {
			return err
		}
		want = rd.want
	}
	return nil
}

// Append gives payload the next LSN and returns it.
//
// If the segment file is mapped, the record is copied into the mapping, and so
// into the file, before Append returns, whether or not sync is true.
//
// Otherwise, if sync is true, the record, with every record buffered before
// it, is written to the segment file in a single write call before Append
// returns; if sync is false, it is buffered until the next Append with sync or
// Flush.
//
// If the write fails, or a segment file cannot be created or mapped, the
// record stays buffered, with any before it, and the next Append with sync or
// Flush tries them again; a failed write is cut from the file. Append with sync
// returns the record's LSN with the error.
//
// A payload larger than 64 MiB is an error, and takes no LSN.
func (j *Journal) Append(payload []byte, sync bool) (uint64, error) {
	if len(payload) > maxPayload {
		return 0, fmt.Errorf("journal: payload of %d bytes exceeds the %d-byte limit", len(payload), maxPayload)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, ErrClosed
	}
	lsn := j.next
	j.next++
	if j.dir == "" {
		return lsn, nil
	}
	rec := headerSize + len(payload)

	var err error
	if j.mapped && j.done == len(j.buf) {
		// Nothing is buffered: copy the record into the mapping.
		if j.fSize+int64(rec) > int64(len(j.m)) {
			err = j.reserve(lsn, int64(rec))
		}
		if err == nil && j.mapped {
			putRecord(j.m[j.fSize:j.fSize+int64(rec)], lsn, payload)
			j.fSize += int64(rec)
			return lsn, nil
		}
		// Buffer the record, for the write path if reserve fell back to it
		// or to retry it if it failed.
	}

	if !j.mapped && j.size >= j.segSize {
		j.marks = append(j.marks, mark{off: len(j.buf), first: lsn})
		j.size = 0
	}
	n := len(j.buf)
	j.buf = slices.Grow(j.buf, rec)[:n+rec]
	putRecord(j.buf[n:], lsn, payload)
	j.size += int64(rec)

	if !sync {
		return lsn, nil
	}
	if err != nil {
		return lsn, err
	}
	return lsn, j.flushLocked()
}

// putRecord encodes the record lsn, payload into b, which is exactly its size.
func putRecord(b []byte, lsn uint64, payload []byte) {
	binary.BigEndian.PutUint32(b[0:], uint32(len(payload)))
	binary.BigEndian.PutUint64(b[8:], lsn)
	copy(b[headerSize:], payload)
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
}

// Flush writes the buffered records to the segment file. On failure they
// stay buffered, as with Append. When segment files are mapped, records are
// buffered only after such a failure, and Flush has nothing to do otherwise.
func (j *Journal) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	return j.flushLocked()
}

// flushLocked writes buf[done:], one write call per segment it spans, or
// copies it into mappings.
func (j *Journal) flushLocked() error {
	if j.mapped {
		return j.drain()
	}
	for {
		end := len(j.buf)
		if j.mi < len(j.marks) {
			end = j.marks[j.mi].off
		}
		if j.done < end {
			if err := j.write(j.buf[j.done:end]); err != nil {
				return err
			}
			j.done = end
		}
		if j.mi == len(j.marks) {
			break
		}
		if j.f != nil {
			// The data is written; closing a regular file cannot lose it.
			j.f.Close()
			j.f = nil
			j.segs = append(j.segs, j.fFirst)
		}
		j.fFirst, j.fSize = j.marks[j.mi].first, 0
		j.mi++
	}
	j.resetBuffer()
	return nil
}

// resetBuffer empties the write buffer, dropping it if it has grown large.
func (j *Journal) resetBuffer() {
	if cap(j.buf) > maxKeptBuffer {
		j.buf = nil
	}
	j.buf = j.buf[:0]
	j.done = 0
	j.marks = j.marks[:0]
	j.mi = 0
}

// write writes p to the current segment file, creating it if needed. On
// failure it cuts the file back to its size before the write.
func (j *Journal) write(p []byte) error {
	if j.f == nil {
		if err := j.removeStale(); err != nil {
			return err
		}
		f, err := os.OpenFile(j.path(j.fFirst), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.f, j.fSize, j.trunc = f, 0, false
	}
	if j.trunc {
		if err := j.f.Truncate(j.fSize); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.trunc = false
	}
	n, err := j.f.Write(p)
	if err != nil {
		// Leave no partial record behind; if that fails, try again before
		// the next write.
		j.trunc = j.f.Truncate(j.fSize) != nil
		return fmt.Errorf("journal: %w", err)
	}
	j.fSize += int64(n)
	return nil
}

// reserve makes room in the mapping, at fSize, for a record of rec bytes
// whose LSN is lsn. If the current segment file has no room for it, the file
// is finished and the next one, named by lsn, created and mapped: SegmentSize
// bytes, or rec if more. If the file system cannot reserve blocks, reserve
// switches the journal to write calls (fallBack) and returns nil.
func (j *Journal) reserve(lsn uint64, rec int64) error {
	if j.fSize+rec <= int64(len(j.m)) {
		return nil
	}
	if j.f != nil && j.fSize > 0 && (j.m != nil || j.fSize+rec > j.segSize) {
		if err := j.finish(); err != nil {
			return err
		}
		j.fFirst, j.fSize = lsn, 0
	}
	if j.f == nil {
		if err := j.removeStale(); err != nil {
			return err
		}
		f, err := os.OpenFile(j.path(j.fFirst), os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.f, j.fSize = f, 0
	}
	// The file has no mapping, or (being empty) one too small for rec.
	if err := j.unmap(); err != nil {
		return err
	}
	size := max(j.segSize, j.fSize+rec)
	if err := reserveBlocks(j.f, size); err != nil {
		if notSupported(err) {
			j.fallBack()
			return nil
		}
		return fmt.Errorf("journal: reserving %d bytes for %s: %w", size, j.f.Name(), err)
	}
	m, err := mapFile(j.f, size)
	if err != nil {
		return fmt.Errorf("journal: mapping %s: %w", j.f.Name(), err)
	}
	j.m = m
	return nil
}

// finish closes the current, mapped segment file, cut to the end of its
// records. On failure, the file stays current, unmapped.
func (j *Journal) finish() error {
	if err := j.unmap(); err != nil {
		return err
	}
	if err := j.f.Truncate(j.fSize); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// The data is in the page cache; closing a regular file cannot lose it.
	j.f.Close()
	j.f = nil
	j.segs = append(j.segs, j.fFirst)
	return nil
}

// unmap removes the mapping of the current segment file, if any.
func (j *Journal) unmap() error {
	if j.m == nil {
		return nil
	}
	if err := unmapFile(j.m); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.m = nil
	return nil
}

// drain copies the buffered records into mappings.
func (j *Journal) drain() error {
	for j.done < len(j.buf) {
		b := j.buf[j.done:]
		rec := headerSize + int64(binary.BigEndian.Uint32(b))
		if err := j.reserve(binary.BigEndian.Uint64(b[8:]), rec); err != nil {
			return err
		}
		if !j.mapped {
			return j.flushLocked()
		}
		copy(j.m[j.fSize:], b[:rec])
		j.fSize += rec
		j.done += int(rec)
	}
	j.resetBuffer()
	return nil
}

// fallBack switches the journal from mappings to write calls, for a file
// system that cannot reserve blocks. The current segment file, if any, must be
// unmapped. Buffered records get the segment rolls write calls would give
// them.
func (j *Journal) fallBack() {
	j.mapped = false
	j.size = j.fSize
	j.marks, j.mi = j.marks[:0], 0
	for off := j.done; off < len(j.buf); {
		b := j.buf[off:]
		if j.size >= j.segSize {
			j.marks = append(j.marks, mark{off: off, first: binary.BigEndian.Uint64(b[8:])})
			j.size = 0
		}
		rec := headerSize + int(binary.BigEndian.Uint32(b))
		j.size += int64(rec)
		off += rec
	}
}

// Release says that records with LSNs up to and including upto are applied
// elsewhere. It deletes each segment file all of whose records are at most
// upto, other than the one being written.
func (j *Journal) Release(upto uint64) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	var done []uint64
	for i, first := range j.segs {
		// A closed segment ends just before the next one starts.
		nextFirst := j.fFirst
		if i+1 < len(j.segs) {
			nextFirst = j.segs[i+1]
		}
		if nextFirst-1 > upto {
			break
		}
		done = append(done, first)
	}
	j.mu.Unlock()
	// Deleting a segment takes milliseconds: appends don't wait for it.
	var err error
	removed := 0
	for _, first := range done {
		if e := os.Remove(j.path(first)); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = fmt.Errorf("journal: %w", e)
			break
		}
		removed++
	}
	j.mu.Lock()
	for _, first := range done[:removed] {
		if len(j.segs) > 0 && j.segs[0] == first { // another Release may have dropped it
			j.segs = slices.Delete(j.segs, 0, 1)
		}
	}
	j.mu.Unlock()
	return err
}

// Close writes any buffered records and closes the journal, even if that
// write fails. A mapped segment file is unmapped and cut to the end of its
// last record. Later calls to its methods return ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	j.closed = true
	if j.dir == "" {
		return nil
	}
	err := j.flushLocked()
	if j.f != nil {
		if j.mapped {
			if uerr := j.unmap(); err == nil {
				err = uerr
			}
			if terr := j.f.Truncate(j.fSize); err == nil && terr != nil {
				err = fmt.Errorf("journal: %w", terr)
			}
		}
		if cerr := j.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("journal: %w", cerr)
		}
		j.f = nil
	}
	j.buf, j.marks = nil, nil
	if j.lock != nil {
		j.lock.Close()
		j.lock = nil
	}
	return err
}

// A corruptError reports a damaged or out-of-sequence record.
type corruptError struct {
	path   string
	off    int64
	reason string
	torn   bool // the record is damaged, as by a torn write, not merely out of sequence
	zeros  bool // torn, and every byte from off on is zero: space reserved for records
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("journal %s: bad record at byte %d: %s", e.path, e.off, e.reason)
}

// A reader reads the records of segment files. Its buffers are reused from
// one file to the next.
type reader struct {
	br   *bufio.Reader
	hdr  [headerSize]byte
	buf  []byte
	want uint64 // LSN expected next
}

// scan reads the segment file path, whose first record must have LSN first,
// calling fn (if not nil) for each record. It reads limit bytes, or the whole
// file if limit is negative. It returns the offset just past the last good
// record and the number of bytes it meant to read; rd.want is left as the LSN
// after the last good record. A damaged record gives a *corruptError.
func (rd *reader) scan(path string, first uint64, limit int64, fn func(uint64, []byte) error) (end, size int64, err error) {
	rd.want = first
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	size = limit
	if size < 0 {
		fi, err := f.Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("journal: %w", err)
		}
		size = fi.Size()
	}
	if rd.br == nil {
		rd.br = bufio.NewReaderSize(f, 256<<10)
	} else {
		rd.br.Reset(f)
	}
	bad := func(torn bool, reason string) error {
		e := &corruptError{path: path, off: end, reason: reason, torn: torn}
		if torn {
			zeros, err := rd.zeroTail(f, end, size)
			if err != nil {
				return err
			}
			e.zeros = zeros
		}
		return e
	}
	for end < size {
		if size-end < headerSize {
			return end, size, bad(true, "incomplete record")
		}
		if _, err := io.ReadFull(rd.br, rd.hdr[:]); err != nil {
			return end, size, readError(err, bad)
		}
		n := binary.BigEndian.Uint32(rd.hdr[0:])
		if n > maxPayload {
			return end, size, bad(true, fmt.Sprintf("payload length %d exceeds the limit", n))
		}
		if int64(n) > size-end-headerSize {
			return end, size, bad(true, "incomplete record")
		}
		if cap(rd.buf) < int(n) {
			rd.buf = make([]byte, n)
		}
		payload := rd.buf[:n]
		if _, err := io.ReadFull(rd.br, payload); err != nil {
			return end, size, readError(err, bad)
		}
		sum := crc32.Update(crc32.Checksum(rd.hdr[8:], castagnoli), castagnoli, payload)
		if sum != binary.BigEndian.Uint32(rd.hdr[4:]) {
			return end, size, bad(true, "checksum mismatch")
		}
		lsn := binary.BigEndian.Uint64(rd.hdr[8:])
		if lsn != rd.want {
			return end, size, bad(false, fmt.Sprintf("LSN %d, want %d", lsn, rd.want))
		}
		if fn != nil {
			if err := fn(lsn, payload); err != nil {
				return end, size, err
			}
		}
		end += headerSize + int64(n)
		rd.want++
	}
	return end, size, nil
}

// zeroTail reports whether bytes off to size of f are all zero. A file that
// ends before size is not.
func (rd *reader) zeroTail(f *os.File, off, size int64) (bool, error) {
	if cap(rd.buf) < len(zeros) {
		rd.buf = make([]byte, len(zeros))
	}
	buf := rd.buf[:len(zeros)]
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return false, nil
		}
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("journal: %w", err)
		}
	}
	return true, nil
}

// zeros is compared with the end of a segment file.
var zeros [64 << 10]byte

// readError turns an early end of file into a torn record.
func readError(err error, bad func(bool, string) error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bad(true, "incomplete record")
	}
	return fmt.Errorf("journal: %w", err)
}
