//go:build linux

package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// mustMap skips the test if j, having appended, does not map its segment
// files.
func mustMap(t testing.TB, j *Journal) {
	t.Helper()
	if !j.mapped {
		t.Skip("the file system cannot reserve blocks")
	}
}

// recBytes returns the bytes records from..to made by payloadFor take.
func recBytes(from, to int) int64 {
	var n int64
	for i := from; i <= to; i++ {
		n += int64(16 + len(payloadFor(i)))
	}
	return n
}

// setReserve replaces reserveBlocks for the test.
func setReserve(t testing.TB, fn func(*os.File, int64) error) {
	t.Helper()
	was := reserveBlocks
	reserveBlocks = fn
	t.Cleanup(func() { reserveBlocks = was })
}

// firstLSN returns the first LSN of the segment file path.
func firstLSN(t testing.TB, path string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".wal"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func allZero(b []byte) bool {
	return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 })
}

func TestMapUnbuffered(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 4096)
	appendN(t, j, 1, 1, false)
	mustMap(t, j)
	path := filepath.Join(dir, segName(1))
	// The unsynced record is in the file at once, which is at its full size.
	data := readFile(t, path)
	rec := encode(1, []byte(payloadFor(1)))
	if len(data) != 4096 || !bytes.Equal(data[:len(rec)], rec) || !allZero(data[len(rec):]) {
		t.Fatalf("after an unsynced append: got %d bytes starting %x, want 4096 starting %x then zeros", len(data), data[:min(len(data), len(rec))], rec)
	}
	appendN(t, j, 2, 3, false)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(j.buf) != 0 {
		t.Fatalf("%d bytes buffered", len(j.buf))
	}
	closeJ(t, j)
	if got, want := size(t, path), recBytes(1, 3); got != want {
		t.Fatalf("after Close: got %d bytes, want %d", got, want)
	}
}

func TestMapCrashZeroTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, segName(1))
	j := open(t, dir, 4096)
	for i := 1; i <= 20; i++ {
		appendN(t, j, i, i, i%3 == 0)
	}
	mustMap(t, j)
	if got := size(t, path); got != 4096 {
		t.Fatalf("segment being written: got %d bytes, want 4096", got)
	}

	// The file as it is on disk at this moment holds every record.
	copyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(copyDir, segName(1)), readFile(t, path), 0o600); err != nil {
		t.Fatal(err)
	}
	jc := open(t, copyDir, 4096)
	if jc.Last() != 20 || jc.Cut() != 0 {
		t.Fatalf("copy of the live file: Last %d, Cut %d; want 20, 0", jc.Last(), jc.Cut())
	}
	checkReplay(t, jc, 0, 1, 20)
	closeJ(t, jc)

	crash(t, j)
	if got := size(t, path); got != 4096 {
		t.Fatalf("after a crash: got %d bytes, want 4096", got)
	}
	j = open(t, dir, 4096)
	if j.Last() != 20 || j.Cut() != 0 {
		t.Fatalf("after a crash: Last %d, Cut %d; want 20, 0", j.Last(), j.Cut())
	}
	checkReplay(t, j, 0, 1, 20)
	appendN(t, j, 21, 25, true)
	if got := size(t, path); got != 4096 {
		t.Fatalf("after appends resume: got %d bytes, want 4096", got)
	}
	checkReplay(t, j, 19, 20, 25)
	crash(t, j)

	j = open(t, dir, 4096)
	defer closeJ(t, j)
	if j.Last() != 25 || j.Cut() != 0 {
		t.Fatalf("after a second crash: Last %d, Cut %d; want 25, 0", j.Last(), j.Cut())
	}
	checkReplay(t, j, 0, 1, 25)
	if got := segments(t, dir); len(got) != 1 {
		t.Fatalf("got segments %v, want one", got)
	}
}

