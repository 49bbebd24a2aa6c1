package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// record is a replayed record.
type record struct {
	lsn     uint64
	payload string
}

// forceWrite makes the journals the test opens use write calls, not mappings.
func forceWrite(t testing.TB) {
	t.Helper()
	was := useMap
	useMap = false
	t.Cleanup(func() { useMap = was })
}

// TestWritePath runs the main tests with write calls, where the other tests
// use mappings.
func TestWritePath(t *testing.T) {
	if !useMap {
		t.Skip("the other tests use write calls")
	}
	forceWrite(t)
	for _, tt := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"RoundTrip", TestRoundTrip},
		{"ReplayStopsAtError", TestReplayStopsAtError},
		{"BufferedAcrossRolls", TestBufferedAcrossRolls},
		{"ReopenContinues", TestReopenContinues},
		{"TornTail", TestTornTail},
		{"TornOnlyRecord", TestTornOnlyRecord},
		{"ZeroTail", TestZeroTail},
		{"Crash", TestCrash},
		{"CorruptOlderSegment", TestCorruptOlderSegment},
		{"OutOfSequence", TestOutOfSequence},
		{"Release", TestRelease},
		{"ReleasePartialSegment", TestReleasePartialSegment},
		{"Skip", TestSkip},
		{"ConcurrentAppend", TestConcurrentAppend},
		{"LargeRecords", TestLargeRecords},
		{"Closed", TestClosed},
		{"OpenIgnoresOtherFiles", TestOpenIgnoresOtherFiles},
		{"OpenCreatesDir", TestOpenCreatesDir},
		{"AppendAllocs", TestAppendAllocs},
	} {
		t.Run(tt.name, tt.fn)
	}
}

// crash lets j go as the process being killed would: its mapping and file are
// dropped as they are, and buffered records are lost.
func crash(t testing.TB, j *Journal) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.unmap(); err != nil {
		t.Fatal(err)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	if j.lock != nil { // the process's end lets its lock go
		j.lock.Close()
		j.lock = nil
	}
	j.closed = true
}

func open(t testing.TB, dir string, segSize int64) *Journal {
	t.Helper()
	j, err := Open(dir, Options{SegmentSize: segSize})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j
}

