package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// encodingJSON is the reference the appender must match: the encoder Log
// used before it, json.Encoder with HTML escaping off, without its newline.
func encodingJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonKeys returns the json tags of t's fields, in order.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		keys = append(keys, f.Tag.Get("json"))
	}
	return keys
}

// TestAppenderKnowsEveryField fails when a field is added to (or renamed
// or reordered in) a struct the appender encodes by hand, until encode.go
// writes it and lists it. FuzzRecordEncoding fills every field by
// reflection, so it fails too if the list is updated and the code is not.
func TestAppenderKnowsEveryField(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  reflect.Type
		keys []string
	}{
		{"Record", reflect.TypeFor[Record](), recordKeys},
		{"Used", reflect.TypeFor[Used](), usedKeys},
		{"FileUsed", reflect.TypeFor[FileUsed](), fileUsedKeys},
		{"NetUsed", reflect.TypeFor[NetUsed](), netUsedKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := jsonKeys(tc.typ); !slices.Equal(got, tc.keys) {
				t.Errorf("%s's json tags are\n%q\nthe appender (encode.go) writes\n%q\nteach appendRecord/appendUsed the change and update the list", tc.name, got, tc.keys)
			}
		})
	}
}

// filler fills values with bytes taken from a fuzzer's input: every
// field, found by reflection, so that a field the appender does not know
// shows as a difference from encoding/json.
type filler struct {
	t    testing.TB
	data []byte
}

func (f *filler) byte() byte {
	if len(f.data) == 0 {
		return 0
	}
	b := f.data[0]
	f.data = f.data[1:]
	return b
}

func (f *filler) uint64() uint64 {
	var b [8]byte
	n := copy(b[:], f.data)
	f.data = f.data[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// pieces are what strings are made of, besides raw bytes: what JSON
// escapes, HTML characters, multi-byte runes, U+2028 and U+2029, and
// broken UTF-8.
var pieces = []string{"", "\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
	"\u2028", "\u2029", "é", "😀", "\ufffd", "\xff", "\xe2\x80", "\xed\xa0\x80", "[REDACTED]", "…"}

func (f *filler) string() string {
	n := int(f.byte() % 24)
	var sb strings.Builder
	for range n {
		b := f.byte()
		if b >= 0xe8 {
			sb.WriteString(pieces[int(b-0xe8)%len(pieces)])
		} else {
			sb.WriteByte(b)
		}
	}
	return sb.String()
}

var specialFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.087, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125,
	math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)}

// rawArgs are Args as Summarize makes them and as other callers might
// pass them (valid JSON, with and without whitespace).
var rawArgs = []string{`{"q":"hello"}`, `{"text":"hello world"}`, ` { "a" : [ 1 , 2 ] , "b" : "x y" } `,
	"[\n\t1,\r\n2]", `"<&>\u2028"`, `{"k":"é\"\\ \" "}`, `null`, `1e5`, `{"_unparsed":12}`, `{}`}

var zones = []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600),
	time.FixedZone("", 24*3600), time.FixedZone("", -25*3600)}