func TestMapTornRecord(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(f *os.File, end int64) // end: offset after record 10
		wantLast int
	}{
		{"partial record then zeros", func(f *os.File, end int64) {
			if _, err := f.WriteAt(encode(11, bytes.Repeat([]byte("q"), 300))[:200], end); err != nil {
				t.Fatal(err)
			}
		}, 10},
		{"damaged last record", func(f *os.File, end int64) {
			if _, err := f.WriteAt([]byte{0xff}, end-1); err != nil {
				t.Fatal(err)
			}
		}, 9},
		{"one byte after zeros", func(f *os.File, end int64) {
			if _, err := f.WriteAt([]byte{1}, end+1000); err != nil {
				t.Fatal(err)
			}
		}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, segName(1))
			j := open(t, dir, 4096)
			appendN(t, j, 1, 10, true)
			mustMap(t, j)
			crash(t, j)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(f, recBytes(1, 10))
			f.Close()

			keep := recBytes(1, tt.wantLast)
			j = open(t, dir, 4096)
			if j.Last() != uint64(tt.wantLast) || j.Cut() != 4096-keep {
				t.Fatalf("Last %d, Cut %d; want %d, %d", j.Last(), j.Cut(), tt.wantLast, 4096-keep)
			}
			if got := size(t, path); got != keep {
				t.Fatalf("after Open: got %d bytes, want %d", got, keep)
			}
			appendN(t, j, tt.wantLast+1, tt.wantLast+1, true)
			crash(t, j)

			// The cut bytes read back as zeros after the new record.
			data := readFile(t, path)
			end := recBytes(1, tt.wantLast+1)
			if len(data) != 4096 || !allZero(data[end:]) {
				t.Fatalf("after appending again: %d bytes, zeros after %d: %v", len(data), end, allZero(data[end:]))
			}
			j = open(t, dir, 4096)
			defer closeJ(t, j)
			if j.Last() != uint64(tt.wantLast+1) || j.Cut() != 0 {
				t.Fatalf("reopened: Last %d, Cut %d; want %d, 0", j.Last(), j.Cut(), tt.wantLast+1)
			}
			checkReplay(t, j, 0, 1, tt.wantLast+1)
		})
	}
}

func TestMapLargeRecord(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 1024)
	appendN(t, j, 1, 3, true)
	mustMap(t, j)
	big := bytes.Repeat([]byte("big "), 1250) // 5000 bytes
	if lsn, err := j.Append(big, true); lsn != 4 || err != nil {
		t.Fatalf("Append big: got %d, %v", lsn, err)
	}
	first, second := filepath.Join(dir, segName(1)), filepath.Join(dir, segName(4))
	if got, want := size(t, first), recBytes(1, 3); got != want {
		t.Fatalf("segment 1: got %d bytes, want %d", got, want)
	}
	if got := size(t, second); got != 16+5000 {
		t.Fatalf("segment of the big record: got %d bytes, want %d", got, 16+5000)
	}
	if lsn, err := j.Append([]byte(payloadFor(5)), false); lsn != 5 || err != nil {
		t.Fatalf("Append after big: got %d, %v", lsn, err)
	}
	third := filepath.Join(dir, segName(5))
	if got := size(t, second); got != 16+5000 {
		t.Fatalf("segment of the big record, closed: got %d bytes, want %d", got, 16+5000)
	}
	if got := size(t, third); got != 1024 {
		t.Fatalf("segment after the big record: got %d bytes, want 1024", got)
	}
	crash(t, j)

	j = open(t, dir, 1024)
	defer closeJ(t, j)
	if j.Last() != 5 || j.Cut() != 0 {
		t.Fatalf("reopened: Last %d, Cut %d; want 5, 0", j.Last(), j.Cut())
	}
	got := replay(t, j, 0)
	if len(got) != 5 || got[3] != (record{4, string(big)}) || got[4] != (record{5, payloadFor(5)}) {
		t.Fatalf("Replay: got %d records", len(got))
	}
}

func TestMapRollSizes(t *testing.T) {
	const segSize = 256
	dir := t.TempDir()
	j := open(t, dir, segSize)
	for i := 1; i <= 300; i++ {
		appendN(t, j, i, i, i%2 == 0)
	}
	mustMap(t, j)
	check := func(closed bool) {
		t.Helper()
		paths := segments(t, dir)
		if len(paths) < 20 {
			t.Fatalf("got %d segments, want many", len(paths))
		}
		for i, path := range paths {
			from, to := firstLSN(t, path), 300
			if i < len(paths)-1 {
				to = firstLSN(t, paths[i+1]) - 1
			}
			want := recBytes(from, to)
			if i == len(paths)-1 && !closed {
				want = segSize
			} else if want > segSize || want+recBytes(to+1, to+1) <= segSize && i < len(paths)-1 {
				t.Errorf("segment %d: records %d..%d take %d bytes: not rolled at %d", i, from, to, want, segSize)
			}
			if got := size(t, path); got != want {
				t.Errorf("segment %d (records %d..%d): got %d bytes, want %d", i, from, to, got, want)
			}
		}
	}
	check(false)
	closeJ(t, j)
	check(true)
	j = open(t, dir, segSize)
	defer closeJ(t, j)
	checkReplay(t, j, 0, 1, 300)
}

