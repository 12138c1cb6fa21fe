// Package record decodes the raw records the probe writes to the ring
// buffer (layout in bpf/record.h) and encodes synthetic ones for tests.
//
// [Decode] never panics on malformed input and does not allocate once the
// item slice of the destination has grown: item data alias the input.
package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is the record kind (enum rec_kind).
type Kind uint16

// Record kinds.
const (
	KindSysExit  Kind = 1
	KindSysEnter Kind = 2
	KindExec     Kind = 3
	KindFork     Kind = 4
	KindExit     Kind = 5
	// KindThreadExit is a thread (not the last of its process) exiting
	// after its context was sent: it makes no event, user space only
	// forgets the thread's context.
	KindThreadExit Kind = 6
)

// ItemType is the type of one item (enum item_type).
type ItemType uint8

// Item types.
const (
	ItemStr      ItemType = 1
	ItemSockaddr ItemType = 2
	ItemSock     ItemType = 3
	ItemFile     ItemType = 4
	ItemBytes    ItemType = 5
	ItemArgv     ItemType = 6
	ItemEnv      ItemType = 7
	ItemCgroup   ItemType = 8
	ItemFork     ItemType = 9
	ItemExit     ItemType = 10
	ItemUnixPath ItemType = 11
	ItemExe      ItemType = 12
)

// Item flags.
const (
	FlagFault = 1 // the kernel could not read the memory
	FlagTrunc = 2 // cut at the item limit
)

// Namespace slots of [Header.NSInum] and [Header.NSID].
const (
	NSPid = iota
	NSMnt
	NSNet
	NSUser
	NSUTS
	NSIPC
	NSCgroup
	NSCount
)

// HeaderSize is sizeof(struct rec_hdr).
const HeaderSize = 88

// ContextSize is sizeof(struct rec_ctx), the process context block.
const ContextSize = 192

// flagContext is RF_CTX: a context block follows the header.
const flagContext = 1

// flagEnter is RF_ENTER: an enter block follows the context.
const flagEnter = 2

// flagPathEnter is RF_PATH_ENTER: the record's first item (the path) is
// the enter block's first item and is not repeated.
const flagPathEnter = 4

// EnterSize is sizeof(struct rec_enter), the folded enter block's header.
const EnterSize = 48

// ItemHeaderSize is the size of an item's type, flags and length.
const ItemHeaderSize = 4

// Errors wrapped by [Decode].
var (
	ErrShort = errors.New("record too short")
	ErrSize  = errors.New("record size mismatch")
	ErrItem  = errors.New("bad item")
)

// Header is struct rec_hdr with the fields of struct rec_ctx, the process
// context, which the probe sends only when it may have changed.
type Header struct {
	Kind   Kind
	Nr     uint16
	Size   uint32
	Ts     uint64 // boot-time ns
	Ret    int64
	Args   [6]uint64
	CPU    uint32
	Pid    uint32
	Tid    uint32
	NItems uint32
	// Partial is set when Context is not known: the record carried no
	// context block (the probe omits it while the thread's context is
	// unchanged; Decode then zeroes Context) and nothing filled it in
	// since ([Contexts.Complete]). [Encode] writes the block unless
	// Partial.
	Partial bool
	Context
}

// Context is struct rec_ctx: the process context of a record's thread.
type Context struct {
	Ppid     uint32
	Uid      uint32
	Gid      uint32
	Euid     uint32
	Egid     uint32
	LoginUID uint32
	Vpid     uint32
	Vtid     uint32
	Sid      uint32
	Pgid     uint32
	Vpgid    uint32
	TTY      uint32
	CapEff   uint64
	CapPrm   uint64
	CapInh   uint64
	CgroupID uint64
	MemcgID  uint64
	NSInum   [NSCount]uint32
	NSID     [NSCount]uint64
	Comm     [16]byte
}

// CommString returns Comm up to its NUL.
func (h *Context) CommString() string {
	if i := bytes.IndexByte(h.Comm[:], 0); i >= 0 {
		return string(h.Comm[:i])
	}
	return string(h.Comm[:])
}

// Item is one item; Data aliases the decoded buffer.
type Item struct {
	Type  ItemType
	Flags uint8
	Data  []byte
}

// Record is a decoded record.
type Record struct {
	Header
	Items []Item
	// Enter is the syscall's enter event when the probe folded it into
	// this exit record (struct rec_enter).
	Enter Enter
	// PathFromEnter says Items[0] is Enter.Items[0]: the probe read the
	// path whole at entry and did not send it twice (RF_PATH_ENTER).
	// Decode puts it in place; Encode leaves it out again.
	PathFromEnter bool
}

// Enter is a folded enter event: what a KindSysEnter record of the same
// thread and syscall would carry besides the context.
type Enter struct {
	Present bool
	Ts      uint64
	Args    [4]uint64
	CPU     uint32
	Items   []Item
}

