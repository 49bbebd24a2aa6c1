package client

import (
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestConnStringEscapesNames: the URL and keyword string `hoop connect` prints must give
// libpq the user and database names as they are, an e-mail's '@' and names with spaces,
// quotes, backslashes, '=' or '/' included (the '@' used to end the URL's user part).
func TestConnStringEscapesNames(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 54321}
	for _, c := range []struct{ user, db string }{
		{"alice", "db-prod"},
		{"sub-user@example.com", "db-prod"},
		{"o'brien@example.com", `we ird\db=x`},
		{"a b:c/d?e#f%", "db/with?odd#chars"},
	} {
		uri, kw := ConnString(addr, c.user, c.db)
		for _, s := range []string{uri, kw} {
			cfg, err := pgconn.ParseConfig(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if cfg.User != c.user || cfg.Database != c.db || cfg.Host != "127.0.0.1" || cfg.Port != 54321 {
				t.Errorf("%q: got user %q db %q host %s port %d; want %q %q", s, cfg.User, cfg.Database, cfg.Host, cfg.Port, c.user, c.db)
			}
		}
	}
}