func TestMapConcurrent(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 4096)
	const workers, each = 8, 400
	payload := func(w, i int) string { return fmt.Sprintf("w%d i%d %s", w, i, strings.Repeat("y", i%50)) }
	lsns := make([][]uint64, workers)
	stop := errors.New("stop")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				lsn, err := j.Append([]byte(payload(w, i)), i%3 != 0)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				lsns[w] = append(lsns[w], lsn)
				if i%40 != 0 {
					continue
				}
				// Replay sees the record just appended.
				var got record
				err = j.Replay(lsn-1, func(lsn uint64, p []byte) error {
					got = record{lsn, string(p)}
					return stop
				})
				if err != stop || got != (record{lsn, payload(w, i)}) {
					t.Errorf("Replay(%d): got %v, %v", lsn-1, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	mustMap(t, j)
	crash(t, j)

	want := make(map[uint64]string)
	for w, ls := range lsns {
		if !slices.IsSorted(ls) {
			t.Fatalf("worker %d: LSNs out of order", w)
		}
		for i, lsn := range ls {
			want[lsn] = payload(w, i)
		}
	}
	if len(want) != workers*each {
		t.Fatalf("%d distinct LSNs, want %d", len(want), workers*each)
	}
	j = open(t, dir, 4096)
	defer closeJ(t, j)
	if j.Last() != workers*each || j.Cut() != 0 {
		t.Fatalf("Last %d, Cut %d; want %d, 0", j.Last(), j.Cut(), workers*each)
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

func TestMapReserveFailure(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, 128)
	appendN(t, j, 1, 2, true)
	mustMap(t, j)
	fail := true
	real := reserveBlocks
	setReserve(t, func(f *os.File, size int64) error {
		if fail {
			return os.NewSyscallError("fallocate", syscall.ENOSPC)
		}
		return real(f, size)
	})

	// Appends go on in the current segment until it is full.
	var failed int
	for i := 3; i <= 12; i++ {
		lsn, err := j.Append([]byte(payloadFor(i)), true)
		if lsn != uint64(i) {
			t.Fatalf("Append %d: got LSN %d", i, lsn)
		}
		if err == nil && failed > 0 {
			t.Fatalf("Append %d succeeded after %d failed", i, failed)
		}
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Append %d: got %v, want ENOSPC", i, err)
			}
			if failed == 0 {
				failed = i
			}
		}
	}
	if failed == 0 {
		t.Fatal("no Append failed")
	}
	appendN(t, j, 13, 14, false) // Buffered, without error.
	if err := j.Flush(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush: got %v, want ENOSPC", err)
	}
	if err := j.Replay(0, func(uint64, []byte) error { return nil }); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Replay: got %v, want ENOSPC", err)
	}

	fail = false
	appendN(t, j, 15, 15, true) // Copies 'failed' to 15.
	if !j.mapped || len(j.buf) != 0 {
		t.Fatalf("mapped %v, %d bytes buffered", j.mapped, len(j.buf))
	}
	checkReplay(t, j, 0, 1, 15)
	crash(t, j)
	j = open(t, dir, 128)
	defer closeJ(t, j)
	if j.Last() != 15 || j.Cut() != 0 {
		t.Fatalf("reopened: Last %d, Cut %d; want 15, 0", j.Last(), j.Cut())
	}
	checkReplay(t, j, 0, 1, 15)
	if segs := segments(t, dir); firstLSN(t, segs[1]) != failed {
		t.Fatalf("second segment %s, want it to start at %d", segs[1], failed)
	}
}

func TestMapFallBack(t *testing.T) {
	notSup := func(*os.File, int64) error { return os.NewSyscallError("fallocate", syscall.EOPNOTSUPP) }
	t.Run("from the start", func(t *testing.T) {
		dir := t.TempDir()
		setReserve(t, notSup)
		j := open(t, dir, 200)
		appendN(t, j, 1, 30, true)
		if j.mapped {
			t.Fatal("still mapped")
		}
		appendN(t, j, 31, 32, false)
		paths := segments(t, dir)
		if got, want := size(t, paths[len(paths)-1]), recBytes(firstLSN(t, paths[len(paths)-1]), 30); got != want {
			t.Fatalf("segment being written: got %d bytes, want %d", got, want)
		}
		checkReplay(t, j, 0, 1, 32)
		closeJ(t, j)
		j = open(t, dir, 200)
		defer closeJ(t, j)
		checkReplay(t, j, 0, 1, 32)
	})
	t.Run("with buffered records", func(t *testing.T) {
		dir := t.TempDir()
		j := open(t, dir, 128)
		appendN(t, j, 1, 10, true)
		mustMap(t, j)
		setReserve(t, func(*os.File, int64) error { return os.NewSyscallError("fallocate", syscall.ENOSPC) })
		appendN(t, j, 11, 40, false) // Buffered once a segment is full.
		if len(j.buf) == 0 {
			t.Fatal("nothing buffered")
		}
		setReserve(t, notSup)
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		if j.mapped {
			t.Fatal("still mapped")
		}
		appendN(t, j, 41, 50, true)
		checkReplay(t, j, 0, 1, 50)
		closeJ(t, j)
		if got := len(segments(t, dir)); got < 10 {
			t.Fatalf("got %d segments, want rolls at 128 bytes", got)
		}
		j = open(t, dir, 128)
		defer closeJ(t, j)
		if j.Last() != 50 || j.Cut() != 0 {
			t.Fatalf("reopened: Last %d, Cut %d; want 50, 0", j.Last(), j.Cut())
		}
		checkReplay(t, j, 0, 1, 50)
	})
}
