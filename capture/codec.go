package capture

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Records are CBOR arrays whose first three elements are always
// [kind, conn-or-id, time-in-unix-nanoseconds]; see docs/capture-format.md.

// Flags of a chunk record (element 5).
const (
	chunkFirst      = 1 << 0
	chunkLast       = 1 << 1
	chunkCompressed = 1 << 2
	chunkTruncated  = 1 << 3
	// chunkFrame marks a whole message that one frame carried (First and
	// Last are set too): the frame's facts are FIN set, the chunk's opcode,
	// a payload length of len(data), chunkMasked, and RSV in bits 6..8. It
	// saves a frame record per small message.
	chunkFrame    = 1 << 4
	chunkMasked   = 1 << 5
	chunkRSVShift = 6 // RSV1..3 of a folded frame, bits 6..8
	// chunkDropped marks a message the proxy did not forward (and, with
	// chunkFrame, its frame).
	chunkDropped = 1 << 9
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano, Sort: cbor.SortNone}.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  16,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		UTF8:             cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// openBody is the CBOR map (text keys) inside an open record.
type openBody struct {
	URL             string              `cbor:"url"`
	Mode            string              `cbor:"mode,omitempty"`
	ClientAddr      string              `cbor:"client_addr,omitempty"`
	ServerAddr      string              `cbor:"server_addr,omitempty"`
	RequestHeaders  map[string][]string `cbor:"request_headers,omitempty"`
	ResponseHeaders map[string][]string `cbor:"response_headers,omitempty"`
	Status          int                 `cbor:"status"`
	Subprotocol     string              `cbor:"subprotocol,omitempty"`
	Extensions      string              `cbor:"extensions,omitempty"`
	ResponseBody    []byte              `cbor:"response_body,omitempty"`
	ClientTLS       *TLSInfo            `cbor:"client_tls,omitempty"`
	ServerTLS       *TLSInfo            `cbor:"server_tls,omitempty"`
	RequestList     []headerPair        `cbor:"request_header_list,omitempty"`
	ResponseList    []headerPair        `cbor:"response_header_list,omitempty"`
	Redacted        []string            `cbor:"redacted,omitempty"`
}

// headerPair is a HeaderField on disk: a two-element array [name, value].
type headerPair struct {
	_     struct{} `cbor:",toarray"`
	Name  string
	Value string
}

func headerPairs(fs []HeaderField) []headerPair {
	if len(fs) == 0 {
		return nil
	}
	out := make([]headerPair, len(fs))
	for i, f := range fs {
		out[i] = headerPair{Name: validText(f.Name), Value: validText(f.Value)}
	}
	return out
}

func headerFields(ps []headerPair) []HeaderField {
	if len(ps) == 0 {
		return nil
	}
	out := make([]HeaderField, len(ps))
	for i, p := range ps {
		out[i] = HeaderField{Name: p.Name, Value: p.Value}
	}
	return out
}

func validTexts(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = validText(s)
	}
	return out
}

// httpBody is the CBOR map (text keys) inside an http record.
type httpBody struct {
	Method          string              `cbor:"method"`
	URL             string              `cbor:"url"`
	Status          int                 `cbor:"status"`
	RequestHeaders  map[string][]string `cbor:"request_headers,omitempty"`
	ResponseHeaders map[string][]string `cbor:"response_headers,omitempty"`
	RequestBody     []byte              `cbor:"request_body,omitempty"`
	ResponseBody    []byte              `cbor:"response_body,omitempty"`
	RequestSize     int64               `cbor:"request_size"`
	ResponseSize    int64               `cbor:"response_size"`
	DurationNS      int64               `cbor:"duration_ns"`
	Error           string              `cbor:"error,omitempty"`
	ClientAddr      string              `cbor:"client_addr,omitempty"`
	Redacted        []string            `cbor:"redacted,omitempty"`
}

