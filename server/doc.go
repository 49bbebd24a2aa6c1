// Package server is hoopd, the gateway: it verifies who a caller is, serves the HTTP API
// the CLI uses, accepts tunnels and hands each stream to the engine for its kind.
//
//	hoop CLI ── GET /api/v1/info ─────────────▶ issuer, client id, scopes
//	         ── GET /api/v1/connections ──────▶ what the caller may reach (policy)
//	         ── GET /api/v1/tunnel (WebSocket, bearer token) ─▶ yamux session
//	              control stream: token refresh ▲ notices, close reason ▼
//	              one stream per local client ─▶ postgres engine ─▶ PostgreSQL
//
// Access is checked at the tunnel and again at every stream, against the policy in force
// at that moment; the policy can be reloaded without dropping sessions.
package server
