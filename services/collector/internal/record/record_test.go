package record

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample() *Record {
	r := &Record{Header: Header{Kind: KindSysExit, Nr: 257, Ts: 12345, Ret: 3,
		Args: [6]uint64{1<<64 - 100, 0x7fff0000, 0, 0, 0, 0}, CPU: 1, Pid: 42, Tid: 43, Context: Context{Ppid: 1,
			Uid: 1000, Gid: 1000, Euid: 0, Egid: 0, LoginUID: 4294967295, Vpid: 42, Vtid: 43,
			Sid: 40, Pgid: 41, Vpgid: 41, TTY: 34816, CapEff: 0x1ff, CapPrm: 0x1ff, CapInh: 1,
			CgroupID: 1, MemcgID: 99, NSInum: [7]uint32{1, 2, 3, 4, 5, 6, 7},
			NSID: [7]uint64{11, 12, 13, 14, 15, 16, 17}}}}
	copy(r.Comm[:], "cat")
	r.Items = []Item{
		{Type: ItemStr, Data: []byte("/etc/shadow")},
		{Type: ItemFile, Data: AppendFile(nil, File{Ino: 7, Dev: 8, FMode: FModeCreated})},
		{Type: ItemSock, Flags: FlagTrunc, Data: AppendSock(nil, Sock{Family: 2, LPort: 1, RPort: 2,
			LAddr: netip.MustParseAddr("127.0.0.1"), RAddr: netip.MustParseAddr("10.1.2.3")})},
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	b := Encode(nil, want)
	// the ring pads records to 8 bytes
	b = append(b, 0, 0, 0, 0)
	var got Record
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	want.Size = uint32(len(b) - 4)
	want.NItems = 3
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got.CommString() != "cat" {
		t.Errorf("comm %q", got.CommString())
	}
	f, err := ParseFile(got.Items[1].Data)
	if err != nil || f.Ino != 7 || f.FMode != FModeCreated {
		t.Errorf("file %+v %v", f, err)
	}
	s, err := ParseSock(got.Items[2].Data)
	if err != nil || s.RAddr != netip.MustParseAddr("10.1.2.3") || s.RPort != 2 {
		t.Errorf("sock %+v %v", s, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Encode(nil, sample())
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", good[:HeaderSize-1], ErrShort},
		{"cut item", good[:len(good)-1], ErrSize},
		{"cut context", func() []byte {
			b := append([]byte(nil), good[:HeaderSize+ContextSize-1]...)
			b[4] = byte(len(b)) // size 279 fits in the low byte
			return b
		}(), ErrSize},
		{"too many items", func() []byte {
			b := append([]byte(nil), good...)
			b[84] = 9
			return b
		}(), ErrItem},
		{"trailing bytes", func() []byte {
			b := append([]byte(nil), good...)
			b[84] = 1
			return b
		}(), ErrSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Decode(tt.b, &r); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSplitNul(t *testing.T) {
	got := SplitNul([]byte("cat\x00/etc/shadow\x00"))
	if diff := cmp.Diff([]string{"cat", "/etc/shadow"}, got); diff != "" {
		t.Error(diff)
	}
	if got := SplitNul(nil); got != nil {
		t.Errorf("%q", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, sample()))
	f.Add(Encode(nil, &Record{Header: Header{Kind: KindExec}}))
	folded := sample()
	folded.Enter = Enter{Present: true, Ts: 1, Items: []Item{{Type: ItemStr, Data: []byte("/etc/shadow")}}}
	f.Add(Encode(nil, folded))
	shared := sample()
	shared.Enter = Enter{Present: true, Ts: 1, Items: []Item{{Type: ItemStr, Data: []byte("/etc/shadow")}}}
	shared.Items = append([]Item{shared.Enter.Items[0]}, shared.Items...)
	shared.PathFromEnter = true
	f.Add(Encode(nil, shared))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if err := Decode(b, &r); err != nil {
			return
		}
		// what decodes must re-encode to the same bytes (up to Size)
		again := Encode(nil, &r)
		if string(again) != string(normalize(b[:r.Size], r.Partial)) {
			t.Fatalf("re-encoded record differs")
		}
		for _, it := range append(r.Items, r.Enter.Items...) {
			switch it.Type {
			case ItemSock:
				ParseSock(it.Data)
			case ItemFile:
				ParseFile(it.Data)
			case ItemFork:
				ParseFork(it.Data)
			case ItemExit:
				ParseExit(it.Data)
			case ItemArgv, ItemEnv:
				SplitNul(it.Data)
			}
		}
	})
}

// normalize clears what Decode ignores and Encode writes as 0: unknown
// header flags and the context block's padding word.
func normalize(b []byte, partial bool) []byte {
	c := append([]byte(nil), b...)
	c[86] &= flagContext | flagEnter | flagPathEnter
	c[87] = 0
	if !partial {
		copy(c[HeaderSize+116:HeaderSize+120], []byte{0, 0, 0, 0})
	}
	return c
}

func TestPartial(t *testing.T) {
	full := sample()
	full.Items = nil
	part := &Record{Header: Header{Kind: KindSysExit, Nr: 3, Pid: 42, Tid: 43, Partial: true}}
	b := Encode(nil, part)
	if len(b) != HeaderSize {
		t.Fatalf("partial record of %d bytes, want %d", len(b), HeaderSize)
	}
	// A partial record decoded into a reused one must not keep the
	// previous record's context.
	var got Record
	if err := Decode(Encode(nil, full), &got); err != nil {
		t.Fatal(err)
	}
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	want := Header{Kind: KindSysExit, Nr: 3, Size: HeaderSize, Pid: 42, Tid: 43, Partial: true}
	if diff := cmp.Diff(want, got.Header); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestEnterBlock: an exit record with its enter event folded in (RF_ENTER)
// decodes into both, and the enter becomes a record of its own with the
// exit's context and thread but its own time, cpu, args and items.
func TestEnterBlock(t *testing.T) {
	exit := sample()
	exit.Enter = Enter{Present: true, Ts: 12000, CPU: 0, Args: [4]uint64{1<<64 - 100, 0x7fff0000, 0x80000, 0},
		Items: []Item{{Type: ItemStr, Data: []byte("/etc/shadow")}}}
	b := Encode(nil, exit)
	var got Record
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	exit.Size, exit.NItems = uint32(len(b)), 3
	if diff := cmp.Diff(exit, &got); diff != "" {
		t.Errorf("exit (-want +got)\n%s", diff)
	}
	var enter Record
	if !got.EnterRecord(&enter) {
		t.Fatal("no enter record")
	}
	want := Record{Header: exit.Header, Items: exit.Enter.Items}
	want.Kind, want.Ts, want.CPU, want.Ret, want.NItems = KindSysEnter, 12000, 0, 0, 1
	want.Args = [6]uint64{1<<64 - 100, 0x7fff0000, 0x80000}
	if diff := cmp.Diff(&want, &enter); diff != "" {
		t.Errorf("enter (-want +got)\n%s", diff)
	}
	// a record without the block yields none, and reusing got clears it
	if err := Decode(Encode(nil, sample()), &got); err != nil {
		t.Fatal(err)
	}
	if got.EnterRecord(&enter) {
		t.Error("enter record from a record without the block")
	}
	// a block claiming more than the record holds is an error, not a panic
	bad := Encode(nil, exit)
	bad[HeaderSize+ContextSize+46] = 0xff
	if err := Decode(bad, &got); !errors.Is(err, ErrSize) {
		t.Errorf("oversized enter block: %v", err)
	}
}

// TestNext splits a sample of records padded to 8 bytes, as the probe's
// batches are, and rejects a size that runs past the sample.
func TestNext(t *testing.T) {
	a := Encode(nil, sample())
	b := Encode(nil, &Record{Header: Header{Kind: KindExec, Pid: 7}})
	pad := func(r []byte) []byte { return append(r, make([]byte, (8-len(r)%8)%8)...) }
	if len(a)%8 == 0 {
		t.Fatalf("the sample record is %d bytes: pick one that needs padding", len(a))
	}
	batch := append(pad(append([]byte(nil), a...)), b...) // the last record is not padded
	var got []Record
	for rest := batch; len(rest) > 0; {
		rec, next, err := Next(rest)
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		if err := Decode(rec, &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
		rest = next
	}
	if len(got) != 2 || got[0].Pid != sample().Pid || got[1].Kind != KindExec || got[1].Pid != 7 {
		t.Fatalf("got %d records: %+v", len(got), got)
	}
	bad := append([]byte(nil), batch...)
	binary.LittleEndian.PutUint32(bad[4:], uint32(len(bad)+1))
	if _, _, err := Next(bad); !errors.Is(err, ErrSize) {
		t.Errorf("size past the sample: %v, want ErrSize", err)
	}
	if _, _, err := Next(batch[:HeaderSize-1]); !errors.Is(err, ErrShort) {
		t.Errorf("short sample: %v, want ErrShort", err)
	}
}

// TestPathFromEnter: an exit whose path is its folded enter's first item
// (RF_PATH_ENTER) decodes with that item first, and encodes without it.
func TestPathFromEnter(t *testing.T) {
	r := sample()
	path := Item{Type: ItemStr, Data: []byte("/etc/shadow")}
	r.Enter = Enter{Present: true, Ts: 1, Items: []Item{path}}
	r.Items = append([]Item{path}, r.Items...)
	r.PathFromEnter = true
	b := Encode(nil, r)
	if len(b) != len(Encode(nil, &Record{Header: r.Header, Enter: r.Enter, Items: r.Items[1:]})) {
		t.Fatal("the shared path was encoded twice")
	}
	var got Record
	got.Items = make([]Item, 0, 1) // room for one item only: insertion must grow it
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Items, got.Items); diff != "" || !got.PathFromEnter {
		t.Fatalf("items (-want +got):\n%s", diff)
	}
	// the flag without an enter block is malformed
	bad := Encode(nil, sample())
	bad[86] |= flagPathEnter
	if err := Decode(bad, &got); !errors.Is(err, ErrItem) {
		t.Errorf("path from a missing enter block: %v, want ErrItem", err)
	}
}
