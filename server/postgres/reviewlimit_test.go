package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// limitedHolder refuses every hold: its identity has opened too many reviews.
type limitedHolder struct{}

func (limitedHolder) Hold(context.Context, HeldStatement, func(string)) (string, error) {
	return "", TooManyReviews("held by rule test; no review was opened: alice has 10 reviews pending")
}

// TestReviewLimitRefusal: a statement held when its identity may open no more reviews is
// refused with SQLSTATE 53400 (configuration_limit_exceeded) and the gateway's reason, on
// both protocols, and the session goes on.
func TestReviewLimitRefusal(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	conn := connWith(t, pg, func(g *Grant) {
		g.Gate = holdsHeld
		g.Holder = limitedHolder{}
	})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		_, err := conn.Exec(ctx, "select 1 as held", mode)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "53400" || !strings.Contains(pe.Message, "no review was opened: alice has 10 reviews pending") {
			t.Fatalf("%v: got %v, want a 53400 refusal saying why", mode, err)
		}
		var n int
		if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil {
			t.Fatalf("%v: the session after the refusal: %v", mode, err)
		}
	}
}
