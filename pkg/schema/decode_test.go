package schema

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vmihailenco/msgpack/v5"
)

// errKey is what two decoders must agree on about an error: its class and
// where it happened ("truncated batch: in proc 3"), not the wording of the
// invalid code's description.
func errKey(err error) string {
	if err == nil {
		return "<nil>"
	}
	parts := strings.SplitN(err.Error(), ": ", 3)
	return strings.Join(parts[:min(2, len(parts))], ": ")
}

// checkSameAsReference fails t unless Unmarshal and the released decoder
// agree on data.
func checkSameAsReference(t *testing.T, data []byte) {
	t.Helper()
	want, werr := refUnmarshal(data)
	got, gerr := Unmarshal(data)
	if errKey(werr) != errKey(gerr) {
		t.Fatalf("Unmarshal error = %v, released decoder says %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Fatalf("Unmarshal differs from the released decoder (-want +got):\n%s", diff)
	}
}

// variant re-encodes msgpack data value by value in a form another
// writer could have used: same values, other codes.
type variant struct {
	name  string
	int   func(b *bytes.Buffer, v int64) bool // writes v its way, or false
	str   func(b *bytes.Buffer, s string) bool
	arr   func(b *bytes.Buffer, n int) bool
	mapH  func(b *bytes.Buffer, n int) bool
	extra bool // append unknown trailing fields to every struct array
}

func hdr(b *bytes.Buffer, code byte, width int, n uint64) {
	b.WriteByte(code)
	var x [8]byte
	binary.BigEndian.PutUint64(x[:], n)
	b.Write(x[8-width:])
}

var variants = []variant{
	{name: "wide ints", int: func(b *bytes.Buffer, v int64) bool {
		if v < 0 {
			hdr(b, mpInt64, 8, uint64(v))
		} else {
			hdr(b, mpUint64, 8, uint64(v))
		}
		return true
	}},
	{name: "narrowest signed ints", int: func(b *bytes.Buffer, v int64) bool {
		switch {
		case v >= math.MinInt8 && v <= math.MaxInt8:
			hdr(b, mpInt8, 1, uint64(v))
		case v >= math.MinInt16 && v <= math.MaxInt16:
			hdr(b, mpInt16, 2, uint64(v))
		case v >= math.MinInt32 && v <= math.MaxInt32:
			hdr(b, mpInt32, 4, uint64(v))
		default:
			hdr(b, mpInt64, 8, uint64(v))
		}
		return true
	}},
	{name: "unsigned widths", int: func(b *bytes.Buffer, v int64) bool {
		switch {
		case v < 0:
			return false
		case v <= math.MaxUint8:
			hdr(b, mpUint8, 1, uint64(v))
		case v <= math.MaxUint16:
			hdr(b, mpUint16, 2, uint64(v))
		case v <= math.MaxUint32:
			hdr(b, mpUint32, 4, uint64(v))
		default:
			return false
		}
		return true
	}},
	{name: "bin strings", str: func(b *bytes.Buffer, s string) bool {
		switch {
		case len(s) <= math.MaxUint8:
			hdr(b, mpBin8, 1, uint64(len(s)))
		case len(s) <= math.MaxUint16:
			hdr(b, mpBin16, 2, uint64(len(s)))
		default:
			hdr(b, mpBin32, 4, uint64(len(s)))
		}
		b.WriteString(s)
		return true
	}},
	{name: "str32 and bin32", str: func(b *bytes.Buffer, s string) bool {
		code := byte(mpStr32)
		if len(s)%2 == 1 {
			code = mpBin32
		}
		hdr(b, code, 4, uint64(len(s)))
		b.WriteString(s)
		return true
	}},
	{name: "str8 and str16", str: func(b *bytes.Buffer, s string) bool {
		if len(s)%2 == 1 || len(s) > math.MaxUint8 {
			hdr(b, mpStr16, 2, uint64(len(s)))
		} else {
			hdr(b, mpStr8, 1, uint64(len(s)))
		}
		b.WriteString(s)
		return true
	}},
	{name: "nil for zero values",
		int: func(b *bytes.Buffer, v int64) bool { return v == 0 && b.WriteByte(mpNil) == nil },
		str: func(b *bytes.Buffer, s string) bool { return s == "" && b.WriteByte(mpNil) == nil }},
	{name: "array16 and map16",
		arr:  func(b *bytes.Buffer, n int) bool { hdr(b, mpArray16, 2, uint64(n)); return true },
		mapH: func(b *bytes.Buffer, n int) bool { hdr(b, mpMap16, 2, uint64(n)); return true }},
	{name: "array32 and map32",
		arr:  func(b *bytes.Buffer, n int) bool { hdr(b, mpArray32, 4, uint64(n)); return true },
		mapH: func(b *bytes.Buffer, n int) bool { hdr(b, mpMap32, 4, uint64(n)); return true }},
	{name: "ext header before maps", mapH: func(b *bytes.Buffer, n int) bool {
		b.Write([]byte{mpFixExt1, 0x05})
		hdr(b, mpMap32, 4, uint64(n))
		return true
	}},
	{name: "newer writer's trailing fields", extra: true},
}

// trailing is what a newer writer might add after the known fields: one
// value of every msgpack kind.
var trailing = [][]byte{
	{mpNil}, {mpTrue}, {0x7f}, {0xe0}, {mpUint64, 1, 2, 3, 4, 5, 6, 7, 8},
	{mpFloat, 0, 0, 0, 0}, {mpDouble, 1, 2, 3, 4, 5, 6, 7, 8}, {0xa1, 'x'}, {mpBin8, 2, 0, 1},
	{0x92, 0x01, 0x91, 0xa1, 'y'}, {0x81, 0xa1, 'k', 0x92, 1, 2}, {mpFixExt4, 7, 1, 2, 3, 4},
	{mpExt8, 2, 9, 1, 2}, {mpExt16, 0, 1, 9, 1}, {mpExt32, 0, 0, 0, 0, 9}, {mpFixExt16, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
}

// reencode rewrites one msgpack value of d into b the way v says.
func (v variant) reencode(t testing.TB, b *bytes.Buffer, d *msgpack.Decoder) {
	t.Helper()
	c, err := d.PeekCode()
	if err != nil {
		t.Fatal(err)
	}
	raw := func() {
		r, err := d.DecodeRaw()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(r)
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || (c >= mpUint8 && c <= mpInt64):
		if c == mpFloat || c == mpDouble {
			raw()
			return
		}
		n, err := d.DecodeInt64()
		if err != nil {
			t.Fatal(err)
		}
		if c == mpUint64 && n < 0 { // above MaxInt64: keep its bits unsigned
			hdr(b, mpUint64, 8, uint64(n))
			return
		}
		if v.int == nil || !v.int(b, n) {
			if err := msgpack.NewEncoder(b).EncodeInt(n); err != nil {
				t.Fatal(err)
			}
		}
	case c&0xe0 == 0xa0 || (c >= mpStr8 && c <= mpStr32) || (c >= mpBin8 && c <= mpBin32):
		s, err := d.DecodeString()
		if err != nil {
			t.Fatal(err)
		}
		if v.str == nil || !v.str(b, s) {
			raw := msgpack.NewEncoder(b)
			if c >= mpBin8 && c <= mpBin32 {
				err = raw.EncodeBytes([]byte(s))
			} else {
				err = raw.EncodeString(s)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	case c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			t.Fatal(err)
		}
		// Arrays of five or more values are structs (args lists too, which
		// then get extra args: the same for both decoders).
		extra := 0
		if v.extra && n >= 5 {
			extra = len(trailing)
		}
		if v.arr == nil || !v.arr(b, n+extra) {
			if err := msgpack.NewEncoder(b).EncodeArrayLen(n + extra); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			v.reencode(t, b, d)
		}
		for _, x := range trailing[:extra] {
			b.Write(x)
		}
	case c&0xf0 == 0x80 || c == mpMap16 || c == mpMap32:
		n, err := d.DecodeMapLen()
		if err != nil {
			t.Fatal(err)
		}
		if v.mapH == nil || !v.mapH(b, n) {
			if err := msgpack.NewEncoder(b).EncodeMapLen(n); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 * n {
			v.reencode(t, b, d)
		}
	default:
		raw()
	}
}

func testBatches() map[string]*Batch {
	return map[string]*Batch{"sample": sampleBatch(), "bench": benchBatch(), "collector": collectorBatch()}
}

// TestUnmarshalMatchesReference decodes batches as every writer of
// version 1 could have written them and checks the result against the
// released decoder's, field by field.
func TestUnmarshalMatchesReference(t *testing.T) {
	for name, batch := range testBatches() {
		data, err := Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name+"/as written", func(t *testing.T) {
			checkSameAsReference(t, data)
			got, err := Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			// A batch without containers comes back with an empty, non-nil
			// Containers, as it always has.
			if diff := cmp.Diff(batch, got, addrCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
		for _, v := range variants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				var b bytes.Buffer
				v.reencode(t, &b, msgpack.NewDecoder(bytes.NewReader(data)))
				// Only the sample batch has maps for the ext variant to change.
				if bytes.Equal(b.Bytes(), data) && (name == "sample" || v.mapH == nil) {
					t.Fatalf("variant wrote the batch unchanged")
				}
				checkSameAsReference(t, b.Bytes())
			})
		}
	}
}

// TestUnmarshalPrefixesMatchReference cuts batches (and their variants) at
// every byte: each cut must fail the same way under both decoders.
func TestUnmarshalPrefixesMatchReference(t *testing.T) {
	data, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"as written": data}
	for _, v := range variants {
		var b bytes.Buffer
		v.reencode(t, &b, msgpack.NewDecoder(bytes.NewReader(data)))
		inputs[v.name] = b.Bytes()
	}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			in := inputs[name]
			for n := range len(in) {
				t.Run(fmt.Sprint(n), func(t *testing.T) {
					checkSameAsReference(t, in[:n])
					if _, err := Unmarshal(in[:n]); !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
						t.Fatalf("Unmarshal of %d of %d bytes: error = %v, want truncated or malformed", n, len(in), err)
					}
				})
			}
		})
	}
}

