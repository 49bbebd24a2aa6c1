// Package tunnel is the connection between the hoop CLI and the hoopd gateway: one
// WebSocket, authenticated by a bearer token, carrying a yamux session whose streams are
// the user's database connections, plus one control stream.
//
// The client (hoop connect) calls Dial and then Session.Open once per local database
// connection. The gateway's HTTP handler checks the token, then calls Accept, and serves
// each stream that ServerSession.Accept returns. The wire format is in spec.md.
//
//	CLI (Dial / Session)                                  gateway (Accept / ServerSession)
//	  │ GET /api/v1/tunnel?connection=db-prod                   │
//	  │   Authorization: Bearer <token>, Upgrade: websocket ───▶│ handler checks token and access;
//	  │◀─────────────────────── 101 Switching Protocols ────────│ refusal: 401/403 + api.Error
//	  │ ══════ yamux over binary WebSocket messages ═════════   │
//	  │ stream 1: [len]{"kind":"control","connection":"db-prod"}▶│ first stream, once per session
//	  │◀──────────────────────────────────── [len]{"ok":true} ──│
//	  │ stream 3: [len]{"kind":"postgres","connection":"db-prod",│
//	  │            "client_addr":"127.0.0.1:51234"} ───────────▶│ header read with a deadline
//	  │◀───────────── [len]{"ok":true}  or  [len]{"ok":false,…} │ Stream.Accept / Stream.Reject
//	  │◀══════════════ raw PostgreSQL protocol bytes ══════════▶│
//	  │ control: [len]{"type":"token","token":"…"} ────────────▶│ token refresh
//	  │◀──────────── [len]{"type":"token_ok","expires_at":"…"} ─│
//	  │◀───── [len]{"type":"notice","level":"info","text":"…"} ─│
//	  │◀────────── [len]{"type":"close","reason":"token expired"}│ CloseWithReason, then the end
//
// A bad header frame ends only its own stream, answered with an error reply that says
// what was wrong; the session and its other streams go on.
//
// The gateway must authorise every stream's Header().Connection itself: a stream may
// name another connection than the one in the dial's query.
package tunnel