func closeJ(t testing.TB, j *Journal) {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// payloadFor returns a payload for record i whose length varies with i.
func payloadFor(i int) string {
	return fmt.Sprintf("stmt %d %s", i, strings.Repeat("x", i%37))
}

func appendN(t testing.TB, j *Journal, from, to int, sync bool) {
	t.Helper()
	for i := from; i <= to; i++ {
		lsn, err := j.Append([]byte(payloadFor(i)), sync)
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if lsn != uint64(i) {
			t.Fatalf("Append %d: got LSN %d", i, lsn)
		}
	}
}

func replay(t testing.TB, j *Journal, after uint64) []record {
	t.Helper()
	var got []record
	err := j.Replay(after, func(lsn uint64, payload []byte) error {
		got = append(got, record{lsn, string(payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%d): %v", after, err)
	}
	return got
}

// checkReplay checks that Replay(after) gives exactly records from..to made by payloadFor.
func checkReplay(t testing.TB, j *Journal, after uint64, from, to int) {
	t.Helper()
	got := replay(t, j, after)
	var want []record
	for i := from; i <= to; i++ {
		want = append(want, record{uint64(i), payloadFor(i)})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Replay(%d): got %d records %v..., want %d records %d..%d", after, len(got), head(got), len(want), from, to)
	}
}

func head(rs []record) []record {
	return rs[:min(len(rs), 3)]
}

// segments returns the paths of the segment files in dir, oldest first.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

func size(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// encode encodes a record as the package documentation describes.
func encode(lsn uint64, payload []byte) []byte {
	b := make([]byte, 16+len(payload))
	binary.BigEndian.PutUint32(b[0:], uint32(len(payload)))
	binary.BigEndian.PutUint64(b[8:], lsn)
	copy(b[16:], payload)
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func segName(first uint64) string { return fmt.Sprintf("%020d.wal", first) }

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const segSize = 300
	j := open(t, dir, segSize)
	if j.Last() != 0 {
		t.Fatalf("Last of a new journal: got %d", j.Last())
	}
	for i := 1; i <= 100; i++ {
		lsn, err := j.Append([]byte(payloadFor(i)), i%3 == 0)
		if err != nil || lsn != uint64(i) {
			t.Fatalf("Append %d: got %d, %v", i, lsn, err)
		}
	}
	checkReplay(t, j, 0, 1, 100)
	closeJ(t, j)

	// Each segment is named by its first record, holds consecutive records,
	// and was rolled once it reached segSize.
	paths := segments(t, dir)
	if len(paths) < 5 {
		t.Fatalf("got %d segments, want several", len(paths))
	}
	next := uint64(1)
	for i, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := filepath.Base(path); got != segName(next) {
			t.Errorf("segment %d: got name %s, want %s", i, got, segName(next))
		}
		var off, lastLen, recs int
		for off < len(data) {
			n := int(binary.BigEndian.Uint32(data[off:]))
			if lsn := binary.BigEndian.Uint64(data[off+8:]); lsn != next {
				t.Fatalf("%s at %d: got LSN %d, want %d", path, off, lsn, next)
			}
			lastLen = 16 + n
			off += lastLen
			next++
			recs++
		}
		if i == len(paths)-1 {
			continue
		}
		if useMap {
			// Rolled when the next record would not fit in segSize, unless
			// a record alone is larger.
			nextLen := 16 + len(payloadFor(int(next)))
			if recs > 1 && len(data) > segSize || len(data)+nextLen <= segSize {
				t.Errorf("segment %d: %d bytes, next record %d bytes: not rolled at %d", i, len(data), nextLen, segSize)
			}
		} else if len(data) < segSize || len(data)-lastLen >= segSize {
			t.Errorf("segment %d: %d bytes, last record %d bytes: not rolled at %d", i, len(data), lastLen, segSize)
		}
	}
	if next != 101 {
		t.Fatalf("files hold records up to %d, want 100", next-1)
	}

	j = open(t, dir, segSize)
	defer closeJ(t, j)
	if j.Last() != 100 || j.Cut() != 0 {
		t.Fatalf("reopened: Last %d, Cut %d; want 100, 0", j.Last(), j.Cut())
	}
	checkReplay(t, j, 0, 1, 100)
	checkReplay(t, j, 1, 2, 100)
	checkReplay(t, j, 57, 58, 100)
	checkReplay(t, j, 99, 100, 100)
	checkReplay(t, j, 100, 1, 0)
	checkReplay(t, j, 1000, 1, 0)
}

func TestReplayStopsAtError(t *testing.T) {
	j := open(t, t.TempDir(), 100)
	defer closeJ(t, j)
	appendN(t, j, 1, 20, true)
	stop := errors.New("stop")
	var calls int
	err := j.Replay(3, func(lsn uint64, _ []byte) error {
		calls++
		if lsn == 10 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 7 {
		t.Fatalf("got %v after %d calls, want stop after 7", err, calls)
	}
}

func TestBuffered(t *testing.T) {
	forceWrite(t) // With a mapping, nothing is buffered: see TestMapUnbuffered.
	dir := t.TempDir()
	j := open(t, dir, 0)
	path := filepath.Join(dir, segName(1))
	rec := func(i int) int64 { return int64(16 + len(payloadFor(i))) }

	appendN(t, j, 1, 3, false)
	if got := size(t, path); got != -1 {
		t.Fatalf("after unsynced appends: file is %d bytes, want none", got)
	}
	appendN(t, j, 4, 4, true)
	want := rec(1) + rec(2) + rec(3) + rec(4)
	if got := size(t, path); got != want {
		t.Fatalf("after a synced append: got %d bytes, want %d", got, want)
	}
	appendN(t, j, 5, 6, false)
	if got := size(t, path); got != want {
		t.Fatalf("after unsynced appends: got %d bytes, want %d", got, want)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	want += rec(5) + rec(6)
	if got := size(t, path); got != want {
		t.Fatalf("after Flush: got %d bytes, want %d", got, want)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 7, 7, false)
	closeJ(t, j)
	want += rec(7)
	if got := size(t, path); got != want {
		t.Fatalf("after Close: got %d bytes, want %d", got, want)
	}
}

func TestBufferedAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 64)
	appendN(t, j, 1, 30, false)
	if got := segments(t, dir); useMap != (len(got) > 0) {
		t.Fatalf("unsynced appends wrote %v; with a mapping, want them written", got)
	}
	checkReplay(t, j, 0, 1, 30) // Replay writes what is buffered.
	if got := segments(t, dir); len(got) < 5 {
		t.Fatalf("got %d segments, want several", len(got))
	}
	appendN(t, j, 31, 60, false)
	closeJ(t, j)
	j = open(t, dir, 64)
	defer closeJ(t, j)
	checkReplay(t, j, 0, 1, 60)
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 200)
	appendN(t, j, 1, 10, true)
	closeJ(t, j)
	n := len(segments(t, dir))

	j = open(t, dir, 200)
	if j.Last() != 10 {
		t.Fatalf("Last: got %d, want 10", j.Last())
	}
	appendN(t, j, 11, 11, true)
	if got := len(segments(t, dir)); got != n {
		t.Fatalf("append after reopen: got %d segments, want it in the last of %d", got, n)
	}
	appendN(t, j, 12, 40, true)
	closeJ(t, j)

	j = open(t, dir, 200)
	defer closeJ(t, j)
	if j.Last() != 40 {
		t.Fatalf("Last: got %d, want 40", j.Last())
	}
	checkReplay(t, j, 0, 1, 40)
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(data []byte, lastRec int) []byte // lastRec: offset of the last record
	}{
		{"truncated payload", func(b []byte, _ int) []byte { return b[:len(b)-3] }},
		{"truncated header", func(b []byte, last int) []byte { return b[:last+5] }},
		{"flipped payload byte", func(b []byte, _ int) []byte { b[len(b)-1] ^= 0x40; return b }},
		{"flipped LSN byte", func(b []byte, last int) []byte { b[last+15] ^= 1; return b }},
		{"huge length", func(b []byte, last int) []byte { b[last] = 0xff; return b }},
		{"junk after the last record", func(b []byte, _ int) []byte { return append(b, 1, 2, 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j := open(t, dir, 200)
			appendN(t, j, 1, 30, true)
			closeJ(t, j)

			paths := segments(t, dir)
			last := paths[len(paths)-1]
			data, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			lastRec := len(data) - 16 - len(payloadFor(30))
			damaged := tt.damage(slices.Clone(data), lastRec)
			if err := os.WriteFile(last, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			wantLast, keep := uint64(29), int64(lastRec)
			if len(damaged) > len(data) {
				wantLast, keep = 30, int64(len(data))
			}

			j = open(t, dir, 200)
			if got, want := j.Cut(), int64(len(damaged))-keep; got != want {
				t.Errorf("Cut: got %d, want %d", got, want)
			}
			if got := size(t, last); got != keep {
				t.Errorf("last segment: got %d bytes, want %d", got, keep)
			}
			if j.Last() != wantLast {
				t.Fatalf("Last: got %d, want %d", j.Last(), wantLast)
			}
			appendN(t, j, int(wantLast)+1, 45, true)
			closeJ(t, j)

			j = open(t, dir, 200)
			defer closeJ(t, j)
			if j.Cut() != 0 {
				t.Errorf("second reopen: Cut %d", j.Cut())
			}
			checkReplay(t, j, 0, 1, 45)
		})
	}
}

func TestTornOnlyRecord(t *testing.T) {
	// The last segment loses its only record: the next LSN still follows the
	// segment's name.
	dir := t.TempDir()
	j := open(t, dir, 10)
	appendN(t, j, 1, 5, true)
	closeJ(t, j)
	last := filepath.Join(dir, segName(5))
	if err := os.Truncate(last, 7); err != nil {
		t.Fatal(err)
	}
	j = open(t, dir, 10)
	if j.Last() != 4 || j.Cut() != 7 {
		t.Fatalf("Last %d, Cut %d; want 4, 7", j.Last(), j.Cut())
	}
	appendN(t, j, 5, 8, true)
	closeJ(t, j)
	j = open(t, dir, 10)
	defer closeJ(t, j)
	checkReplay(t, j, 0, 1, 8)
}

func TestZeroTail(t *testing.T) {
	records := slices.Concat(encode(1, []byte("a")), encode(2, []byte("bb")), encode(3, nil))
	t.Run("clean end", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, segName(1))
		if err := os.WriteFile(path, slices.Concat(records, make([]byte, 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		j := open(t, dir, 0)
		if j.Last() != 3 || j.Cut() != 0 {
			t.Fatalf("Last %d, Cut %d; want 3, 0", j.Last(), j.Cut())
		}
		if got := replay(t, j, 0); len(got) != 3 || got[2] != (record{3, ""}) {
			t.Fatalf("Replay: got %v", got)
		}
		// Appends continue right after the last record, not after the zeros.
		if lsn, err := j.Append([]byte("d"), true); lsn != 4 || err != nil {
			t.Fatalf("Append: got %d, %v", lsn, err)
		}
		closeJ(t, j)
		if got, want := size(t, path), int64(len(records)+17); got != want {
			t.Fatalf("closed segment: got %d bytes, want %d", got, want)
		}
		j = open(t, dir, 0)
		defer closeJ(t, j)
		if got := replay(t, j, 2); !slices.Equal(got, []record{{3, ""}, {4, "d"}}) || j.Cut() != 0 {
			t.Fatalf("reopened: Replay got %v, Cut %d", got, j.Cut())
		}
	})
	t.Run("zeros then junk", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, segName(1))
		if err := os.WriteFile(path, slices.Concat(records, make([]byte, 100), []byte{7}), 0o600); err != nil {
			t.Fatal(err)
		}
		j := open(t, dir, 0)
		defer closeJ(t, j)
		if j.Last() != 3 || j.Cut() != 101 {
			t.Fatalf("Last %d, Cut %d; want 3, 101", j.Last(), j.Cut())
		}
	})
	t.Run("older segment", func(t *testing.T) {
		dir := t.TempDir()
		first := filepath.Join(dir, segName(1))
		if err := os.WriteFile(first, slices.Concat(records, make([]byte, 100)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segName(4)), encode(4, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		want := fmt.Sprintf("journal %s: bad record at byte %d: checksum mismatch", first, len(records))
		if err == nil || err.Error() != want {
			t.Fatalf("Open: got %v, want %s", err, want)
		}
	})
}

func TestCrash(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 200)
	appendN(t, j, 1, 30, true)
	appendN(t, j, 31, 32, false)
	crash(t, j)

	// Records a mapping took survive; buffered ones do not.
	last := 30
	if useMap {
		last = 32
	}
	j = open(t, dir, 200)
	if j.Last() != uint64(last) || j.Cut() != 0 {
		t.Fatalf("after a crash: Last %d, Cut %d; want %d, 0", j.Last(), j.Cut(), last)
	}
	checkReplay(t, j, 0, 1, last)
	appendN(t, j, last+1, 50, true)
	checkReplay(t, j, 0, 1, 50)
	crash(t, j)

	j = open(t, dir, 200)
	defer closeJ(t, j)
	if j.Last() != 50 || j.Cut() != 0 {
		t.Fatalf("after a second crash: Last %d, Cut %d; want 50, 0", j.Last(), j.Cut())
	}
	checkReplay(t, j, 0, 1, 50)
}

func TestCorruptOlderSegment(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 200)
	appendN(t, j, 1, 30, true)
	closeJ(t, j)

	first := segments(t, dir)[0]
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the third record.
	off := 16 + len(payloadFor(1)) + 16 + len(payloadFor(2))
	data[off+20] ^= 0x01
	if err := os.WriteFile(first, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{SegmentSize: 200})
	want := fmt.Sprintf("journal %s: bad record at byte %d: checksum mismatch", first, off)
	if err == nil || err.Error() != want {
		t.Fatalf("Open: got %v, want %s", err, want)
	}

	// A torn end in an older segment is an error too.
	if err := os.WriteFile(first, data[:off+3], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{SegmentSize: 200})
	want = fmt.Sprintf("journal %s: bad record at byte %d: incomplete record", first, off)
	if err == nil || err.Error() != want {
		t.Fatalf("Open: got %v, want %s", err, want)
	}
}

func TestOutOfSequence(t *testing.T) {
	t.Run("within a segment", func(t *testing.T) {
		dir := t.TempDir()
		data := slices.Concat(encode(1, []byte("a")), encode(2, []byte("b")), encode(4, []byte("c")))
		path := filepath.Join(dir, segName(1))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		want := fmt.Sprintf("journal %s: bad record at byte 34: LSN 4, want 3", path)
		if err == nil || err.Error() != want {
			t.Fatalf("Open: got %v, want %s", err, want)
		}
	})
	t.Run("first record and name differ", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, segName(7))
		if err := os.WriteFile(path, encode(8, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		want := fmt.Sprintf("journal %s: bad record at byte 0: LSN 8, want 7", path)
		if err == nil || err.Error() != want {
			t.Fatalf("Open: got %v, want %s", err, want)
		}
	})
	t.Run("missing segment", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir, 50)
		appendN(t, j, 1, 20, true)
		closeJ(t, j)
		paths := segments(t, dir)
		if err := os.Remove(paths[2]); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{SegmentSize: 50})
		if err == nil || !strings.Contains(err.Error(), "journal "+paths[3]+": segment starts at LSN") {
			t.Fatalf("Open: got %v, want an error naming %s", err, paths[3])
		}
	})
}

func TestRelease(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 10) // Every record fills a segment.
	appendN(t, j, 1, 5, true)
	if got := len(segments(t, dir)); got != 5 {
		t.Fatalf("got %d segments, want 5", got)
	}
	if err := j.Release(0); err != nil {
		t.Fatal(err)
	}
	if got := len(segments(t, dir)); got != 5 {
		t.Fatalf("Release(0): got %d segments, want 5", got)
	}
	if err := j.Release(2); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var s []string
		for _, p := range segments(t, dir) {
			s = append(s, filepath.Base(p))
		}
		return s
	}
	if got, want := names(), []string{segName(3), segName(4), segName(5)}; !slices.Equal(got, want) {
		t.Fatalf("Release(2): got %v, want %v", got, want)
	}
	// The segment being written is kept.
	if err := j.Release(100); err != nil {
		t.Fatal(err)
	}
	if got, want := names(), []string{segName(5)}; !slices.Equal(got, want) {
		t.Fatalf("Release(100): got %v, want %v", got, want)
	}
	checkReplay(t, j, 4, 5, 5)
	closeJ(t, j)

	j = open(t, dir, 10)
	if j.Last() != 5 {
		t.Fatalf("reopened: Last %d, want 5", j.Last())
	}
	appendN(t, j, 6, 9, true)
	checkReplay(t, j, 4, 5, 9)
	closeJ(t, j)
}

