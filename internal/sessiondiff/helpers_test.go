package sessiondiff

import (
	"strconv"
	"strings"
	"time"

	"github.com/wstap/wstap/capture"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// c and s make client and server text messages; cb and sb binary ones.
func c(text string) Message {
	return Message{Dir: capture.ClientToServer, Opcode: capture.OpText, Data: []byte(text)}
}
func s(text string) Message {
	return Message{Dir: capture.ServerToClient, Opcode: capture.OpText, Data: []byte(text)}
}
func cb(data ...byte) Message {
	return Message{Dir: capture.ClientToServer, Opcode: capture.OpBinary, Data: data}
}
func sb(data ...byte) Message {
	return Message{Dir: capture.ServerToClient, Opcode: capture.OpBinary, Data: data}
}

// session makes a session of the messages, 10ms apart, numbered.
func session(name string, ms ...Message) *Session {
	out := &Session{Name: name, URL: "wss://chat.example.test/ws?room=1", Status: 101, Subprotocol: "chat",
		Start: t0, End: at(10 * (len(ms) + 1))}
	out.Messages = append([]Message(nil), ms...)
	for i := range out.Messages {
		if out.Messages[i].Time.IsZero() {
			out.Messages[i].Time = at(10 * (i + 1))
		}
	}
	Number(out.Messages)
	return out
}

// texts makes one direction's text messages.
func texts(dir capture.Direction, ss ...string) []Message {
	out := make([]Message, len(ss))
	for i, t := range ss {
		out[i] = Message{Dir: dir, Opcode: capture.OpText, Data: []byte(t), Time: at(i)}
	}
	Number(out)
	return out
}

func paths(ss ...string) []Path {
	out := make([]Path, len(ss))
	for i, s := range ss {
		out[i] = MustParsePath(s)
	}
	return out
}

// opString describes ops compactly: "=1:1 ~2:2 +:3 -4: ↕5:6".
func opString(ops []Op) string {
	marks := map[OpKind]string{Same: "=", Changed: "~", Inserted: "+", Missing: "-", Reordered: "↕"}
	var parts []string
	for _, op := range ops {
		p := marks[op.Kind]
		if op.A != nil {
			p += strconv.Itoa(op.A.Index)
		}
		p += ":"
		if op.B != nil {
			p += strconv.Itoa(op.B.Index)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func parseDur(s string) (time.Duration, error) { return time.ParseDuration(s) }
