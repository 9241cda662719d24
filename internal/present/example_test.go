package present_test

import (
	"fmt"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

func ExampleLine() {
	t := time.Date(2026, 11, 26, 12, 0, 0, 128_000_000, time.UTC)
	m := &capture.Message{Conn: 1, Time: t, Dir: capture.ClientToServer, Opcode: capture.OpText, Size: 9,
		Data: []byte("hi\tthere"), Compressed: true}
	fmt.Println(present.Line(m, 100))
	fmt.Println(present.Line(&capture.Close{Conn: 1, Time: t, Dir: capture.ServerToClient, Code: 1001}, 100))
	// Output:
	// 12:00:00.128 #1 → text        9 B [z] hi\tthere
	// 12:00:00.128 #1 ← close  1001 (going away)
}

func ExampleFrameBuffer() {
	t := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	recs := []capture.Record{ // as Assemble yields them with Frames set
		&capture.Frame{Conn: 1, Time: t, Opcode: capture.OpText, Masked: true, Length: 5},
		&capture.Frame{Conn: 1, Time: t.Add(time.Millisecond), Opcode: capture.OpContinuation, Fin: true, Masked: true, Length: 6},
		&capture.Message{Conn: 1, Time: t, Opcode: capture.OpText, Size: 11, Data: []byte("hello world")},
	}
	var frames present.FrameBuffer
	for _, rec := range recs {
		if f, ok := rec.(*capture.Frame); ok {
			frames.Hold(f)
			continue
		}
		fmt.Println(present.Line(rec, 100))
		for _, f := range frames.Take(rec) {
			fmt.Println(present.FrameLine(&f, rec.At()))
		}
	}
	// Output:
	// 12:00:00.000 #1 → text       11 B hello world
	//              └ frame text masked 5 B +0s
	//              └ frame continuation FIN masked 6 B +1ms
}