func TestReleasePartialSegment(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 100)
	defer closeJ(t, j)
	appendN(t, j, 1, 20, true)
	paths := segments(t, dir)
	// Releasing up to the next-to-last record of the second segment deletes
	// only the first.
	var third uint64
	if _, err := fmt.Sscanf(filepath.Base(paths[2]), "%d.wal", &third); err != nil {
		t.Fatal(err)
	}
	if err := j.Release(third - 2); err != nil {
		t.Fatal(err)
	}
	if got := segments(t, dir); !slices.Equal(got, paths[1:]) {
		t.Fatalf("got segments %v, want %v", got, paths[1:])
	}
	checkReplay(t, j, third-2, int(third-1), 20)
}

func TestMemory(t *testing.T) {
	j := open(t, "", 0)
	appendN(t, j, 1, 10, true)
	appendN(t, j, 11, 12, false)
	if j.Last() != 12 {
		t.Fatalf("Last: got %d, want 12", j.Last())
	}
	if got := replay(t, j, 0); len(got) != 0 {
		t.Fatalf("Replay: got %v", got)
	}
	j.Skip(20)
	appendN(t, j, 21, 21, true)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := j.Release(21); err != nil {
		t.Fatal(err)
	}
	closeJ(t, j)
	if _, err := j.Append(nil, true); err != ErrClosed {
		t.Fatalf("Append after Close: got %v, want ErrClosed", err)
	}
}

