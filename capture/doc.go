// Package capture is wstap's record model and capture file format: the
// leaf every other part of wstap stands on.
//
// # Overview
//
// A capture is one append-only file holding many WebSocket connections and
// plain HTTP exchanges. The proxy hands records to a Writer as traffic flows:
// a ConnOpen per connection, Frame facts, decoded payload Chunks of at most
// MaxChunk bytes, Close frames, Events (protocol violations, ghosts,
// refusals) and an End; HTTP exchanges stand alone. A Reader lists the
// connections from the file's index without decoding payloads, iterates
// records in order, reassembles Messages, streams a big message's payload,
// and follows a file that is still being written.
//
// # Format
//
// The file is a zstd stream in which wstap's own structure lives in skippable
// frames: a file header, then chunks (a 44-byte header with lengths and
// CRC-32C checksums, then one independent zstd frame of CBOR records), index
// checkpoints every few seconds, and a footer on a clean close. After a crash
// the file is readable up to the last complete chunk; a torn tail is found by
// lengths and checksums, never by trusting zstd errors, and reported as
// ErrTornTail with its offset. The layout is specified byte for byte in
// docs/capture-format.md, and docs/examples/read_capture.py reads it with
// only a zstd and a CBOR library.
//
// # Concurrency
//
// A Writer is safe for concurrent use by many producers; one goroutine of its
// own compresses and writes, and a bounded queue makes a slow disk slow the
// producers down instead of dropping records. A Reader is for one goroutine.
//
// # Imports
//
// capture imports nothing from wstap: proxy, replay, inspector, certs and
// cmd/wstap all depend on it, never the reverse. Outside the standard library
// it uses only klauspost/compress (zstd) and fxamacker/cbor.
package capture