func (f *filler) fill(v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		sec := int64(f.uint64() % (1 << 40)) // years up to ≈ 36 000
		if f.byte()%2 == 0 {
			sec = -sec
		}
		if f.byte()%2 == 0 {
			sec %= 1 << 32 // mostly years that encode
		}
		t := time.Unix(sec, int64(f.uint64()%1e9)).In(zones[int(f.byte())%len(zones)])
		if f.byte()%8 == 0 {
			t = time.Time{}
		}
		v.Set(reflect.ValueOf(t))
		return
	case reflect.TypeFor[json.RawMessage]():
		if b := f.byte(); b%4 != 0 {
			v.SetBytes([]byte(rawArgs[int(b)%len(rawArgs)]))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(f.string())
	case reflect.Int, reflect.Int64:
		x := int64(f.uint64())
		if b := f.byte(); b%3 == 0 {
			x = 0
		} else if b%3 == 1 {
			x %= 1000
		}
		v.SetInt(x)
	case reflect.Uint32, reflect.Uint64:
		x := f.uint64()
		if f.byte()%3 == 0 {
			x = 0
		}
		v.SetUint(x)
	case reflect.Float64:
		if b := f.byte(); b%2 == 0 {
			v.SetFloat(specialFloats[int(b/2)%len(specialFloats)])
		} else {
			v.SetFloat(math.Float64frombits(f.uint64()))
		}
	case reflect.Pointer:
		if f.byte()%3 != 0 {
			v.Set(reflect.New(v.Type().Elem()))
			f.fill(v.Elem())
		}
	case reflect.Slice:
		switch b := f.byte(); b % 4 {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 1)) // empty, not nil: omitted too
		default:
			n := int(b % 5)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				f.fill(v.Index(i))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	default:
		f.t.Fatalf("filler: a field of kind %s (%s): teach the filler and the appender (encode.go)", v.Kind(), v.Type())
	}
}

// checkEncoding asserts that the appender writes r exactly as
// encoding/json does, or fails where it fails; and the same of r.Used
// encoded as json.Marshal does (the measure of Used.bounded).
func checkEncoding(t *testing.T, r *Record) {
	t.Helper()
	want, werr := encodingJSON(r)
	got, gerr := appendRecord(nil, r)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("encoding/json error %v, appender error %v\nappender: %s", werr, gerr, got)
	}
	if werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("appender differs from encoding/json\n got: %s\nwant: %s", got, want)
	}
	// The Logger's own path: prev from its head, and the newline.
	l := New(nil)
	rr := *r
	rr.Prev = Genesis
	want, werr = encodingJSON(&rr)
	got, gerr = l.encode(r)
	if werr == nil && len(want) > MaxLineBytes {
		werr = ErrRecordTooLarge
	}
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("Logger: encoding/json error %v, appender error %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(got, append(want, '\n')) {
		t.Fatalf("Logger's line differs from encoding/json\n got: %s\nwant: %s", got, want)
	}
	if r.Used != nil {
		want, werr := json.Marshal(r.Used)
		got, gerr := appendUsed(nil, r.Used, true)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("json.Marshal(Used) error %v, appender error %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendUsed(html) differs from json.Marshal\n got: %s\nwant: %s", got, want)
		}
	}
}

// FuzzRecordEncoding: for any record, the hand-written appender writes the
// bytes encoding/json wrote (the chain hashes them), or refuses what it
// refuses.
func FuzzRecordEncoding(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 600))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 0xe9, 0xf0, 0xf3, 0x80}, 200))
	f.Add([]byte("the quick brown fox <jumps> & \"over\" the \\lazy\\ dog\n\x00\x7f"))
	for i := range 16 {
		seed := make([]byte, 512)
		for j := range seed {
			seed[j] = byte(i*131 + j*j*7 + j>>3)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		(&filler{t: t, data: data}).fill(reflect.ValueOf(&r).Elem())
		checkEncoding(t, &r)
	})
}