func TestSkip(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 0)
	j.Skip(0)
	appendN(t, j, 1, 10, true)
	appendN(t, j, 11, 12, false)
	j.Skip(5) // Behind: no change.
	if j.Last() != 12 {
		t.Fatalf("Last after Skip(5): got %d, want 12", j.Last())
	}
	j.Skip(12) // Level: no change.
	appendN(t, j, 13, 13, true)
	j.Skip(40)
	if j.Last() != 40 {
		t.Fatalf("Last after Skip(40): got %d, want 40", j.Last())
	}
	if got := segments(t, dir); len(got) != 0 {
		t.Fatalf("Skip left %v", got)
	}
	appendN(t, j, 41, 45, true)
	checkReplay(t, j, 0, 41, 45)
	closeJ(t, j)

	j = open(t, dir, 0)
	defer closeJ(t, j)
	if j.Last() != 45 {
		t.Fatalf("reopened: Last %d, want 45", j.Last())
	}
	checkReplay(t, j, 0, 41, 45)
	if got := segments(t, dir); len(got) != 1 || filepath.Base(got[0]) != segName(41) {
		t.Fatalf("got segments %v, want one named %s", got, segName(41))
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 4096)
	const workers, each = 8, 300
	lsns := make([][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				lsn, err := j.Append(fmt.Appendf(nil, "w%d i%d", w, i), i%4 != 0)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				lsns[w] = append(lsns[w], lsn)
			}
		})
	}
	wg.Wait()
	closeJ(t, j)

	// LSN -> payload: each worker's records are in order, and together they
	// are 1..workers*each.
	want := make(map[uint64]string)
	for w, ls := range lsns {
		if !slices.IsSorted(ls) {
			t.Fatalf("worker %d: LSNs out of order", w)
		}
		for i, lsn := range ls {
			if _, dup := want[lsn]; dup {
				t.Fatalf("LSN %d given twice", lsn)
			}
			want[lsn] = fmt.Sprintf("w%d i%d", w, i)
		}
	}
	j = open(t, dir, 4096)
	defer closeJ(t, j)
	if j.Last() != workers*each {
		t.Fatalf("Last: got %d, want %d", j.Last(), workers*each)
	}
	got := replay(t, j, 0)
	if len(got) != workers*each {
		t.Fatalf("replayed %d records, want %d", len(got), workers*each)
	}
	for i, r := range got {
		if r.lsn != uint64(i+1) || r.payload != want[r.lsn] {
			t.Fatalf("record %d: got %d %q, want %d %q", i, r.lsn, r.payload, i+1, want[uint64(i+1)])
		}
	}
}

