// Package pgvalue walks a PostgreSQL value of any type, in text or binary format, down
// to its scalars, and re-encodes it in the same format with some scalars replaced.
//
// The masker needs it because a secret can hide inside a value that is not text: an
// element of an array (ARRAY[card_n], array_agg(ip)), a field of a record
// (ROW(card_n, ip)), a bound of a range, or a binary inet, numeric or float that a
// driver in binary mode reads as raw bytes. Rewrite hands each scalar to the caller as
// the text PostgreSQL would print for it, and puts back only what the caller replaced,
// so the rest of the value survives and the client can still decode it.
//
//	value ── Rewrite ──▶ walk: array → elements, record → fields, range → bounds,
//	                           domain → its base type, multirange → ranges
//	                     leaf: binary scalar → its text ──▶ edit(leaf) ──▶ Keep | Null | Text
//	                     re-encode: only the changed leaves; text → binary for binary values
//
// Pure Go, no cgo: the CLI links nothing from here, but the gateway's hot path does, so
// a value in which nothing changes costs no allocation.
package pgvalue
