package server

import (
	"fmt"
	"sync"

	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
)

// sessionLimits counts the database sessions open through this gateway, by identity and
// by connection, so that one identity cannot take every connection the database has: an
// analyst's three hundred idle sessions would leave none for anyone else.
//
// An identity is its subject at its issuer (as identity.Identity.Same compares them),
// never the PostgreSQL user name a client sends, which the gateway ignores. The counts
// are this gateway's: gateways that share a store each keep their own.
type sessionLimits struct {
	perIdentity int
	perConn     func(name string) (limit int, field string) // a connection's limit, and the config field that sets it

	mu         sync.Mutex
	byIdentity map[identityKey]int
	byConn     map[string]int
}

// identityKey is who a session counts against.
type identityKey struct{ issuer, subject, workload string }

func newSessionLimits(cfg *config.Config) *sessionLimits {
	return &sessionLimits{
		perIdentity: cfg.Limits.SessionsPerIdentity,
		perConn: func(name string) (int, string) {
			c, _ := cfg.Connection(name)
			if c != nil && c.MaxSessions > 0 {
				return c.MaxSessions, "max_sessions of connection " + name
			}
			return cfg.Limits.SessionsPerConnection, "limits.sessions_per_connection"
		},
		byIdentity: make(map[identityKey]int),
		byConn:     make(map[string]int),
	}
}

// acquire counts a new session of id on connection conn, or refuses it with a
// *postgres.LimitError (SQLSTATE 53300) that names the limit. release ends the count; it
// may be called more than once.
func (l *sessionLimits) acquire(id identity.Identity, conn string) (release func(), err error) {
	key := identityKey{issuer: id.Issuer, subject: id.Subject, workload: id.Workload}
	connLimit, field := l.perConn(conn)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.byIdentity[key]; n >= l.perIdentity {
		return nil, postgres.TooManySessions(fmt.Sprintf(
			"%s already has %d database sessions open through the gateway (limits.sessions_per_identity); close some, or ask an admin to raise the limit",
			id, n))
	}
	if n := l.byConn[conn]; n >= connLimit {
		return nil, postgres.TooManySessions(fmt.Sprintf(
			"connection %s already has %d database sessions open through the gateway, its limit (%s); try again when some close, or ask an admin to raise the limit",
			conn, n, field))
	}
	l.byIdentity[key]++
	l.byConn[conn]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.byIdentity[key]--; l.byIdentity[key] <= 0 {
			delete(l.byIdentity, key)
		}
		if l.byConn[conn]--; l.byConn[conn] <= 0 {
			delete(l.byConn, conn)
		}
	}), nil
}

// open returns the sessions open now of id, and on conn.
func (l *sessionLimits) open(id identity.Identity, conn string) (ofIdentity, onConn int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byIdentity[identityKey{issuer: id.Issuer, subject: id.Subject, workload: id.Workload}], l.byConn[conn]
}