func TestWriteErrorRetry(t *testing.T) {
	forceWrite(t) // With a mapping, see TestMapReserveFailure.
	dir := t.TempDir()
	j := open(t, dir, 0)
	appendN(t, j, 1, 1, true)
	path := filepath.Join(dir, segName(1))
	good := size(t, path)

	// Swap in a read-only descriptor so that writes fail.
	w := j.f
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	j.f = ro
	if lsn, err := j.Append([]byte(payloadFor(2)), true); err == nil || lsn != 2 {
		t.Fatalf("Append to a read-only file: got %d, %v; want 2 and an error", lsn, err)
	}
	appendN(t, j, 3, 3, false)
	if err := j.Flush(); err == nil {
		t.Fatal("Flush to a read-only file: no error")
	}
	if got := size(t, path); got != good {
		t.Fatalf("after failed writes: got %d bytes, want %d", got, good)
	}

	j.f = w
	appendN(t, j, 4, 4, true) // Writes 2, 3 and 4.
	if got, want := size(t, path), good+int64(3*16+len(payloadFor(2)+payloadFor(3)+payloadFor(4))); got != want {
		t.Fatalf("after retry: got %d bytes, want %d", got, want)
	}
	closeJ(t, j)
	j = open(t, dir, 0)
	defer closeJ(t, j)
	checkReplay(t, j, 0, 1, 4)
}

