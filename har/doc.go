// Package har converts between wstap captures and HAR 1.2 files (HTTP
// Archive, http://www.softwareishard.com/blog/har-12-spec/), the format
// browsers and proxies export their network logs in.
//
// # Overview
//
// Export writes a capture as a HAR that Chrome DevTools imports: one entry
// per WebSocket connection, in the shape Chrome itself writes
// (_resourceType "websocket", the handshake as request and response, the
// messages in _webSocketMessages), and one ordinary entry per plain HTTP
// exchange. Import reads the HARs that Chrome, Firefox, HTTP Toolkit and
// mitmproxy write and appends their contents to a capture: a WebSocket
// entry becomes a connection (ConnOpen, one Chunk per message, End), any
// other entry a plain HTTP exchange, all at the times the HAR gives.
//
// # Format
//
// A WebSocket message in _webSocketMessages is {type, time, opcode, data}:
// type "send" (client to server) or "receive" (server to client), time in
// seconds since 1970 as a decimal number, the RFC 6455 opcode, and data: a
// text message's text as is, any other payload in base64, as Chrome's
// DevTools protocol carries it. Export writes times to the microsecond and
// Import reads them to the nanosecond, so a capture's times survive an
// export and an import to the microsecond. Export adds one field of its own,
// _wstapRedacted, naming the headers whose values are the capture's
// "[redacted]" placeholder, so that Import marks them again.
//
// # Imports
//
// This package imports the standard library and capture only: never proxy,
// replay, inspector, cmd or a WebSocket library.
package har
