package decode_test

import (
	"context"
	"fmt"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
)

func ExampleFormat() {
	payload := []byte(`{"id":1,"tags":["a","b"]}`)
	doc, err := decode.Format(context.Background(), decode.JSON, payload, decode.Options{Width: 40})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range doc.Len() {
		fmt.Println(doc.Line(i).Text)
	}
	l := doc.Line(1)
	for _, s := range l.Spans {
		fmt.Printf("%s %q\n", s.Class, l.Text[s.Start:s.End])
	}
	// Output:
	// {
	//   "id": 1,
	//   "tags": [
	//     "a",
	//     "b"
	//   ]
	// }
	// key "\"id\""
	// punct ":"
	// number "1"
	// punct ","
}

func ExampleKinds() {
	h := decode.Hint{URL: "wss://chat.example/socket.io/?EIO=4&transport=websocket"}
	fmt.Println(decode.Kinds(h, capture.OpText, []byte(`42["chat","hi"]`)))
	fmt.Println(decode.Kinds(decode.Hint{}, capture.OpBinary, []byte{0x08, 0x96, 0x01}))
	// Output:
	// [socket.io text hex]
	// [protobuf hex text]
}

func ExamplePair() {
	req, _ := decode.Pair(decode.Hint{}, []byte(`{"jsonrpc":"2.0","id":7,"method":"ping"}`))
	resp, _ := decode.Pair(decode.Hint{}, []byte(`{"jsonrpc":"2.0","id":7,"result":"pong"}`))
	fmt.Println(req.Role, resp.Role, req.Partner(resp))
	// Output:
	// request response true
}
