package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// TestPipelinedExtendedNeverStalls: whatever the client pipelines, and however its bytes
// arrive split, every Sync it sends gets its ReadyForQuery. A stall is the engine holding
// a message it should have forwarded (written, not flushed, before it waits to read), or
// swallowing an answer: the client then waits forever. The batches mix what takes every
// path of the client side: Parse, Bind, Describe, Execute, Close, Flush and Sync,
// statements the gate refuses, statements over limits.statement_bytes, Bind messages
// larger than the read buffer (the in-flight budget, with little room and a short wait,
// so that some are refused), and statements that fail in the database; masking and
// recording are on, so the engine adds its own Describe after each Parse. Each batch is
// written in random pieces, with pauses between them, from its own goroutine while the
// answers are read. A stall fails the test (after a deadline far beyond any real answer)
// with the goroutines' stacks; so does the engine losing track of the protocol (a FATAL).
// Under -race on a loaded machine it caught the first answer of a session taken by a read
// pgconn had left running (TestSlowUpstreamLoginNeverStalls makes that happen at will):
// the session hung, or, when the answer came in pieces, ended with "lost track of the
// protocol".
func TestPipelinedExtendedNeverStalls(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	e := New(&Config{BufferSize: 1 << 10, StatementBytes: 4 << 10, InflightBytes: 16 << 10, InflightWait: 5 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	up := grantFor(t, pg, pg.App.RWUser, pg.App.RWPassword, false)
	authorize := func(ctx context.Context) (*Grant, error) {
		g, err := up(ctx)
		if g != nil {
			g.Gate = refuseForbidden
			g.Masker = &fakeMasker{}
			g.Record = func(SessionInfo) (Recorder, error) { return nopRecorder{}, nil }
		}
		return g, err
	}
	var served sync.WaitGroup
	t.Cleanup(served.Wait)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() {
				defer served.Done()
				_ = e.Serve(context.Background(), c, Request{Identity: alice, Connection: "db", ClientAddr: "test", Authorize: authorize})
			}()
		}
	}()

	const sessions, rounds = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stallSession(ln.Addr().String(), uint64(i), rounds); err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// errStalled is a session's wait for answers that never came.
var errStalled = errors.New("stalled")

// stallSession runs rounds of random pipelined batches on one session.
func stallSession(addr string, seed uint64, rounds int) error {
	cfg, err := pgconn.ParseConfig("postgres://whoever@" + addr + "/ignored?sslmode=disable")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	hc, err := pc.Hijack()
	if err != nil {
		return err
	}
	conn := hc.Conn
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 42))
	for round := range rounds {
		batch, syncs := stallBatch(rng)
		werr := make(chan error, 1)
		go func() { werr <- writeSplit(conn, batch, rng.Uint64()) }()
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		got, fatal, err := readUntilReady(conn, syncs)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				var dump strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&dump, 2)
				return fmt.Errorf("round %d: %w: %d of %d ReadyForQuery after 60s; the batch %q; goroutines:\n%s", round, errStalled, got, syncs, batch, dump.String())
			}
			return fmt.Errorf("round %d: %w", round, err)
		}
		if fatal != "" {
			return fmt.Errorf("round %d: the engine ended the session: %s; the batch %q", round, fatal, batch)
		}
		if err := <-werr; err != nil {
			return fmt.Errorf("round %d: write: %w", round, err)
		}
	}
	return nil
}

// stallBatch makes 1 to 3 cycles of random extended-protocol messages, each ended by a
// Sync; it returns the bytes and the number of Syncs.
func stallBatch(rng *rand.Rand) ([]byte, int) {
	var b []byte
	add := func(m pgproto3.FrontendMessage) {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	cycles := 1 + rng.IntN(3)
	for range cycles {
		for range 1 + rng.IntN(3) {
			name := ""
			if rng.IntN(2) == 0 {
				name = "s1"
				add(&pgproto3.Close{ObjectType: 'S', Name: name})
			}
			sql := "select $1::text as v, 'secret' as w"
			switch rng.IntN(8) {
			case 0:
				sql = "select $1::text as forbidden"
			case 1:
				sql = "select $1::text as v -- " + strings.Repeat("x", 5<<10) // over statement_bytes
			case 2:
				sql = "select $1::int / 0 as v" // fails in the database when run
			}
			add(&pgproto3.Parse{Name: name, Query: sql})
			if rng.IntN(4) == 0 {
				add(&pgproto3.Describe{ObjectType: 'S', Name: name})
			}
			param := []byte("1")
			if rng.IntN(4) == 0 {
				param = bytes.Repeat([]byte("7"), 2<<10) // over the read buffer: the budget
			}
			add(&pgproto3.Bind{PreparedStatement: name, Parameters: [][]byte{param}, ResultFormatCodes: []int16{int16(rng.IntN(2))}})
			if rng.IntN(2) == 0 {
				add(&pgproto3.Describe{ObjectType: 'P'})
			}
			add(&pgproto3.Execute{MaxRows: uint32(rng.IntN(2))})
			if rng.IntN(5) == 0 {
				add(&pgproto3.Flush{})
			}
		}
		add(&pgproto3.Sync{})
	}
	return b, cycles
}

// writeSplit writes b in random pieces, pausing between them, so that the engine reads
// messages, and headers, cut anywhere.
func writeSplit(w io.Writer, b []byte, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	for len(b) > 0 {
		n := 1 + rng.IntN(min(len(b), 64))
		if rng.IntN(4) == 0 {
			n = len(b)
		}
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
	}
	return nil
}

// readUntilReady reads messages until it has seen want ReadyForQuery; fatal is the text
// of a FATAL error, if the engine ended the session.
func readUntilReady(r io.Reader, want int) (got int, fatal string, err error) {
	var hdr [5]byte
	for got < want {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return got, "", err
		}
		body := make([]byte, int(binary.BigEndian.Uint32(hdr[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return got, "", err
		}
		switch hdr[0] {
		case 'Z':
			got++
		case 'E':
			var er pgproto3.ErrorResponse
			if err := er.Decode(body); err == nil && er.Severity == "FATAL" {
				return got, er.Code + " " + er.Message, nil
			}
		}
	}
	return got, "", nil
}