// EnterRecord fills dst with r's folded enter event as a record of its
// own (the context is r's: the call changes none of it before it
// returns). It reports false when r carries none. dst's items alias r's.
func (r *Record) EnterRecord(dst *Record) bool {
	if !r.Enter.Present {
		return false
	}
	dst.Header = r.Header
	dst.Kind = KindSysEnter
	dst.Ts = r.Enter.Ts
	dst.Ret = 0
	dst.Args = [6]uint64{}
	copy(dst.Args[:], r.Enter.Args[:])
	dst.CPU = r.Enter.CPU
	dst.NItems = uint32(len(r.Enter.Items))
	dst.Items = append(dst.Items[:0], r.Enter.Items...)
	dst.Enter = Enter{}
	dst.PathFromEnter = false
	return true
}

// Next splits the first record off sample, a ring buffer sample: the
// probe writes a CPU's records back to back, each padded to 8 bytes. It
// returns the record's bytes (for [Decode]) and the rest of the sample,
// empty after the last record. A header whose size does not fit the
// sample is an error wrapping [ErrShort] or [ErrSize]: nothing after it
// can be found.
func Next(sample []byte) (rec, rest []byte, err error) {
	if len(sample) < HeaderSize {
		return nil, nil, fmt.Errorf("%d bytes: %w", len(sample), ErrShort)
	}
	size := int(binary.LittleEndian.Uint32(sample[4:]))
	if size < HeaderSize || size > len(sample) {
		return nil, nil, fmt.Errorf("header says %d bytes, have %d: %w", size, len(sample), ErrSize)
	}
	return sample[:size], sample[min((size+7)&^7, len(sample)):], nil
}

// Decode parses b into r, reusing r.Items. Item data alias b, so b must
// not be reused while r is in use. A record without a context block
// leaves the context fields of r as they were and sets Partial (see
// [Contexts]). Returns an error wrapping [ErrShort], [ErrSize] or
// [ErrItem] for malformed input.
func Decode(b []byte, r *Record) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%d bytes: %w", len(b), ErrShort)
	}
	le := binary.LittleEndian
	h := &r.Header
	h.Kind = Kind(le.Uint16(b[0:]))
	h.Nr = le.Uint16(b[2:])
	h.Size = le.Uint32(b[4:])
	h.Ts = le.Uint64(b[8:])
	h.Ret = int64(le.Uint64(b[16:]))
	for i := range h.Args {
		h.Args[i] = le.Uint64(b[24+8*i:])
	}
	h.CPU = le.Uint32(b[72:])
	h.Pid = le.Uint32(b[76:])
	h.Tid = le.Uint32(b[80:])
	h.NItems = uint32(le.Uint16(b[84:]))
	flags := le.Uint16(b[86:])

	if h.Size < HeaderSize || int(h.Size) > len(b) {
		return fmt.Errorf("header says %d bytes, have %d: %w", h.Size, len(b), ErrSize)
	}
	// The ring pads records to 8 bytes; trust the header's size.
	b = b[HeaderSize:h.Size]
	h.Partial = flags&flagContext == 0
	if h.Partial {
		h.Context = Context{}
	} else {
		if len(b) < ContextSize {
			return fmt.Errorf("context block: %d bytes, need %d: %w", len(b), ContextSize, ErrSize)
		}
		decodeContext(b, h)
		b = b[ContextSize:]
	}
	e := &r.Enter
	e.Present = flags&flagEnter != 0
	e.Items = e.Items[:0]
	if e.Present {
		if len(b) < EnterSize {
			return fmt.Errorf("enter block: %d bytes, need %d: %w", len(b), EnterSize, ErrSize)
		}
		e.Ts = le.Uint64(b[0:])
		for i := range e.Args {
			e.Args[i] = le.Uint64(b[8+8*i:])
		}
		e.CPU = le.Uint32(b[40:])
		n := uint32(le.Uint16(b[44:]))
		size := int(le.Uint16(b[46:]))
		if size < EnterSize || size > len(b) {
			return fmt.Errorf("enter block says %d bytes, have %d: %w", size, len(b), ErrSize)
		}
		var err error
		if e.Items, err = decodeItems(b[EnterSize:size], n, e.Items); err != nil {
			return fmt.Errorf("enter block: %w", err)
		}
		b = b[size:]
	}
	var err error
	if r.Items, err = decodeItems(b, h.NItems, r.Items[:0]); err != nil {
		return err
	}
	r.PathFromEnter = flags&flagPathEnter != 0
	if r.PathFromEnter {
		if len(e.Items) == 0 {
			return fmt.Errorf("path from an enter block with no items: %w", ErrItem)
		}
		r.Items = append(r.Items, Item{})
		copy(r.Items[1:], r.Items)
		r.Items[0] = e.Items[0]
	}
	return nil
}

