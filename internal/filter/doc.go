// Package filter parses and evaluates the small expression language of the
// inspector's filter bar. An expression is parsed once with Parse, as the
// user types, and then matched against up to millions of captured messages,
// each described by a Msg.
//
// # Language
//
// An expression is a list of terms separated by white space (ASCII space,
// tab, newline, carriage return, vertical tab, form feed). A message matches
// when it matches every term. A term preceded by "-" is negated: "-op:ping"
// matches every message that is not a ping. An empty expression, or one of
// white space only, matches everything.
//
// Keywords (from, op, is, size, json) and the names after them are
// case-insensitive: "OP:Text" is "op:text". JSON paths, regular expressions
// and quoted strings are not.
//
//	from:client       sent by the client (also from:c)
//	from:server       sent by the server (also from:s)
//	from:proxy        wstap's own frames, heartbeat pings and the closes it originates (also from:p)
//
// The senders are spelled as capture.Direction.From spells them.
//
//	op:text  op:binary  op:ping  op:pong  op:close
//	op:control        a control opcode (capture.Opcode.IsControl): close, ping, pong, or 0xB–0xF
//	op:data           text or binary
//
// Every spelling of capture.Opcode.String is accepted too, so "op:continuation"
// and "op:reserved-3" work.
//
//	size>1k  size>=1k  size<1k  size<=1k  size=1k  size!=1k
//
// compares the payload size (Msg.Size). The number is decimal, optionally
// with a fraction ("size>1.5m"), followed by an optional unit: b (bytes, the
// default), k, kb or kib (1024 bytes), m, mb or mib (1024²), g, gb or gib
// (1024³), in any case. A size that is not a whole number of bytes, such as
// "size=0.1k", is compared exactly: size=0.1k matches nothing and size>0.1k
// means at least 103 bytes. Sizes above 2⁶³ bytes are refused.
//
//	/regexp/  /regexp/i
//
// matches the payload bytes against a regular expression in Go's RE2 syntax
// (see regexp/syntax). Flags after the closing slash: i (case-insensitive),
// m (multi-line: ^ and $ match at line breaks), s (. matches a newline).
// Inside the slashes, "\/" stands for a slash; every other backslash is
// passed to RE2 unchanged, so "/\d+\/\d+/" matches "12/34". The regexp is
// compiled once, by Parse.
//
//	json:PATH            the path exists in the payload
//	json:PATH=VALUE      the value at the path equals VALUE
//	json:PATH!=VALUE     the path exists and its value does not equal VALUE
//	json:PATH~REGEXP     the path exists and its value matches REGEXP
//
// PATH is a GJSON path (https://github.com/tidwall/gjson/blob/master/SYNTAX.md):
// "user.name", "items.#" (the length of an array), "items.1.id",
// "items.#(id==3).name". White space inside brackets or quotes in the path
// does not end the term. The first "=", "!=" or "~" outside brackets and
// quotes ends the path; write "\=" for a literal one.
//
// VALUE is a JSON literal: a number (42, -1.5, 1e3), true, false, null or a
// JSON string in double quotes, with JSON's escapes. A value that is not a
// JSON literal is a bare word, compared as a string, so these two are the
// same term:
//
//	json:user.name=ann
//	json:user.name="ann"
//
// Arrays and objects cannot be compared; use a path into them. Comparison
// is typed, as in JSON. A number equals a number of the same value: 1
// equals 1.0 and 1e0 (integers are compared exactly, other numbers as
// float64). A string equals the same string, after unescaping and
// case-sensitively. The string "1" does not equal the number 1:
//
//	json:id=1      matches {"id":1} and {"id":1.0}, not {"id":"1"}
//	json:id="1"    matches {"id":"1"}, not {"id":1}
//	json:ok=true   matches {"ok":true}, not {"ok":"true"}
//
// REGEXP after "~" is either /…/ with flags, as above, or a bare pattern up
// to the next white space: "json:user.name~^an" and "json:user.name~/^AN/i".
// It is matched against the string's unescaped contents when the value is a
// string, and against the value's JSON text otherwise ("42", "true",
// `{"a":1}`).
//
// A payload that is not valid JSON (including one cut short) never matches a
// json term, and so always matches a negated one: "-json:type=ping" keeps
// every binary message. "json:a!=1" differs from "-json:a=1": the first
// needs a JSON payload in which a exists.
//
//	is:dropped        the proxy did not forward the message
//	is:incomplete     the message never finished, or its start was lost
//	is:compressed     it was compressed on the wire (permessage-deflate)
//
// Any other term is a word: a case-insensitive substring match on the
// payload. Case folding is ASCII only: ERROR matches "error", but Ä does
// not match "ä". A word that holds white space, or that would otherwise read
// as a keyword, a regexp or a negation, is written in double quotes, in
// which \" stands for a quote and \\ for a backslash (any other backslash
// stands for itself):
//
//	"user not found"   "from:client"   "-1"   "/api/v1"   "say \"hi\""
//
// Quotes open a phrase only at the start of a term; elsewhere a quote is an
// ordinary byte, so type":"ping is a bare word that finds "type":"ping".
// A term that starts with a slash is a regexp, which is why a word that
// starts with one is quoted.
//
// Examples:
//
//	from:server op:text error              server text messages containing "error"
//	-op:control -is:dropped                data messages that were forwarded
//	size>=1.5m                             payloads of at least 1.5 MiB
//	/"type":\s*"(ping|pong)"/              a regexp over the raw bytes
//	json:type=subscribe json:channels.#=3  subscribe messages with three channels
//	json:user.name="ann smith" -timeout    ann smith's messages without "timeout"
//	json:error                             JSON messages that have an error field
//
// # Errors
//
// Parse reports a bad expression as a *SyntaxError of one line that names
// the term and what is wrong with it, such as
//
//	filter: op:foo: unknown opcode "foo" (want text, binary, ping, pong, close, control, data)
//	filter: /ab(/: bad regexp: missing closing )
//	filter: unterminated "
//	filter: size>: want a number after "size>" (at 6)
//
// The "(at N)" suffix gives the term's column (1-based, counted in
// characters) when the term is not the first thing in the input, where its
// text alone would already say where it is. SyntaxError.Col always holds it.
//
// # Canonical form
//
// Expr.String returns the expression in canonical form: one space between
// terms, in the order written, lower-case keywords and names, full sender
// names, sizes as written without redundant digits ("size>1.50K" becomes
// "size>1.5k"), regexps between slashes with flags in the order ims, and
// words and JSON strings quoted only when they must be. Parse(e.String())
// gives an expression with the same String that matches the same messages.
//
// # Performance and concurrency
//
// Parse compiles every regexp once. Match evaluates the terms that look only
// at a message's facts (from, op, is, size) first and does not allocate for
// them; words, regexps and json terms follow, in that order. NeedsPayload
// tells the caller whether Msg.Data has to be filled in at all. An *Expr is
// immutable after Parse and safe for concurrent use by many goroutines.
//
// # Imports
//
// filter depends only on capture, github.com/tidwall/gjson and the standard
// library. It must not import proxy, replay, inspector, cmd or bubbletea:
// the inspector uses it, and it must stay below it.
package filter