// validText makes s valid UTF-8, as CBOR text strings must be. Header values
// are bytes in HTTP; the rare invalid sequence becomes U+FFFD.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func headerMap(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	m := make(map[string][]string, len(h))
	for k, vs := range h {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = validText(v)
		}
		m[validText(k)] = out
	}
	return m
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// appendRecord appends r's encoding to b. Its time is stored as nanoseconds
// relative to base: the previous record's time in the chunk, or the chunk
// header's t0 for the first. That keeps a time to a few bytes.
func appendRecord(b []byte, r Record, base int64) ([]byte, error) {
	switch r := r.(type) {
	case *Frame:
		b = append(b, 0x80|7+byte(btoi(r.Dropped))) // dropped: an 8th element, only when true
		b = appendUint(b, uint64(KindFrame))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		b = appendUint(b, uint64(r.Dir))
		b = appendUint(b, uint64(frameByte(r)))
		b = appendBool(b, r.Masked)
		b = appendInt(b, r.Length)
		if r.Dropped {
			b = appendBool(b, true)
		}
		return b, nil
	case *Chunk:
		var fl uint64
		if r.First {
			fl |= chunkFirst
		}
		if r.Last {
			fl |= chunkLast
		}
		if r.Compressed {
			fl |= chunkCompressed
		}
		if r.Truncated {
			fl |= chunkTruncated
		}
		if r.Dropped {
			fl |= chunkDropped
		}
		if f := r.Frame; f != nil { // the caller checked it is this whole message's one frame
			fl |= chunkFrame | uint64(f.RSV&7)<<chunkRSVShift
			if f.Masked {
				fl |= chunkMasked
			}
		}
		b = append(b, 0x80|7)
		b = appendUint(b, uint64(KindChunk))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		b = appendUint(b, uint64(r.Dir))
		b = appendUint(b, uint64(r.Opcode))
		b = appendUint(b, fl)
		return appendBytes(b, r.Data), nil
	case *Close:
		b = append(b, 0x80|6+byte(btoi(r.Dropped))) // dropped: a 7th element, only when true
		b = appendUint(b, uint64(KindClose))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		b = appendUint(b, uint64(r.Dir))
		b = appendInt(b, int64(r.Code))
		b = appendBytes(b, []byte(r.Reason)) // bytes: a reason on the wire may be invalid UTF-8
		if r.Dropped {
			b = appendBool(b, true)
		}
		return b, nil
	case *Event:
		b = append(b, 0x80|5)
		b = appendUint(b, uint64(KindEvent))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		b = appendText(b, validText(r.Kind))
		return appendText(b, validText(r.Detail)), nil
	case *End:
		b = append(b, 0x80|4)
		b = appendUint(b, uint64(KindEnd))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		return appendText(b, validText(r.Error)), nil
	case *ConnOpen:
		body, err := encMode.Marshal(openBody{
			URL: validText(r.URL), Mode: r.Mode, ClientAddr: r.ClientAddr, ServerAddr: r.ServerAddr,
			RequestHeaders: headerMap(r.RequestHeaders), ResponseHeaders: headerMap(r.ResponseHeaders),
			Status: r.Status, Subprotocol: validText(r.Subprotocol), Extensions: validText(r.Extensions),
			ResponseBody: r.ResponseBody, ClientTLS: r.ClientTLS, ServerTLS: r.ServerTLS,
			RequestList: headerPairs(r.RequestHeaderList), ResponseList: headerPairs(r.ResponseHeaderList),
			Redacted: validTexts(r.Redacted),
		})
		if err != nil {
			return b, fmt.Errorf("capture: encode open record: %w", err)
		}
		b = append(b, 0x80|4)
		b = appendUint(b, uint64(KindOpen))
		b = appendUint(b, uint64(r.Conn))
		b = appendInt(b, nanos(r.Time)-base)
		return append(b, body...), nil
	case *HTTP:
		body, err := encMode.Marshal(httpBody{
			Method: validText(r.Method), URL: validText(r.URL), Status: r.Status,
			RequestHeaders: headerMap(r.RequestHeaders), ResponseHeaders: headerMap(r.ResponseHeaders),
			RequestBody: r.RequestBody, ResponseBody: r.ResponseBody,
			RequestSize: r.RequestSize, ResponseSize: r.ResponseSize,
			DurationNS: int64(r.Duration), Error: validText(r.Error), ClientAddr: r.ClientAddr,
			Redacted: validTexts(r.Redacted),
		})
		if err != nil {
			return b, fmt.Errorf("capture: encode http record: %w", err)
		}
		b = append(b, 0x80|4)
		b = appendUint(b, uint64(KindHTTP))
		b = appendUint(b, r.ID)
		b = appendInt(b, nanos(r.Time)-base)
		return append(b, body...), nil
	}
	return b, fmt.Errorf("capture: cannot encode record of type %T", r)
}

// frameByte packs FIN, RSV and opcode as the first byte of a frame header.
func frameByte(f *Frame) byte {
	b0 := byte(f.Opcode&0xf) | (f.RSV&7)<<4
	if f.Fin {
		b0 |= 0x80
	}
	return b0
}

// decodeRecord decodes the next record from d. Byte slices in the result
// (Chunk.Data, bodies) are copies, so the record outlives d's buffer. An
// unknown kind yields (nil, kind, nil) after skipping the item, so readers can
// step over records from a newer minor revision of the format.
func decodeRecord(d *cborDec) (Record, Kind, error) {
	var base int64
	return decodeRecordIn(d, nil, &base)
}