// decodeItems appends the n items that make up all of b to items.
func decodeItems(b []byte, n uint32, items []Item) ([]Item, error) {
	le := binary.LittleEndian
	for i := uint32(0); i < n; i++ {
		if len(b) < ItemHeaderSize {
			return items, fmt.Errorf("item %d: header: %w", i, ErrItem)
		}
		n := int(le.Uint16(b[2:]))
		if len(b) < ItemHeaderSize+n {
			return items, fmt.Errorf("item %d: %d bytes, have %d: %w", i, n, len(b)-ItemHeaderSize, ErrItem)
		}
		items = append(items, Item{Type: ItemType(b[0]), Flags: b[1], Data: b[ItemHeaderSize : ItemHeaderSize+n : ItemHeaderSize+n]})
		b = b[ItemHeaderSize+n:]
	}
	if len(b) != 0 {
		return items, fmt.Errorf("%d bytes after the last item: %w", len(b), ErrSize)
	}
	return items, nil
}

func decodeContext(b []byte, h *Header) {
	le := binary.LittleEndian
	u32 := [...]*uint32{&h.Ppid, &h.Uid, &h.Gid, &h.Euid, &h.Egid,
		&h.LoginUID, &h.Vpid, &h.Vtid, &h.Sid, &h.Pgid, &h.Vpgid, &h.TTY}
	for i, p := range u32 {
		*p = le.Uint32(b[4*i:])
	}
	h.CapEff = le.Uint64(b[48:])
	h.CapPrm = le.Uint64(b[56:])
	h.CapInh = le.Uint64(b[64:])
	h.CgroupID = le.Uint64(b[72:])
	h.MemcgID = le.Uint64(b[80:])
	for i := range h.NSInum {
		h.NSInum[i] = le.Uint32(b[88+4*i:])
	}
	for i := range h.NSID {
		h.NSID[i] = le.Uint64(b[120+8*i:])
	}
	copy(h.Comm[:], b[176:192])
}

// Encode appends the wire form of r to dst, setting Size and NItems from
// the items; the context block is written unless r.Partial. Used for
// synthetic records in tests.
func Encode(dst []byte, r *Record) []byte {
	h := r.Header
	items := r.Items
	shared := r.PathFromEnter && r.Enter.Present && len(items) > 0
	if shared {
		items = items[1:]
	}
	h.NItems = uint32(len(items))
	size := HeaderSize
	if !h.Partial {
		size += ContextSize
	}
	for _, it := range items {
		size += ItemHeaderSize + len(it.Data)
	}
	if r.Enter.Present {
		size += EnterSize
		for _, it := range r.Enter.Items {
			size += ItemHeaderSize + len(it.Data)
		}
	}
	h.Size = uint32(size)
	le := binary.LittleEndian
	dst = le.AppendUint16(dst, uint16(h.Kind))
	dst = le.AppendUint16(dst, h.Nr)
	dst = le.AppendUint32(dst, h.Size)
	dst = le.AppendUint64(dst, h.Ts)
	dst = le.AppendUint64(dst, uint64(h.Ret))
	for _, a := range h.Args {
		dst = le.AppendUint64(dst, a)
	}
	for _, v := range []uint32{h.CPU, h.Pid, h.Tid} {
		dst = le.AppendUint32(dst, v)
	}
	dst = le.AppendUint16(dst, uint16(h.NItems))
	var flags uint16
	if !h.Partial {
		flags |= flagContext
	}
	if r.Enter.Present {
		flags |= flagEnter
	}
	if shared {
		flags |= flagPathEnter
	}
	dst = le.AppendUint16(dst, flags)
	if !h.Partial {
		dst = appendContext(dst, &h)
	}
	if e := &r.Enter; e.Present {
		size := EnterSize
		for _, it := range e.Items {
			size += ItemHeaderSize + len(it.Data)
		}
		dst = le.AppendUint64(dst, e.Ts)
		for _, a := range e.Args {
			dst = le.AppendUint64(dst, a)
		}
		dst = le.AppendUint32(dst, e.CPU)
		dst = le.AppendUint16(dst, uint16(len(e.Items)))
		dst = le.AppendUint16(dst, uint16(size))
		dst = appendItems(dst, e.Items)
	}
	return appendItems(dst, items)
}

func appendItems(dst []byte, items []Item) []byte {
	for _, it := range items {
		dst = append(dst, byte(it.Type), it.Flags)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(it.Data)))
		dst = append(dst, it.Data...)
	}
	return dst
}

func appendContext(dst []byte, h *Header) []byte {
	le := binary.LittleEndian
	for _, v := range []uint32{h.Ppid, h.Uid, h.Gid, h.Euid, h.Egid,
		h.LoginUID, h.Vpid, h.Vtid, h.Sid, h.Pgid, h.Vpgid, h.TTY} {
		dst = le.AppendUint32(dst, v)
	}
	for _, v := range []uint64{h.CapEff, h.CapPrm, h.CapInh, h.CgroupID, h.MemcgID} {
		dst = le.AppendUint64(dst, v)
	}
	for _, v := range h.NSInum {
		dst = le.AppendUint32(dst, v)
	}
	dst = le.AppendUint32(dst, 0)
	for _, v := range h.NSID {
		dst = le.AppendUint64(dst, v)
	}
	return append(dst, h.Comm[:]...)
}
