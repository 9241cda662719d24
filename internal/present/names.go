package present

import (
	"strconv"
	"strings"

	"github.com/wstap/wstap/capture"
)

// closeCodeNames are the status codes 1000 to 1015 of RFC 6455, section
// 7.4.1, and the IANA WebSocket Close Code Number Registry, as short words,
// indexed by code-1000.
var closeCodeNames = [...]string{
	"normal",              // 1000 Normal Closure
	"going away",          // 1001 Going Away
	"protocol error",      // 1002 Protocol error
	"unsupported data",    // 1003 Unsupported Data
	"reserved",            // 1004 Reserved
	"no status",           // 1005 No Status Rcvd: never on the wire
	"abnormal",            // 1006 Abnormal Closure: never on the wire
	"invalid payload",     // 1007 Invalid frame payload data
	"policy violation",    // 1008 Policy Violation
	"too big",             // 1009 Message Too Big
	"mandatory extension", // 1010 Mandatory Ext.
	"internal error",      // 1011 Internal Error
	"service restart",     // 1012 Service Restart
	"try again later",     // 1013 Try Again Later
	"bad gateway",         // 1014 Bad Gateway
	"TLS handshake",       // 1015 TLS handshake: never on the wire
}

// CloseCodeName names a close status code of RFC 6455, section 7.4.1, or
// of the IANA registry (1000 to 1015), in a few words: "normal", "going
// away" …. Other codes (unassigned, or 3000–4999 for libraries and
// applications) have no name: "".
func CloseCodeName(code int) string {
	if code < 1000 || code >= 1000+len(closeCodeNames) {
		return ""
	}
	return closeCodeNames[code-1000]
}

// Arrow draws a direction: → client to server, ← server to client, and the
// dashed ⇢ ⇠ for frames the proxy itself sent to the server or the client.
// An unknown direction is "?".
func Arrow(d capture.Direction) string {
	switch d {
	case capture.ClientToServer:
		return "→"
	case capture.ServerToClient:
		return "←"
	case capture.ProxyToServer:
		return "⇢"
	case capture.ProxyToClient:
		return "⇠"
	}
	return "?"
}

// ConnLabel names a record's connection: "#3", or "*" for records that
// belong to the capture as a whole (connection 0).
func ConnLabel(c capture.ConnID) string {
	if c == 0 {
		return "*"
	}
	return "#" + strconv.FormatUint(uint64(c), 10)
}

// HTTPStatus formats an HTTP status code, "-" for none (no response
// arrived, or the upstream was unreachable).
func HTTPStatus(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

// MessageTags marks what is unusual about a message: "[z]" compressed on
// the wire, "[truncated]" the capture kept only a prefix, "[incomplete]" it
// never finished; "" for none, space-separated otherwise.
func MessageTags(m *capture.Message) string {
	var tags []string
	if m.Compressed {
		tags = append(tags, "[z]")
	}
	if m.Truncated {
		tags = append(tags, "[truncated]")
	}
	if m.Incomplete {
		tags = append(tags, "[incomplete]")
	}
	return strings.Join(tags, " ")
}

// ConnFlags notes what is unusual about a connection, comma-separated:
// "ghost", "violations=N", and "open" when it has not ended; "-" for none.
func ConnFlags(c capture.ConnSummary) string {
	var flags []string
	if c.Ghost {
		flags = append(flags, "ghost")
	}
	if c.Violations > 0 {
		flags = append(flags, "violations="+strconv.Itoa(c.Violations))
	}
	if !c.Ended {
		flags = append(flags, "open")
	}
	if len(flags) == 0 {
		return "-"
	}
	return strings.Join(flags, ",")
}