// TestRecordEncoding pins the appender's bytes for the edge cases of the
// JSON encoding, and checks each against encoding/json.
func TestRecordEncoding(t *testing.T) {
	const pre = `{"time":"2025-06-01T12:00:00.123456789Z","seq":1,"event":"tool_call"`
	const post = `,"prev":"p"}`
	base := func(mod func(*Record)) Record {
		r := Record{Time: t0, Seq: 1, Event: EventToolCall, Prev: "p"}
		mod(&r)
		return r
	}
	for _, tc := range []struct {
		name    string
		rec     Record
		want    string // the whole line
		wantErr string // or the error, when encoding/json refuses the record too
	}{
		{name: "zero values omitted", rec: base(func(r *Record) {}),
			want: pre + `,"outcome":""` + post},
		{name: "every field", rec: base(func(r *Record) {
			*r = Record{Time: t0, Seq: 7, Event: EventToolCall, RequestID: "r", ErrorID: "e", Principal: "alice", AuthMethod: "api_key",
				ClientAddr: "127.0.0.1:1", Tool: "echo", Args: json.RawMessage(`{"q":1}`), Outcome: OutcomeOK, Reason: "why",
				Host: "example.com", Method: "GET", Status: 200, DurationMS: 1.5, ExitCode: u32(3), BytesIn: 4, BytesOut: 5,
				Changes: []string{"tool a added"}, Replica: "r1", TraceID: "t", Used: &Used{WallMS: 2, MemoryPeak: 65536,
					OutputBytes: 6, Module: "sha256:ab", Instance: "fresh", BytesRead: 7, BytesWritten: 8,
					Files: []FileUsed{{Mount: "/data", Path: "a.txt", Mode: "read", Read: 9}}, FilesOmitted: 1,
					Net:        []NetUsed{{Host: "example.com:443", Method: "GET", Status: 200, Outcome: "ok", BytesIn: 10, Secrets: []string{"authorization"}}},
					NetOmitted: 2, NetBytesOut: 11, NetBytesIn: 12}, Prev: "p"}
		}), want: `{"time":"2025-06-01T12:00:00.123456789Z","seq":7,"event":"tool_call","request_id":"r","error_id":"e",` +
			`"principal":"alice","auth_method":"api_key","client_addr":"127.0.0.1:1","tool":"echo","args":{"q":1},"outcome":"ok",` +
			`"reason":"why","host":"example.com","method":"GET","status":200,"duration_ms":1.5,"exit_code":3,"bytes_in":4,` +
			`"bytes_out":5,"changes":["tool a added"],"replica":"r1","trace_id":"t","used":{"wall_ms":2,"memory_peak_bytes":65536,` +
			`"output_bytes":6,"module":"sha256:ab","instance":"fresh","bytes_read":7,"bytes_written":8,"files":[{"mount":"/data",` +
			`"path":"a.txt","mode":"read","read":9,"written":0}],"files_omitted":1,"net":[{"host":"example.com:443","method":"GET",` +
			`"status":200,"outcome":"ok","bytes_out":0,"bytes_in":10,"secret_headers":["authorization"]}],"net_omitted":2,` +
			`"net_bytes_out":11,"net_bytes_in":12},"prev":"p"}`},
		{name: "HTML is not escaped", rec: base(func(r *Record) { r.Reason = "<a href='x'>&amp;</a>" }),
			want: pre + `,"outcome":"","reason":"<a href='x'>&amp;</a>"` + post},
		{name: "quotes, backslashes and short escapes", rec: base(func(r *Record) { r.Reason = "\"\\\b\f\n\r\t/" }),
			want: pre + `,"outcome":"","reason":"\"\\\b\f\n\r\t/"` + post},
		{name: "other control characters", rec: base(func(r *Record) { r.Reason = "\x00\x01\x1f\x7f" }),
			want: pre + `,"outcome":"","reason":"\u0000\u0001\u001f` + "\x7f" + `"` + post},
		{name: "invalid UTF-8 becomes U+FFFD per byte", rec: base(func(r *Record) { r.Tool = "a\xffb\xe2\x80c\xed\xa0\x80" }),
			want: pre + `,"tool":"a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffd","outcome":""` + post},
		{name: "line and paragraph separators", rec: base(func(r *Record) { r.Reason = "a\u2028b\u2029c é😀" }),
			want: pre + `,"outcome":"","reason":"a\u2028b\u2029c é😀"` + post},
		{name: "empty slices and zero pointers omitted", rec: base(func(r *Record) { r.Changes = []string{}; r.Args = json.RawMessage{} }),
			want: pre + `,"outcome":""` + post},
		{name: "zero exit code kept", rec: base(func(r *Record) { r.ExitCode = u32(0) }),
			want: pre + `,"outcome":"","exit_code":0` + post},
		{name: "negative zero duration omitted", rec: base(func(r *Record) { r.DurationMS = math.Copysign(0, -1) }),
			want: pre + `,"outcome":""` + post},
		{name: "small duration in exponent form", rec: base(func(r *Record) { r.DurationMS = 1e-7 }),
			want: pre + `,"outcome":"","duration_ms":1e-7` + post},
		{name: "large duration in exponent form", rec: base(func(r *Record) { r.DurationMS = 1e21 }),
			want: pre + `,"outcome":"","duration_ms":1e+21` + post},
		{name: "duration just under the exponent cut-offs", rec: base(func(r *Record) { r.DurationMS = 1e-6 }),
			want: pre + `,"outcome":"","duration_ms":0.000001` + post},
		{name: "negative status", rec: base(func(r *Record) { r.Status = -1 }),
			want: pre + `,"outcome":"","status":-1` + post},
		{name: "args compacted", rec: base(func(r *Record) { r.Args = json.RawMessage(" {\n\t\"a\" : [1, 2],\r\n \"b\": \"x y\" } ") }),
			want: pre + `,"args":{"a":[1,2],"b":"x y"},"outcome":""` + post},
		{name: "args keep HTML and separators", rec: base(func(r *Record) { r.Args = json.RawMessage("\"<&>\u2028\"") }),
			want: pre + `,"args":"<&>` + "\u2028" + `","outcome":""` + post},
		{name: "time in another zone", rec: base(func(r *Record) { r.Time = t0.In(time.FixedZone("", -(3*3600 + 30*60))) }),
			want: `{"time":"2025-06-01T08:30:00.123456789-03:30","seq":1,"event":"tool_call","outcome":""` + post},
		{name: "time without nanoseconds", rec: base(func(r *Record) { r.Time = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }),
			want: `{"time":"2025-01-02T03:04:05Z","seq":1,"event":"tool_call","outcome":""` + post},
		{name: "zero time", rec: base(func(r *Record) { r.Time = time.Time{} }),
			want: `{"time":"0001-01-01T00:00:00Z","seq":1,"event":"tool_call","outcome":""` + post},
		{name: "year after 9999 refused", rec: base(func(r *Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
			wantErr: "time: time not representable in RFC 3339"},
		{name: "negative year refused", rec: base(func(r *Record) { r.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }),
			wantErr: "time: time not representable in RFC 3339"},
		{name: "zone of 24 hours refused", rec: base(func(r *Record) { r.Time = t0.In(time.FixedZone("", 24*3600)) }),
			wantErr: "time: time not representable in RFC 3339"},
		{name: "NaN duration refused", rec: base(func(r *Record) { r.DurationMS = math.NaN() }),
			wantErr: "duration_ms: not a finite number"},
		{name: "infinite wall time refused", rec: base(func(r *Record) { r.Used = &Used{WallMS: math.Inf(-1)} }),
			wantErr: "used: wall_ms: not a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendRecord(nil, &tc.rec)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if _, err := encodingJSON(&tc.rec); err == nil {
					t.Fatal("encoding/json accepts the record")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			checkEncoding(t, &tc.rec)
		})
	}
}

// TestLogRefusesUnencodableRecord: a record encoding/json refused is
// refused as before, without touching the chain.
func TestLogRefusesUnencodableRecord(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	err := l.Log(Record{Event: EventToolCall, DurationMS: math.Inf(1)})
	if err == nil || err.Error() != "audit: encode record: duration_ms: not a finite number" {
		t.Fatalf("error %v", err)
	}
	if seq, h := l.Head(); seq != 0 || h != Genesis || buf.Len() != 0 {
		t.Fatalf("head %d %s, %d bytes written", seq, h, buf.Len())
	}
}

// BenchmarkRecordEncoding compares the appender with encoding/json on a
// call's record, without the write.
func BenchmarkRecordEncoding(b *testing.B) {
	r := callRecord()
	r.Time, r.Seq, r.Prev = t0, 12345, Genesis
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendRecord(buf[:0], &r)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(&r)
		}
	})
}