// TestUnmarshalCorruptMatchesReference sets each byte of a batch to
// values that change its meaning (codes of every kind) and compares.
func TestUnmarshalCorruptMatchesReference(t *testing.T) {
	data, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	for k := range data {
		for _, c := range []byte{0x00, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, mpNil, 0xc1, mpTrue, mpBin32, mpExt32, mpDouble, mpUint64, mpInt32, mpFixExt16, mpStr32, mpArray32, mpMap32, 0xff} {
			in := bytes.Clone(data)
			in[k] = c
			checkSameAsReference(t, in)
		}
	}
}

// TestUnmarshalDoesNotAlias checks that the batch holds no reference to
// the caller's buffer, which a consumer may reuse for the next message.
func TestUnmarshalDoesNotAlias(t *testing.T) {
	data, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for k := range data {
		data[k] = 'X'
	}
	if diff := cmp.Diff(sampleBatch(), got, addrCmp); diff != "" {
		t.Errorf("batch changed with the buffer it came from (-want +got):\n%s", diff)
	}
}

// TestUnmarshalSlicesDoNotOverlap checks that appending to one decoded
// slice, carved from a shared slab, cannot write over the next one.
func TestUnmarshalSlicesDoNotOverlap(t *testing.T) {
	data, err := Marshal(collectorBatch())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	want := collectorBatch()
	for k := range got.Events {
		_ = append(got.Events[k].Args, IntArg(-1))
	}
	for k := range got.Procs {
		_ = append(got.Procs[k].Args, "clobbered")
		_ = append(got.Procs[k].Env, "clobbered")
		_ = append(got.Procs[k].Ancestors, Ancestor{Comm: "clobbered"})
		for j := range got.Procs[k].Ancestors {
			_ = append(got.Procs[k].Ancestors[j].Args, "clobbered")
		}
	}
	if diff := cmp.Diff(want, got, addrCmp, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("append to a decoded slice changed another (-want +got):\n%s", diff)
	}
}

