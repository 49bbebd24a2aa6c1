// Package audit is the gateway's audit trail: events sealed into a keyed hash chain that
// shows an edit, an insertion or a removal (Chain, Verify), copies of them sent to the
// places a security team watches (Dispatcher: JSON lines file, stdout, webhook, syslog),
// and alert rules evaluated on them (Alerts).
//
//	gateway ── Event ─▶ store: Chain.Seal in the append transaction (Seq, Prev, Hash)
//	                      │
//	                      ├─▶ Dispatcher.Publish ─▶ queue ─▶ file     (JSON lines)
//	                      │                         queue ─▶ webhook  (JSON array, batched, retried)
//	                      │                         queue ─▶ syslog   (RFC 5424, TCP/UDP/local)
//	                      └─▶ Alerts.Observe ─▶ "alert" events ─▶ store and sinks
//
//	hoop audit verify ─▶ Verify(key, the store's events in Seq order) ─▶ Report
//
// The chain hashes each event with HMAC-SHA256 under a key the gateway keeps
// (LoadKey: audit.chain_key in the config, or audit-chain.key in the data dir): who can
// write to the store but does not have the key can't make a chain that verifies. The
// store is the record; sinks are copies that may drop events under load, and say so
// (Dispatcher.Dropped). The encoding that is hashed is in spec.md.
package audit
