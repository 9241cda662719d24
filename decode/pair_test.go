package decode

import "testing"

func TestPair(t *testing.T) {
	gqlNew := Hint{Subprotocol: "graphql-transport-ws"}
	gqlOld := Hint{Subprotocol: "graphql-ws"}
	rpc := Hint{Subprotocol: "jsonrpc-2.0"}
	tests := []struct {
		name string
		h    Hint
		data string
		want Pairing
		ok   bool
	}{
		{"jsonrpc request", Hint{}, `{"jsonrpc":"2.0","id":1,"method":"sum","params":[1,2]}`, Pairing{"jsonrpc", "1", Request}, true},
		{"jsonrpc response", Hint{}, `{"jsonrpc":"2.0","result":3,"id":1}`, Pairing{"jsonrpc", "1", Response}, true},
		{"jsonrpc string id", Hint{}, `{"jsonrpc":"2.0","id":"1","method":"sum"}`, Pairing{"jsonrpc", `"1"`, Request}, true},
		{"jsonrpc escaped id", Hint{}, `{"jsonrpc":"2.0","id":"\u0031","result":null}`, Pairing{"jsonrpc", `"1"`, Response}, true},
		{"jsonrpc error", Hint{}, ` {"jsonrpc":"2.0","error":{"code":-32601},"id":"a"}`, Pairing{"jsonrpc", `"a"`, Response}, true},
		{"jsonrpc with subprotocol", rpc, `{"jsonrpc":"2.0","id":9,"method":"x"}`, Pairing{"jsonrpc", "9", Request}, true},
		{"jsonrpc notification", Hint{}, `{"jsonrpc":"2.0","method":"update","params":{}}`, Pairing{}, false},
		{"jsonrpc null id", Hint{}, `{"jsonrpc":"2.0","error":{"code":-32700},"id":null}`, Pairing{}, false},
		{"jsonrpc neither", Hint{}, `{"jsonrpc":"2.0","id":3}`, Pairing{}, false},
		{"jsonrpc 1.0", Hint{}, `{"jsonrpc":"1.0","id":3,"method":"x"}`, Pairing{}, false},
		{"jsonrpc batch", Hint{}, `[{"jsonrpc":"2.0","id":1,"method":"x"}]`, Pairing{}, false},
		{"jsonrpc on a graphql connection", gqlNew, `{"jsonrpc":"2.0","id":1,"method":"x"}`, Pairing{}, false},
		{"subscribe", gqlNew, `{"id":"s1","type":"subscribe","payload":{"query":"subscription{x}"}}`, Pairing{"graphql-ws", `"s1"`, Request}, true},
		{"next", gqlNew, `{"type":"next","id":"s1","payload":{"data":{"x":1}}}`, Pairing{"graphql-ws", `"s1"`, Response}, true},
		{"complete", gqlNew, `{"id":"s1","type":"complete"}`, Pairing{"graphql-ws", `"s1"`, Response}, true},
		{"error", gqlNew, `{"id":"s1","type":"error","payload":[]}`, Pairing{"graphql-ws", `"s1"`, Response}, true},
		{"legacy start", gqlOld, `{"id":"1","type":"start","payload":{}}`, Pairing{"graphql-ws", `"1"`, Request}, true},
		{"legacy data", gqlOld, `{"id":"1","type":"data","payload":{}}`, Pairing{"graphql-ws", `"1"`, Response}, true},
		{"legacy stop", gqlOld, `{"id":"1","type":"stop"}`, Pairing{}, false},
		{"sniffed graphql", Hint{}, `{"id":"2","type":"subscribe"}`, Pairing{"graphql-ws", `"2"`, Request}, true},
		{"graphql on a jsonrpc connection", rpc, `{"id":"2","type":"subscribe"}`, Pairing{}, false},
		{"connection_init", gqlNew, `{"type":"connection_init"}`, Pairing{}, false},
		{"ping", gqlNew, `{"type":"ping"}`, Pairing{}, false},
		{"not json", Hint{}, `hello`, Pairing{}, false},
		{"empty", Hint{}, ``, Pairing{}, false},
		{"broken json", Hint{}, `{"jsonrpc":"2.0","id":`, Pairing{}, false},
	}
	for _, tc := range tests {
		got, ok := Pair(tc.h, []byte(tc.data))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Pair(%+v, %s) = %+v, %v; want %+v, %v", tc.name, tc.h, tc.data, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPartner(t *testing.T) {
	req := func(data string) Pairing {
		p, ok := Pair(Hint{}, []byte(data))
		if !ok {
			t.Fatalf("Pair(%s) found no pairing", data)
		}
		return p
	}
	r1 := req(`{"jsonrpc":"2.0","id":1,"method":"a"}`)
	a1 := req(`{"jsonrpc":"2.0","id":1,"result":true}`)
	aS := req(`{"jsonrpc":"2.0","id":"1","result":true}`)
	r2 := req(`{"jsonrpc":"2.0","id":2,"method":"a"}`)
	g1 := req(`{"id":1,"type":"next"}`)
	tests := []struct {
		p, q Pairing
		want bool
	}{
		{r1, a1, true},
		{a1, r1, true},
		{r1, aS, false}, // 1 and "1" differ
		{r1, r2, false},
		{r1, r1, false}, // two requests
		{a1, a1, false},
		{r1, g1, false}, // another protocol
		{Pairing{}, Pairing{}, false},
		{Pairing{"jsonrpc", "1", NoRole}, Pairing{"jsonrpc", "1", Response}, false},
	}
	for _, tc := range tests {
		if got := tc.p.Partner(tc.q); got != tc.want {
			t.Errorf("%+v.Partner(%+v) = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
}
