package record

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Sock is struct item_sock: the kernel socket behind an fd.
type Sock struct {
	Family uint16
	Type   uint16
	Proto  uint16
	LPort  uint16
	RPort  uint16
	State  uint16
	LAddr  netip.Addr
	RAddr  netip.Addr
	Sk     uint64
	Peer   uint64
}

// SockSize is sizeof(struct item_sock): sk sits after 4 bytes of padding.
const SockSize = 64

// ParseSock decodes an [ItemSock] item.
func ParseSock(b []byte) (Sock, error) {
	var s Sock
	if len(b) < SockSize {
		return s, fmt.Errorf("sock item: %d bytes: %w", len(b), ErrItem)
	}
	le := binary.LittleEndian
	s.Family = le.Uint16(b[0:])
	s.Type = le.Uint16(b[2:])
	s.Proto = le.Uint16(b[4:])
	s.LPort = le.Uint16(b[6:])
	s.RPort = le.Uint16(b[8:])
	s.State = le.Uint16(b[10:])
	switch s.Family {
	case 2:
		s.LAddr = netip.AddrFrom4([4]byte(b[12:16]))
		s.RAddr = netip.AddrFrom4([4]byte(b[28:32]))
	case 10:
		s.LAddr = netip.AddrFrom16([16]byte(b[12:28]))
		s.RAddr = netip.AddrFrom16([16]byte(b[28:44]))
	}
	s.Sk = le.Uint64(b[48:])
	s.Peer = le.Uint64(b[56:])
	return s, nil
}

// AppendSock encodes s as an [ItemSock] payload (for tests).
func AppendSock(dst []byte, s Sock) []byte {
	le := binary.LittleEndian
	for _, v := range []uint16{s.Family, s.Type, s.Proto, s.LPort, s.RPort, s.State} {
		dst = le.AppendUint16(dst, v)
	}
	var l, r [16]byte
	if s.LAddr.IsValid() {
		copy(l[:], s.LAddr.AsSlice())
	}
	if s.RAddr.IsValid() {
		copy(r[:], s.RAddr.AsSlice())
	}
	dst = append(dst, l[:]...)
	dst = append(dst, r[:]...)
	dst = append(dst, 0, 0, 0, 0) // _pad
	dst = le.AppendUint64(dst, s.Sk)
	return le.AppendUint64(dst, s.Peer)
}

// File is struct item_file.
type File struct {
	Ino   uint64
	Dev   uint32
	FMode uint32
	IMode uint32
	Nlink uint32
}

// FileSize is sizeof(struct item_file).
const FileSize = 24

// FModeCreated is the kernel's FMODE_CREATED.
const FModeCreated = 0x100000

// ParseFile decodes an [ItemFile] item.
func ParseFile(b []byte) (File, error) {
	if len(b) < FileSize {
		return File{}, fmt.Errorf("file item: %d bytes: %w", len(b), ErrItem)
	}
	le := binary.LittleEndian
	return File{Ino: le.Uint64(b), Dev: le.Uint32(b[8:]), FMode: le.Uint32(b[12:]),
		IMode: le.Uint32(b[16:]), Nlink: le.Uint32(b[20:])}, nil
}

// AppendFile encodes f as an [ItemFile] payload (for tests).
func AppendFile(dst []byte, f File) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, f.Ino)
	for _, v := range []uint32{f.Dev, f.FMode, f.IMode, f.Nlink} {
		dst = le.AppendUint32(dst, v)
	}
	return dst
}

// Fork is struct item_fork.
type Fork struct {
	ChildPid  uint32
	ChildTid  uint32
	ChildVpid uint32
	Flags     uint32
	StartNs   uint64 // boot-time ns
}

// ForkSize is sizeof(struct item_fork).
const ForkSize = 24

// Exe is struct item_exe: the new image's inode times and overlayfs
// layer, sent at exec.
type Exe struct {
	CtimeNs, MtimeNs uint64 // ns since the epoch; 0 unknown
	Flags            uint32 // schema.ExecUpperLayer, schema.ExecLowerLayer
}

// ExeSize is sizeof(struct item_exe).
const ExeSize = 24

// ParseExe decodes an [ItemExe] item.
func ParseExe(b []byte) (Exe, error) {
	if len(b) < ExeSize {
		return Exe{}, fmt.Errorf("exe item: %d bytes: %w", len(b), ErrItem)
	}
	le := binary.LittleEndian
	return Exe{CtimeNs: le.Uint64(b), MtimeNs: le.Uint64(b[8:]), Flags: le.Uint32(b[16:])}, nil
}

// AppendExe encodes x as an [ItemExe] payload (for tests).
func AppendExe(dst []byte, x Exe) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, x.CtimeNs)
	dst = le.AppendUint64(dst, x.MtimeNs)
	dst = le.AppendUint32(dst, x.Flags)
	return le.AppendUint32(dst, 0)
}

// ParseFork decodes an [ItemFork] item.
func ParseFork(b []byte) (Fork, error) {
	if len(b) < ForkSize {
		return Fork{}, fmt.Errorf("fork item: %d bytes: %w", len(b), ErrItem)
	}
	le := binary.LittleEndian
	return Fork{ChildPid: le.Uint32(b), ChildTid: le.Uint32(b[4:]), ChildVpid: le.Uint32(b[8:]),
		Flags: le.Uint32(b[12:]), StartNs: le.Uint64(b[16:])}, nil
}

// AppendFork encodes f as an [ItemFork] payload (for tests).
func AppendFork(dst []byte, f Fork) []byte {
	le := binary.LittleEndian
	for _, v := range []uint32{f.ChildPid, f.ChildTid, f.ChildVpid, f.Flags} {
		dst = le.AppendUint32(dst, v)
	}
	return le.AppendUint64(dst, f.StartNs)
}

// ParseExit decodes an [ItemExit] item: the task's exit_code.
func ParseExit(b []byte) (int32, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("exit item: %d bytes: %w", len(b), ErrItem)
	}
	return int32(binary.LittleEndian.Uint32(b)), nil
}

// SplitNul splits a NUL separated blob (argv, environ), dropping the
// final empty element.
func SplitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		out = append(out, string(b[:i]))
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
