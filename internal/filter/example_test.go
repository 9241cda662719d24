package filter_test

import (
	"fmt"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/filter"
)

func ExampleParse() {
	e, err := filter.Parse(`FROM:s op:text json:type=subscribe -"test run"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := &filter.Msg{Dir: capture.ServerToClient, Opcode: capture.OpText, Data: []byte(`{"type":"subscribe"}`)}
	fmt.Println(e, e.NeedsPayload(), e.Match(m))

	_, err = filter.Parse("op:text size>")
	fmt.Println(err)
	// Output:
	// from:server op:text json:type=subscribe -"test run" true true
	// filter: size>: want a number after "size>" (at 9)
}
