package server

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestNumericText(t *testing.T) {
	m := pgtype.NewMap()
	for _, want := range []string{"4111111111111111", "0", "-12.5", "0.0001", "12345678.9", "100000000"} {
		var n pgtype.Numeric
		if err := n.Scan(want); err != nil {
			t.Fatal(err)
		}
		b, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := numericText(b)
		if !ok {
			t.Fatalf("%s: not decoded", want)
		}
		g := string(got)
		if strings.Contains(g, ".") {
			g = strings.TrimRight(strings.TrimRight(g, "0"), ".")
		}
		if g != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