// recAlloc hands out the Frame and Chunk records of a reader, and the
// payloads of small chunks, from shared blocks: decoding then costs a few
// allocations per chunk instead of two per record. A record kept by the
// caller keeps its blocks alive; they are small (recBlock records,
// dataBlock bytes) to bound that.
//
// With transient set, the records only live until reset: blocks are reused
// and Chunk.Data points into the decoder's buffer, not copied. The reader
// folds records into summaries that way.
type recAlloc struct {
	transient bool
	frames    []Frame
	chunks    []Chunk
	data      []byte
}

const (
	recBlock   = 64
	dataBlock  = 16 << 10
	smallChunk = 512 // payloads up to this size share data blocks
)

func (a *recAlloc) frame() *Frame {
	if a == nil {
		return new(Frame)
	}
	if len(a.frames) == cap(a.frames) {
		a.frames = make([]Frame, 0, max(recBlock, 2*cap(a.frames)*btoi(a.transient)))
	}
	a.frames = a.frames[:len(a.frames)+1]
	return &a.frames[len(a.frames)-1]
}

func (a *recAlloc) chunk() *Chunk {
	if a == nil {
		return new(Chunk)
	}
	if len(a.chunks) == cap(a.chunks) {
		a.chunks = make([]Chunk, 0, max(recBlock, 2*cap(a.chunks)*btoi(a.transient)))
	}
	a.chunks = a.chunks[:len(a.chunks)+1]
	return &a.chunks[len(a.chunks)-1]
}

// bytes returns p, copied unless the allocator is transient. Like append
// to nil, it returns nil for an empty p.
func (a *recAlloc) bytes(p []byte) []byte {
	switch {
	case len(p) == 0:
		return nil
	case a == nil:
		return append([]byte(nil), p...)
	case a.transient:
		return p[:len(p):len(p)]
	case len(p) > smallChunk:
		return append([]byte(nil), p...)
	}
	if cap(a.data)-len(a.data) < len(p) {
		a.data = make([]byte, 0, dataBlock)
	}
	start := len(a.data)
	a.data = append(a.data, p...)
	return a.data[start:len(a.data):len(a.data)]
}

