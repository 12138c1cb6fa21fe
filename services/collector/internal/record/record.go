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
const HeaderSize = 280

// ItemHeaderSize is the size of an item's type, flags and length.
const ItemHeaderSize = 4

// Errors wrapped by [Decode].
var (
	ErrShort = errors.New("record too short")
	ErrSize  = errors.New("record size mismatch")
	ErrItem  = errors.New("bad item")
)

// Header is struct rec_hdr.
type Header struct {
	Kind     Kind
	Nr       uint16
	Size     uint32
	Ts       uint64 // boot-time ns
	Ret      int64
	Args     [6]uint64
	CPU      uint32
	Pid      uint32
	Tid      uint32
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
	NItems   uint32
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
func (h *Header) CommString() string {
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
}

// Decode parses b into r, reusing r.Items. Item data alias b, so b must
// not be reused while r is in use. Returns an error wrapping [ErrShort],
// [ErrSize] or [ErrItem] for malformed input.
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
	u32 := []*uint32{&h.CPU, &h.Pid, &h.Tid, &h.Ppid, &h.Uid, &h.Gid, &h.Euid, &h.Egid,
		&h.LoginUID, &h.Vpid, &h.Vtid, &h.Sid, &h.Pgid, &h.Vpgid, &h.TTY, &h.NItems}
	for i, p := range u32 {
		*p = le.Uint32(b[72+4*i:])
	}
	h.CapEff = le.Uint64(b[136:])
	h.CapPrm = le.Uint64(b[144:])
	h.CapInh = le.Uint64(b[152:])
	h.CgroupID = le.Uint64(b[160:])
	h.MemcgID = le.Uint64(b[168:])
	for i := range h.NSInum {
		h.NSInum[i] = le.Uint32(b[176+4*i:])
	}
	for i := range h.NSID {
		h.NSID[i] = le.Uint64(b[208+8*i:])
	}
	copy(h.Comm[:], b[264:280])

	if h.Size < HeaderSize || int(h.Size) > len(b) {
		return fmt.Errorf("header says %d bytes, have %d: %w", h.Size, len(b), ErrSize)
	}
	// The ring pads records to 8 bytes; trust the header's size.
	b = b[HeaderSize:h.Size]
	r.Items = r.Items[:0]
	for i := uint32(0); i < h.NItems; i++ {
		if len(b) < ItemHeaderSize {
			return fmt.Errorf("item %d: header: %w", i, ErrItem)
		}
		n := int(le.Uint16(b[2:]))
		if len(b) < ItemHeaderSize+n {
			return fmt.Errorf("item %d: %d bytes, have %d: %w", i, n, len(b)-ItemHeaderSize, ErrItem)
		}
		r.Items = append(r.Items, Item{Type: ItemType(b[0]), Flags: b[1], Data: b[ItemHeaderSize : ItemHeaderSize+n : ItemHeaderSize+n]})
		b = b[ItemHeaderSize+n:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%d bytes after the last item: %w", len(b), ErrSize)
	}
	return nil
}

// Encode appends the wire form of r to dst, setting Size and NItems from
// the items. Used for synthetic records in tests.
func Encode(dst []byte, r *Record) []byte {
	h := r.Header
	h.NItems = uint32(len(r.Items))
	size := HeaderSize
	for _, it := range r.Items {
		size += ItemHeaderSize + len(it.Data)
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
	for _, v := range []uint32{h.CPU, h.Pid, h.Tid, h.Ppid, h.Uid, h.Gid, h.Euid, h.Egid,
		h.LoginUID, h.Vpid, h.Vtid, h.Sid, h.Pgid, h.Vpgid, h.TTY, h.NItems} {
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
	dst = append(dst, h.Comm[:]...)
	for _, it := range r.Items {
		dst = append(dst, byte(it.Type), it.Flags)
		dst = le.AppendUint16(dst, uint16(len(it.Data)))
		dst = append(dst, it.Data...)
	}
	return dst
}