func TestLargeRecords(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 1<<20)
	defer closeJ(t, j)
	if _, err := j.Append(make([]byte, 64<<20+1), true); err == nil {
		t.Fatal("Append of 64 MiB + 1: no error")
	}
	big := bytes.Repeat([]byte("0123456789"), 500_000) // 5 MB, over SegmentSize
	for i := range 3 {
		if lsn, err := j.Append(big, i != 1); err != nil || lsn != uint64(i+1) {
			t.Fatalf("Append big %d: got %d, %v", i, lsn, err)
		}
	}
	if cap(j.buf) > maxKeptBuffer {
		t.Fatalf("write buffer of %d bytes kept", cap(j.buf))
	}
	appendN(t, j, 4, 4, true)
	// Each record has a segment of its own, as each big one fills its segment.
	if got := len(segments(t, dir)); got != 4 {
		t.Fatalf("got %d segments, want 4", got)
	}
	var n int
	err := j.Replay(0, func(lsn uint64, payload []byte) error {
		n++
		if lsn <= 3 && !bytes.Equal(payload, big) {
			t.Errorf("record %d: payload differs", lsn)
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("Replay: %d records, %v", n, err)
	}
}

func TestClosed(t *testing.T) {
	j := open(t, t.TempDir(), 0)
	appendN(t, j, 1, 2, false)
	closeJ(t, j)
	if err := j.Close(); err != ErrClosed {
		t.Errorf("Close: got %v", err)
	}
	if _, err := j.Append(nil, false); err != ErrClosed {
		t.Errorf("Append: got %v", err)
	}
	if err := j.Flush(); err != ErrClosed {
		t.Errorf("Flush: got %v", err)
	}
	if err := j.Release(1); err != ErrClosed {
		t.Errorf("Release: got %v", err)
	}
	if err := j.Replay(0, func(uint64, []byte) error { return nil }); err != ErrClosed {
		t.Errorf("Replay: got %v", err)
	}
}

func TestOpenIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "1.wal", segName(1) + ".tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j := open(t, dir, 0)
	defer closeJ(t, j)
	if j.Last() != 0 {
		t.Fatalf("Last: got %d", j.Last())
	}
	appendN(t, j, 1, 1, true)
	fi, err := os.Stat(filepath.Join(dir, segName(1)))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("segment mode: got %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "journal")
	j := open(t, dir, 0)
	closeJ(t, j)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode: got %v, want 0700", fi.Mode().Perm())
	}
}

