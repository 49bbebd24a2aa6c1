package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/wasm"
	"github.com/hoopgw/hoop/tunnel"
)

// ExecOptions are hoop exec's.
type ExecOptions struct {
	Connection string
	Inline     string        // -i SQL
	File       string        // -f FILE; "-" is stdin
	Output     string        // table, csv, json
	Wait       time.Duration // --wait: how long a held statement waits for its review
	Review     string        // --review ID: run under that approved review
}

func newExecCmd(f *factory) *cobra.Command {
	o := &ExecOptions{}
	cmd := &cobra.Command{
		Use:   "exec NAME (-i SQL | -f FILE | SQL on stdin)",
		Short: "Run SQL through the gateway, statement by statement, as in CI",
		Long: `Run a script through the gateway in one session: the same policy, masking,
recording and reviews as hoop connect, with no local port. Statements run one by one
and the run stops at the first error, like psql with ON_ERROR_STOP.

Exit codes: 0 ok; 1 SQL or other error; 2 usage; 3 denied by policy; 4 a statement
is held for review (without --wait, or the wait ran out: run again with --review ID
once approved); 5 not authenticated.`,
		Args: exactArgs(1, "a connection name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Connection = args[0]
			if o.Output == "" {
				o.Output = "json"
				if out, ok := f.io.Out.(*os.File); ok && term.IsTerminal(out.Fd()) {
					o.Output = "table"
				}
			}
			switch {
			case o.Output != "table" && o.Output != "csv" && o.Output != "json":
				return &usageError{fmt.Errorf("--output %q: want table, csv or json", o.Output)}
			case o.Inline != "" && o.File != "":
				return &usageError{errors.New("-i and -f: give the SQL one way")}
			case o.Wait < 0:
				return &usageError{fmt.Errorf("--wait %s: want a positive duration", o.Wait)}
			}
			return execRun(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVarP(&o.Inline, "inline", "i", "", "the SQL to run")
	cmd.Flags().StringVarP(&o.File, "file", "f", "", "a file of SQL to run (- for stdin)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "table (default on a terminal), csv, or json (one object per statement; the default otherwise)")
	cmd.Flags().DurationVar(&o.Wait, "wait", 0, "wait this long for the review of a held statement, e.g. 10m (default: do not wait, exit 4)")
	cmd.Flags().StringVar(&o.Review, "review", "", "run the held statement under this approved review (the same text)")
	return cmd
}

// execResult is one statement's outcome, as --output json prints it.
type execResult struct {
	Statement  string      `json:"statement"`
	Columns    []string    `json:"columns"`
	Rows       [][]*string `json:"rows"`
	CommandTag string      `json:"command_tag"`
	DurationMS float64     `json:"duration_ms"`
}

// execError is a failed statement: its exit code says why (1, 3 or 4).
type execError struct {
	code int
	msg  string
}

func (e *execError) Error() string { return e.msg }

func execScript(f *factory, o *ExecOptions) (string, error) {
	switch {
	case o.Inline != "":
		return o.Inline, nil
	case o.File != "" && o.File != "-":
		b, err := os.ReadFile(o.File)
		if err != nil {
			return "", &usageError{err}
		}
		return string(b), nil
	}
	if in, ok := f.io.In.(*os.File); ok && term.IsTerminal(in.Fd()) {
		return "", &usageError{errors.New("no SQL: give -i SQL, -f FILE, or SQL on stdin")}
	}
	b, err := io.ReadAll(io.LimitReader(f.io.In, 64<<20))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func execRun(ctx context.Context, f *factory, o *ExecOptions) error {
	script, err := execScript(f, o)
	if err != nil {
		return err
	}
	stmts, err := classify.Parser(wasm.Parse).Split(script)
	if err != nil {
		return &usageError{fmt.Errorf("the SQL does not parse: %w", err)}
	}
	if len(stmts) == 0 {
		return &usageError{errors.New("no SQL statement to run")}
	}
	gw, err := f.gateway()
	if err != nil {
		return err
	}
	tok, _, err := f.token(ctx, gw)
	if err != nil {
		return err
	}
	sess, err := tunnel.Dial(ctx, gw, tok, o.Connection, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	cfg, err := pgx.ParseConfig("postgres://hoop-exec@gateway/" + o.Connection + "?sslmode=disable")
	if err != nil {
		return err
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"gateway"}, nil }
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return sess.Open(ctx, tunnel.Header{Kind: tunnel.KindPostgres, Connection: o.Connection, ClientAddr: "hoop exec"})
	}
	cfg.RuntimeParams["application_name"] = "hoop exec"
	cfg.RuntimeParams["hoop.wait"] = o.Wait.String()
	if o.Review != "" {
		cfg.RuntimeParams["hoop.review"] = o.Review
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { fmt.Fprintf(f.io.ErrOut, "%s: %s\n", n.Severity, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return execFailure(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	out := newExecWriter(f.io.Out, o.Output)
	for i, sql := range stmts {
		fmt.Fprintf(f.io.ErrOut, "-- [%d/%d] %s\n", i+1, len(stmts), ansi.Truncate(reviewOneLine(sql), 72, "…"))
		res, err := execOne(ctx, conn, sql)
		if err != nil {
			out.flush()
			return execFailure(err)
		}
		if err := out.write(res); err != nil {
			return err
		}
	}
	return out.flush()
}

func execOne(ctx context.Context, conn *pgx.Conn, sql string) (*execResult, error) {
	start := time.Now()
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	res := &execResult{Statement: sql, Columns: []string{}, Rows: [][]*string{}}
	for _, fd := range rows.FieldDescriptions() {
		res.Columns = append(res.Columns, fd.Name)
	}
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]*string, len(raw))
		for i, v := range raw {
			if v != nil {
				s := string(v)
				row[i] = &s
			}
		}
		res.Rows = append(res.Rows, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.CommandTag = rows.CommandTag().String()
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// execFailure maps a statement's error to hoop exec's exit code: a refusal by policy is
// 3, a statement held for review 4, anything else 1.
func execFailure(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42501":
			if msg, ok := strings.CutPrefix(pe.Message, "hoop: "); ok {
				return &execError{code: ExitDenied, msg: "denied by policy: " + msg}
			}
		case "HR001":
			return &execError{code: ExitReview, msg: strings.TrimPrefix(pe.Message, "hoop: ")}
		}
		return &execError{code: ExitError, msg: fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("could not open a session through the gateway: %w", ce.Unwrap())
	}
	return err
}

// execWriter prints results in one format as they come.
type execWriter struct {
	w      io.Writer
	format string
	csv    *csv.Writer
	sets   int
}

func newExecWriter(w io.Writer, format string) *execWriter {
	ew := &execWriter{w: w, format: format}
	if format == "csv" {
		ew.csv = csv.NewWriter(w)
	}
	return ew
}

func (ew *execWriter) write(r *execResult) error {
	switch ew.format {
	case "json":
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(ew.w, "%s\n", b)
		return err
	case "csv":
		if len(r.Columns) == 0 {
			return nil // a command: nothing to put in a table of values
		}
		if ew.sets > 0 {
			ew.csv.Flush()
			fmt.Fprintln(ew.w)
		}
		ew.sets++
		if err := ew.csv.Write(r.Columns); err != nil {
			return err
		}
		for _, row := range r.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				if v != nil {
					rec[i] = *v
				}
			}
			if err := ew.csv.Write(rec); err != nil {
				return err
			}
		}
		return nil
	}
	return ew.table(r)
}

// table prints like psql's aligned format (as sessions replay does), or the command tag
// for a command.
func (ew *execWriter) table(r *execResult) error {
	if len(r.Columns) == 0 {
		_, err := fmt.Fprintln(ew.w, r.CommandTag)
		return err
	}
	rows := make([][]*string, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = make([]*string, len(row))
		for j, v := range row {
			if v != nil {
				s := strings.NewReplacer("\t", "\\t", "\n", "\\n").Replace(*v)
				rows[i][j] = &s
			}
		}
	}
	printTable(ew.w, api.Statement{Columns: r.Columns, Result: rows, Rows: int64(len(r.Rows))})
	_, err := fmt.Fprintln(ew.w)
	return err
}

func (ew *execWriter) flush() error {
	if ew.csv != nil {
		ew.csv.Flush()
		return ew.csv.Error()
	}
	return nil
}
