package decode

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Pairing is how a message pairs with another of its connection: a request
// and its response, a subscription and its data.
type Pairing struct {
	Protocol string // "jsonrpc" or "graphql-ws"
	Key      string // the id, as its JSON text (so 1 and "1" differ)
	Role     Role
}

// Role is the part a message plays in a Pairing.
type Role uint8

// The roles of a paired message.
const (
	NoRole   Role = iota
	Request       // a JSON-RPC request; a GraphQL subscribe or start
	Response      // a JSON-RPC result or error; GraphQL next, data, error or complete
)

var roleNames = [...]string{"none", "request", "response"}

// String returns "none", "request" or "response".
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Partner reports whether q answers p or p answers q: the same protocol and
// key, opposite roles.
func (p Pairing) Partner(q Pairing) bool {
	return p.Protocol == q.Protocol && p.Key == q.Key && p.Protocol != "" &&
		(p.Role == Request && q.Role == Response || p.Role == Response && q.Role == Request)
}

// GraphQL over WebSocket message types that pair, by role. The first
// protocol is graphql-transport-ws (graphql-ws), the second the legacy
// subscriptions-transport-ws (subprotocol graphql-ws too).
var graphqlRoles = map[string]Role{
	"subscribe": Request, "start": Request,
	"next": Response, "data": Response, "error": Response, "complete": Response,
}

// Pair reports the pairing a payload takes part in. JSON-RPC 2.0: an
// object with "jsonrpc":"2.0" and an id; with a method it is a Request,
// with a result or an error a Response. A notification (no id) or an id of
// null has no pair, nor does a batch. GraphQL over WebSocket
// (graphql-transport-ws and the older subscriptions-transport-ws): an
// object with an "id" and a "type"; subscribe and start are Requests; next,
// data, error and complete are Responses. A subprotocol naming graphql or
// jsonrpc limits Pair to that protocol; otherwise it sniffs both. Pair scans
// the payload's top-level members with gjson and unmarshals nothing.
func Pair(h Hint, data []byte) (Pairing, bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Pairing{}, false
	}
	var version, id, method, typ gjson.Result
	var hasResult bool
	gjson.ParseBytes(trimmed).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "jsonrpc":
			version = v
		case "id":
			id = v
		case "method":
			method = v
		case "result", "error":
			hasResult = true
		case "type":
			typ = v
		}
		return true
	})
	if !id.Exists() || id.Type == gjson.Null {
		return Pairing{}, false
	}
	key := id.Raw
	if id.Type == gjson.String {
		if b, err := json.Marshal(id.Str); err == nil {
			key = string(b) // one spelling for "1" and "\u0031"
		}
	}
	sub := strings.ToLower(h.Subprotocol)
	graphql := strings.Contains(sub, "graphql")
	jsonrpc := strings.Contains(sub, "jsonrpc") || strings.Contains(sub, "json-rpc")
	if !graphql && version.Type == gjson.String && version.Str == "2.0" {
		switch {
		case method.Exists():
			return Pairing{"jsonrpc", key, Request}, true
		case hasResult:
			return Pairing{"jsonrpc", key, Response}, true
		}
		return Pairing{}, false
	}
	if !jsonrpc && typ.Type == gjson.String {
		if r, ok := graphqlRoles[typ.Str]; ok {
			return Pairing{"graphql-ws", key, r}, true
		}
	}
	return Pairing{}, false
}