func TestAppendAllocs(t *testing.T) {
	j := open(t, t.TempDir(), 0)
	defer closeJ(t, j)
	payload := make([]byte, 400)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := j.Append(payload, true); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Append with sync: %v allocations, want 0", allocs)
	}
}

// validPrefix parses data as a segment whose first LSN is 1, independently of
// the package. It returns the records of the longest valid prefix, the prefix's
// length, and whether a record with a good checksum is out of sequence.
func validPrefix(data []byte) (recs []record, n int, outOfSeq bool) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	for len(data)-n >= 16 {
		b := data[n:]
		l := binary.BigEndian.Uint32(b)
		if l > 64<<20 || uint64(l) > uint64(len(b)-16) {
			break
		}
		if crc32.Checksum(b[8:16+l], tab) != binary.BigEndian.Uint32(b[4:]) {
			break
		}
		lsn := binary.BigEndian.Uint64(b[8:])
		if lsn != uint64(len(recs)+1) {
			return recs, n, true
		}
		recs = append(recs, record{lsn, string(b[16 : 16+l])})
		n += 16 + int(l)
	}
	return recs, n, false
}

func FuzzOpen(f *testing.F) {
	valid := slices.Concat(encode(1, []byte("select 1")), encode(2, nil), encode(3, []byte("x")))
	for _, write := range []bool{false, true} {
		f.Add(valid, false, write)
		f.Add(valid, true, write)
		f.Add(valid[:len(valid)-1], false, write)
		f.Add(valid[:len(valid)-1], true, write)
		f.Add([]byte{}, false, write)
		f.Add([]byte{0, 0, 0, 0}, false, write)
		f.Add(slices.Concat(encode(1, []byte("a")), encode(3, []byte("b"))), false, write)
		f.Add(slices.Concat(encode(1, []byte("a")), []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}), false, write)
		f.Add(slices.Concat(valid, make([]byte, 100)), false, write)
		f.Add(slices.Concat(valid, make([]byte, 100)), true, write)
		f.Add(slices.Concat(valid, make([]byte, 5)), false, write)
		f.Add(slices.Concat(valid[:20], make([]byte, 100)), false, write)
		f.Add(slices.Concat(valid, make([]byte, 40), []byte{1}), false, write)
	}
	f.Fuzz(func(t *testing.T, data []byte, older, write bool) {
		// data is the first segment. If older, a valid segment follows it,
		// named as if data were whole. If write, the journal uses write
		// calls rather than mappings.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		want, n, outOfSeq := validPrefix(data)
		older = older && len(data) > 0 // An empty older segment would share the next one's name.
		if older {
			next := max(uint64(len(want)+1), 2)
			tail := slices.Concat(encode(next, []byte("tail")), encode(next+1, []byte("tail 2")))
			if err := os.WriteFile(filepath.Join(dir, segName(next)), tail, 0o600); err != nil {
				t.Fatal(err)
			}
			want = append(want, record{next, "tail"}, record{next + 1, "tail 2"})
		}
		wantErr := outOfSeq || (older && n != len(data))

		// In the last segment, zero bytes after the last good record are
		// space reserved for records, not a torn one.
		wantCut := len(data) - n
		if !slices.ContainsFunc(data[n:], func(b byte) bool { return b != 0 }) {
			wantCut = 0
		}

		j, err := openJournal(dir, Options{}, !write && canMap)
		if err != nil {
			if !wantErr {
				t.Fatalf("Open: %v", err)
			}
			if !strings.Contains(err.Error(), segName(1)) || !strings.Contains(err.Error(), fmt.Sprintf("bad record at byte %d:", n)) {
				t.Fatalf("Open: error %q does not name the file and offset %d", err, n)
			}
			return
		}
		defer j.Close()
		if wantErr {
			t.Fatalf("Open: no error for a bad record at %d", n)
		}
		if !older && j.Cut() != int64(wantCut) {
			t.Fatalf("Cut: got %d, want %d", j.Cut(), wantCut)
		}
		if j.Last() != uint64(len(want)) {
			t.Fatalf("Last: got %d, want %d", j.Last(), len(want))
		}
		if got := replay(t, j, 0); !slices.Equal(got, want) {
			t.Fatalf("Replay: got %v, want %v", got, want)
		}
		// The journal goes on from the last good record.
		lsn, err := j.Append([]byte("next"), true)
		if err != nil || lsn != uint64(len(want)+1) {
			t.Fatalf("Append: got %d, %v", lsn, err)
		}
		if got := replay(t, j, lsn-1); !slices.Equal(got, []record{{lsn, "next"}}) {
			t.Fatalf("Replay of the new record: got %v", got)
		}
	})
}

