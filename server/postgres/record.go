package postgres

import (
	"github.com/jackc/pgx/v5/pgproto3"
)

// Recorder keeps the record of one session. The engine calls Statement from the side that
// reads the client, and the Outcome methods from the side that reads the database.
type Recorder interface {
	// Statement records a statement before the engine forwards it (st.Refusal nil), or
	// the gate's refusal of it. For a statement to forward it returns once the record is
	// durable; its error means it is not, and the engine refuses the statement with it:
	// nothing reaches the database unrecorded.
	Statement(st StatementInfo) (Outcome, error)
	// End records the end of the session and why: "client closed", "gateway stopping".
	End(reason string)
}

// StatementInfo is what the engine knows of a statement when it records it.
type StatementInfo struct {
	SQL      string  // the text: a simple Query's, or the prepared statement's an Execute runs
	Execute  bool    // an extended-protocol Execute of Prepared
	Prepared string  // the statement an Execute runs: "" for the unnamed one
	Params   []Param // an Execute's bind parameters, as the client sent them
	Refusal  error   // the gate's refusal, or nil
	ReviewID string  // the review that approved it, or that refused it
	Unread   bool    // refused unread, over a size limit: SQL only says so, and the gate never saw it
	// Decision is how the gate decided it: for an Execute, the statement it runs, when it
	// was prepared (zero when there is no gate, or the statement is not known).
	Decision Decision
}

// Param is one bind parameter.
type Param struct {
	Value   []byte
	Null    bool
	Binary  bool
	Omitted int // the value's size when it is too large to record: Value is nil
}

// Outcome collects what the database sent back for one recorded statement, as the client
// got it (masked). Done is called exactly once, last.
type Outcome interface {
	// Columns gives the columns of the rows that follow.
	Columns(fields []pgproto3.FieldDescription)
	// Row gives one DataRow's body as sent to the client; it is not kept after the call.
	Row(body []byte)
	// Complete gives one CommandComplete tag: "SELECT 3" (a Query of several statements
	// gives several).
	Complete(tag string)
	// Error gives the ErrorResponse the client got, masked.
	Error(code, message string)
	// Done ends the statement.
	Done()
}

// RecordError is a failure to record a statement: the engine refuses the statement with it
// (SQLSTATE 58000, system_error).
type RecordError struct{ Err error }

func (e *RecordError) Error() string {
	return "the statement was not run because the gateway could not record it: " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// markerClose is the body of Close(statement "hoop.refused"): closing a statement that does
// not exist is not an error, so it stands in for a refused Execute and yields a
// CloseComplete in whose place the refusal goes.
var markerClose = []byte("Shoop.refused\x00")
