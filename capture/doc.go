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
// # Positions
//
// Every record has a position: its sequence number in the file (0, 1, 2 …,
// as in the chunk headers' seq0). Message.Seq is the position of a
// message's first chunk. RecordsFrom, FollowFrom and OpenMessage start at a
// position by a binary search of the chunk index, and SeekTime turns a time
// into a position, so reading from anywhere in a file costs one chunk, not
// the file up to it. Summaries lists every message with its position and a
// prefix of its payload, copying nothing else.
//
// # Damage
//
// A chunk that fails its checks in the middle of a file costs that chunk
// alone: the reader resynchronises on the next good frame and yields a
// *DamageError (ErrDamaged) at its place in the record sequence. Only
// damage with nothing good after it is the torn tail (ErrTornTail). Verify
// checks a whole file; Repair salvages every readable record into a new
// one.
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
// producers down instead of dropping records.
//
// Every method of a Reader may be called from several goroutines at once:
// one may follow a growing file (Follow) while others list summaries and
// open payloads (Summaries, OpenMessage, RecordsFrom) on the same Reader.
// Each iterator and stream has buffers of its own, and decodes the next
// chunks ahead of its consumer on other cores; one iterator, like any
// iter.Seq2, is for one goroutine. Records yielded by Summaries and the
// bytes of a message stream are valid only until the next iteration or
// Read; those of Records, Messages and Follow are the caller's to keep.
//
// # Imports
//
// capture imports nothing from wstap: proxy, replay, inspector, certs and
// cmd/wstap all depend on it, never the reverse. Outside the standard library
// it uses only klauspost/compress (zstd) and fxamacker/cbor.
package capture