// benchPaths runs bench once for each way of writing records.
func benchPaths(b *testing.B, bench func(b *testing.B, j *Journal, payload []byte)) {
	for _, path := range []struct {
		name   string
		mapped bool
	}{{"mmap", true}, {"write", false}} {
		b.Run(path.name, func(b *testing.B) {
			if path.mapped && !canMap {
				b.Skip("segment files cannot be mapped here")
			}
			j, err := openJournal(b.TempDir(), Options{}, path.mapped)
			if err != nil {
				b.Fatal(err)
			}
			defer closeJ(b, j)
			payload := bytes.Repeat([]byte("p"), 400)
			if _, err := j.Append(payload, true); err != nil {
				b.Fatal(err)
			}
			if j.mapped != path.mapped {
				b.Skip("the file system cannot reserve blocks")
			}
			b.SetBytes(int64(16 + len(payload)))
			b.ReportAllocs()
			bench(b, j, payload)
		})
	}
}

// The benchmarks release records now and then, as the gateway does once the
// store has them, so that the files they write are deleted rather than left
// for the kernel to write back.
const benchRelease = 1 << 16

func BenchmarkAppend(b *testing.B) {
	benchPaths(b, func(b *testing.B, j *Journal, payload []byte) {
		var n int
		for b.Loop() {
			lsn, err := j.Append(payload, true)
			if err != nil {
				b.Fatal(err)
			}
			if n++; n%benchRelease == 0 {
				j.Release(lsn)
			}
		}
	})
}

func BenchmarkAppendParallel(b *testing.B) {
	benchPaths(b, func(b *testing.B, j *Journal, payload []byte) {
		b.RunParallel(func(pb *testing.PB) {
			var n int
			for pb.Next() {
				lsn, err := j.Append(payload, true)
				if err != nil {
					b.Error(err)
					return
				}
				if n++; n%benchRelease == 0 {
					j.Release(lsn)
				}
			}
		})
	})
}

// TestLocked: a journal dir is one process's at a time; a second Open fails with a
// message that says why, and works once the first is closed.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("a second Open: %v, want it refused", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j.Close()
}