// TestBatchDecodeMsgpack checks the msgpack.CustomDecoder path, used when
// a Batch is decoded as part of a larger msgpack value.
func TestBatchDecodeMsgpack(t *testing.T) {
	data, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"whole", data, nil},
		{"truncated", data[:len(data)-3], ErrTruncated},
		{"unknown code", []byte{0xc1}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Batch
			err := msgpack.Unmarshal(tt.data, &got)
			if !errors.Is(err, tt.want) {
				t.Fatalf("msgpack.Unmarshal error = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(sampleBatch(), &got, addrCmp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzUnmarshalMatchesReference checks that, on any input, Unmarshal and
// the released decoder give the same batch or fail the same way.
func FuzzUnmarshalMatchesReference(f *testing.F) {
	for _, batch := range []*Batch{sampleBatch(), benchBatch()} {
		data, _ := Marshal(batch)
		f.Add(data)
		for _, v := range variants[:4] {
			var b bytes.Buffer
			v.reencode(f, &b, msgpack.NewDecoder(bytes.NewReader(data)))
			f.Add(b.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsReference(t, data)
	})
}

// TestUnmarshalKeysOwnMemory checks which strings share the message copy:
// the long-lived keys must not (a cache of container ids would hold every
// batch), the rest must (that is what saves an allocation per string).
func TestUnmarshalKeysOwnMemory(t *testing.T) {
	data, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	rd := &r{msg: string(data), obj: "batch", idx: -1}
	var b Batch
	if err := b.decode(rd); err != nil {
		t.Fatal(err)
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(rd.msg)))
	inMsg := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= start && p < start+uintptr(len(rd.msg))
	}
	p := &b.Procs[0]
	tests := []struct {
		name   string
		s      string
		shared bool
	}{
		{"Batch.Node", b.Node, false},
		{"Batch.BootID", b.BootID, false},
		{"Process.Cgroup", p.Cgroup, false},
		{"Process.ContainerID", p.ContainerID, false},
		{"Container.ID", b.Containers[0].ID, false},
		{"Process.Comm", p.Comm, true},
		{"Process.Args[0]", p.Args[0], true},
		{"FD.Name", b.Events[0].FD.Name, true},
		{"Arg.Resolved", b.Events[0].Args[1].Resolved, true},
	}
	for _, tt := range tests {
		if tt.s == "" || tt.s == HostContainerID {
			continue // no memory to share
		}
		if got := inMsg(tt.s); got != tt.shared {
			t.Errorf("%s %q in the message copy = %v, want %v", tt.name, tt.s, got, tt.shared)
		}
	}
}

// TestUnmarshalAllocs pins the allocation count of a realistic batch: a
// handful of slabs, not one per string or per event (the first decoder
// made 4,326).
func TestUnmarshalAllocs(t *testing.T) {
	data, err := Marshal(collectorBatch())
	if err != nil {
		t.Fatal(err)
	}
	const limit = 24
	if n := testing.AllocsPerRun(20, func() {
		if _, err := Unmarshal(data); err != nil {
			t.Fatal(err)
		}
	}); n > limit {
		t.Errorf("Unmarshal of a 512-event batch made %v allocations, want at most %d", n, limit)
	}
}
