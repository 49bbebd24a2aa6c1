// Package postgres is the gateway's PostgreSQL engine: it speaks the server side of the
// PostgreSQL protocol to a client that arrives through the tunnel, logs in upstream with the
// gateway's stored credential, and relays the session message by message so that every
// client message passes one decision point.
//
// A session, as the engine sees it:
//
//	client (via tunnel)              hoopd                         PostgreSQL
//	  | SSLRequest / GSSENCRequest     |                               |
//	  |<------------- 'N' -------------|  (the tunnel is the TLS)      |
//	  | StartupMessage(user, db, ...)  |                               |
//	  |------------------------------->| authorize(identity, conn)     |
//	  |                                |--- startup + SCRAM / TLS ---->|
//	  |                                |<-- AuthOk, params, KeyData ---|
//	  |<- AuthOk, ParameterStatus...,  |                               |
//	  |   BackendKeyData(gateway key), |                               |
//	  |   ReadyForQuery ---------------|                               |
//	  | Query / Parse / Bind / ...     |                               |
//	  |---------> decide(message) ---->|------------------------------>|
//	  |<-------------------------------|<----- results ----------------|
//
// The client's user name and password are ignored: the identity comes from the tunnel's
// token. The BackendKeyData the client sees is the gateway's own; a CancelRequest carrying it
// is forwarded to the real backend only when it comes from the same identity.
//
// What a name runs follows the database, not the client: a Parse, Bind or Close, and a
// PREPARE, DEALLOCATE, DECLARE or CLOSE inside a Query, changes the engine's view of the
// session's prepared statements and portals (names.go) only when its answer arrives
// (ParseComplete, BindComplete, CloseComplete, that statement's CommandComplete); one that
// fails, or is skipped after an earlier error, changes nothing:
//
//	client                           hoopd                         PostgreSQL
//	  | Parse(upd, SELECT 1), Sync --->| pending: upd = read --------->|
//	  |<------ ErrorResponse, Z -------|<- 42P05 upd already exists ---|  upd stays write
//	  | Bind(upd) ------------------->| decided as upd's confirmed class and approval
//
// Messages are read into a reused buffer and written to a buffered writer that is flushed
// only when the reading side has nothing more buffered, so a burst of small messages costs
// one write, not one per message. No client message is held whole unless it must be: a
// statement over Config.StatementBytes is read past in pieces and refused in its place
// (54000), COPY data streams through, and any other message larger than the read buffer
// first takes its size from the Engine's Budget, shared by all sessions (53200 when it
// finds no room in time).
package postgres
