package decode

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wstap/wstap/capture"
)

// seedFormat adds the table cases as seeds.
func seedFormat(f *testing.F) {
	for _, tc := range formatCases {
		f.Add(tc.data, uint8(tc.kind), uint8(tc.opts.Width), uint16(tc.opts.MaxLine))
	}
	f.Add([]byte(`{"a":[1,{"b":"c"}]}`), uint8(JSON), uint8(20), uint16(10))
}

// FuzzFormat formats any bytes as each kind and checks the Doc's
// invariants: no panic, valid UTF-8 text without controls, spans in range
// and sorted, lines no wider than asked, no error span in valid JSON.
func FuzzFormat(f *testing.F) {
	seedFormat(f)
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, width uint8, maxLine uint16) {
		k := Kind(kind % numKinds)
		opts := Options{Width: int(width), MaxLine: int(maxLine), MQTTVersion: int(maxLine % 6)}
		d, err := Format(context.Background(), k, data, opts)
		if err != nil {
			if d != nil {
				t.Fatalf("Format(%s) returned a Doc with error %v", k, err)
			}
			if k == Text || k == Hex {
				t.Fatalf("Format(%s) error %v", k, err)
			}
			return
		}
		checkDoc(t, d, opts.width())
		if k != JSON {
			return
		}
		for i := range d.Len() {
			for _, s := range d.Line(i).Spans {
				if s.Class == Error {
					t.Fatalf("Line(%d) = %q has an error span", i, d.Line(i).Text)
				}
			}
		}
	})
}

// FuzzJSON checks the validator against encoding/json and that the
// pretty-printed text, joined back, holds the same value.
func FuzzJSON(f *testing.F) {
	for _, tc := range formatCases {
		if tc.kind == JSON {
			f.Add(tc.data)
		}
	}
	for _, s := range []string{`[1,]`, `{"a":1,}`, "\"\xff\"", `"\ud800"`, `01`, `-0.0e-0`, `[[[]]]`, " \t\n\r1 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := json.Valid(data)
		if got := validJSON(data, false); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", data, got, want)
		}
		if want && !validJSON(data[:len(data)/2], true) {
			t.Fatalf("validJSON(prefix of %q) = false", data)
		}
		d, err := formatJSON(context.Background(), data, Options{MaxLine: 1 << 30})
		if (err == nil) != want {
			t.Fatalf("formatJSON(%q) error %v, json.Valid = %v", data, err, want)
		}
		if !want {
			return
		}
		var a, b any
		da := json.NewDecoder(bytes.NewReader(data))
		da.UseNumber()
		db := json.NewDecoder(bytes.NewReader(d.buf))
		db.UseNumber()
		if err := da.Decode(&a); err != nil {
			t.Fatal(err)
		}
		if err := db.Decode(&b); err != nil {
			t.Fatalf("pretty text %q does not decode: %v", d.buf, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("pretty text %q holds %v, payload %v", d.buf, b, a)
		}
	})
}

// FuzzDetect checks that Detect and Kinds agree and keep their promises,
// and that every kind Kinds offers for a small payload formats it.
func FuzzDetect(f *testing.F) {
	for _, tc := range formatCases {
		f.Add(tc.data, uint8(2), uint8(0))
		f.Add(tc.data, uint8(1), uint8(1))
	}
	f.Add([]byte(`42["a"]`), uint8(1), uint8(2))
	f.Add(mqttPublishPkt, uint8(2), uint8(3))
	hints := []Hint{{}, {URL: sioURL}, {Subprotocol: "graphql-ws"}, {Subprotocol: "mqtt"},
		{Subprotocol: "msgpack"}, {Subprotocol: "cbor"}, {Subprotocol: "protobuf"}, {Subprotocol: "json"}}
	f.Fuzz(func(t *testing.T, data []byte, op uint8, hint uint8) {
		h := hints[int(hint)%len(hints)]
		o := capture.Opcode(op % 3)
		k := Detect(h, o, data)
		kinds := Kinds(h, o, data)
		if len(kinds) < 2 || kinds[0] != k {
			t.Fatalf("Kinds = %v, Detect = %v", kinds, k)
		}
		seen := map[Kind]bool{}
		for _, k := range kinds {
			if seen[k] || k >= numKinds {
				t.Fatalf("Kinds = %v", kinds)
			}
			seen[k] = true
			if len(data) <= fullCheck {
				if _, err := Format(context.Background(), k, data, Options{}); err != nil {
					t.Fatalf("Kinds(%+v, %v, %q) = %v offers %s, but Format fails: %v", h, o, data, kinds, k, err)
				}
			}
		}
		if !seen[Text] || !seen[Hex] {
			t.Fatalf("Kinds = %v lacks text or hex", kinds)
		}
		if p, ok := Pair(h, data); ok && (p.Role == NoRole || p.Protocol == "" || p.Key == "") {
			t.Fatalf("Pair = %+v", p)
		}
	})
}