// reset recycles a transient allocator's records.
func (a *recAlloc) reset() {
	if a.transient {
		a.frames, a.chunks = a.frames[:0], a.chunks[:0]
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodeRecordIn is decodeRecord with Frame and Chunk records from a (nil:
// plain allocations). *base is the previous record's time (the chunk
// header's t0 before the first), which the record's time is relative to;
// decodeRecordIn moves it to this record's time, for records of unknown
// kinds too. A chunk record that carries its frame's facts comes back with
// Chunk.Frame set; the reader yields that Frame as a record of its own.
func decodeRecordIn(d *cborDec, a *recAlloc, base *int64) (Record, Kind, error) {
	start := d.off
	n, err := d.array()
	if err != nil || n < 3 {
		return nil, 0, errCBOR
	}
	k, err := d.uint()
	if err != nil {
		return nil, 0, err
	}
	id, err := d.uint()
	if err != nil {
		return nil, 0, err
	}
	ts, err := d.int()
	if err != nil {
		return nil, 0, err
	}
	*base += ts
	t := fromNanos(*base)
	conn := ConnID(id)
	need := fieldCount(k)
	if need == 0 {
		d.off = start
		if _, err := d.skip(); err != nil {
			return nil, 0, err
		}
		return nil, Kind(min(k, 255)), nil
	}
	if n < need {
		return nil, 0, errCBOR
	}
	var rec Record
	switch Kind(k) {
	case KindFrame:
		dir, e1 := d.uint()
		b0, e2 := d.uint()
		masked, e3 := d.bool()
		length, e4 := d.int()
		if e := firstErr(e1, e2, e3, e4); e != nil || dir > 255 || b0 > 255 {
			return nil, 0, errCBOR
		}
		f := a.frame()
		*f = Frame{Conn: conn, Time: t, Dir: Direction(dir), Fin: b0&0x80 != 0, RSV: uint8(b0>>4) & 7,
			Opcode: Opcode(b0 & 0xf), Masked: masked, Length: length}
		if n > need {
			if f.Dropped, err = d.bool(); err != nil {
				return nil, 0, errCBOR
			}
			need++
		}
		rec = f
	case KindChunk:
		dir, e1 := d.uint()
		op, e2 := d.uint()
		fl, e3 := d.uint()
		data, e4 := d.str(majorBytes)
		if e := firstErr(e1, e2, e3, e4); e != nil || dir > 255 || op > 255 {
			return nil, 0, errCBOR
		}
		var c *Chunk
		if len(data) > smallChunk && a != nil && !a.transient {
			// Not from a block: a block slot would keep this big payload
			// alive as long as any record of the block lives.
			c = new(Chunk)
		} else {
			c = a.chunk()
		}
		*c = Chunk{Conn: conn, Time: t, Dir: Direction(dir), Opcode: Opcode(op),
			First: fl&chunkFirst != 0, Last: fl&chunkLast != 0, Compressed: fl&chunkCompressed != 0,
			Truncated: fl&chunkTruncated != 0, Dropped: fl&chunkDropped != 0, Data: a.bytes(data)}
		if fl&chunkFrame != 0 {
			f := a.frame()
			*f = Frame{Conn: conn, Time: t, Dir: c.Dir, Fin: true, RSV: uint8(fl>>chunkRSVShift) & 7,
				Opcode: c.Opcode, Masked: fl&chunkMasked != 0, Length: int64(len(data)), Dropped: c.Dropped}
			c.Frame = f
		}
		rec = c
	case KindClose:
		dir, e1 := d.uint()
		code, e2 := d.int()
		reason, e3 := d.str(majorBytes)
		if e := firstErr(e1, e2, e3); e != nil || dir > 255 {
			return nil, 0, errCBOR
		}
		cl := &Close{Conn: conn, Time: t, Dir: Direction(dir), Code: int(code), Reason: string(reason)}
		if n > need {
			if cl.Dropped, err = d.bool(); err != nil {
				return nil, 0, errCBOR
			}
			need++
		}
		rec = cl
	case KindEvent:
		kind, e1 := d.str(majorText)
		detail, e2 := d.str(majorText)
		if e := firstErr(e1, e2); e != nil {
			return nil, 0, e
		}
		rec = &Event{Conn: conn, Time: t, Kind: string(kind), Detail: string(detail)}
	case KindEnd:
		msg, err := d.str(majorText)
		if err != nil {
			return nil, 0, err
		}
		rec = &End{Conn: conn, Time: t, Error: string(msg)}
	case KindOpen:
		raw, err := d.skip()
		if err != nil {
			return nil, 0, err
		}
		var ob openBody
		if err := decMode.Unmarshal(raw, &ob); err != nil {
			return nil, 0, errCBOR
		}
		rec = &ConnOpen{Conn: conn, Time: t, URL: ob.URL, Mode: ob.Mode, ClientAddr: ob.ClientAddr,
			ServerAddr: ob.ServerAddr, RequestHeaders: ob.RequestHeaders, ResponseHeaders: ob.ResponseHeaders,
			Status: ob.Status, Subprotocol: ob.Subprotocol, Extensions: ob.Extensions,
			ResponseBody: ob.ResponseBody, ClientTLS: ob.ClientTLS, ServerTLS: ob.ServerTLS,
			RequestHeaderList: headerFields(ob.RequestList), ResponseHeaderList: headerFields(ob.ResponseList),
			Redacted: ob.Redacted}
	case KindHTTP:
		raw, err := d.skip()
		if err != nil {
			return nil, 0, err
		}
		var hb httpBody
		if err := decMode.Unmarshal(raw, &hb); err != nil {
			return nil, 0, errCBOR
		}
		rec = &HTTP{ID: id, Time: t, Method: hb.Method, URL: hb.URL, Status: hb.Status,
			RequestHeaders: hb.RequestHeaders, ResponseHeaders: hb.ResponseHeaders,
			RequestBody: hb.RequestBody, ResponseBody: hb.ResponseBody,
			RequestSize: hb.RequestSize, ResponseSize: hb.ResponseSize,
			Duration: time.Duration(hb.DurationNS), Error: hb.Error, ClientAddr: hb.ClientAddr, Redacted: hb.Redacted}
	}
	// Elements a newer minor revision appended to this kind are skipped.
	for range n - need {
		if _, err := d.skip(); err != nil {
			return nil, 0, err
		}
	}
	return rec, Kind(k), nil
}

// fieldCount is the number of array elements a record of kind k has in
// format version 1, or 0 for a kind this version does not know.
func fieldCount(k uint64) int {
	if k > 255 {
		return 0
	}
	switch Kind(k) {
	case KindOpen, KindHTTP, KindEnd:
		return 4
	case KindFrame, KindChunk:
		return 7
	case KindClose:
		return 6
	case KindEvent:
		return 5
	}
	return 0
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
