package schema

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Address families, as the kernel numbers them.
const (
	AFUnix  = 1
	AFInet  = 2
	AFInet6 = 10
)

// Sockaddr is a socket address: IP and port for AF_INET/AF_INET6, a path
// for AF_UNIX. On the wire (PTSockAddr arguments) it is the byte string
// written by [Sockaddr.Bytes]; the zero value is the empty string.
type Sockaddr struct {
	Family uint8
	IP     netip.Addr
	Port   uint16
	Path   string
}

// Tuple is a connection: source and destination as the syscall saw them
// (for connect the local end is the source). PTSockTuple arguments hold
// [Tuple.Bytes].
type Tuple struct {
	Family         uint8
	SrcIP, DstIP   netip.Addr
	SrcPort        uint16
	DstPort        uint16
	SrcPtr, DstPtr uint64 // unix sockets: kernel socket addresses, as Falco prints them
	Path           string // unix sockets
}

// ErrBadSockaddr is returned for a byte string that is not a sockaddr or tuple.
var ErrBadSockaddr = errors.New("bad socket address encoding")

// Bytes encodes s: family byte, then port (2 bytes big endian) and 4 or 16
// address bytes for IP families, or the path for AF_UNIX.
func (s Sockaddr) Bytes() string {
	if s.Family == 0 {
		return ""
	}
	b := []byte{s.Family}
	switch s.Family {
	case AFInet, AFInet6:
		b = binary.BigEndian.AppendUint16(b, s.Port)
		b = append(b, s.IP.AsSlice()...)
	case AFUnix:
		b = append(b, s.Path...)
	}
	return string(b)
}

// ParseSockaddr decodes what [Sockaddr.Bytes] wrote. An empty string is the
// zero Sockaddr.
func ParseSockaddr(s string) (Sockaddr, error) {
	if s == "" {
		return Sockaddr{}, nil
	}
	sa := Sockaddr{Family: s[0]}
	switch sa.Family {
	case AFInet, AFInet6:
		if len(s) < 3 {
			return sa, ErrBadSockaddr
		}
		sa.Port = binary.BigEndian.Uint16([]byte(s[1:3]))
		ip, ok := netip.AddrFromSlice([]byte(s[3:]))
		if !ok {
			return sa, ErrBadSockaddr
		}
		sa.IP = ip
	case AFUnix:
		sa.Path = s[1:]
	}
	return sa, nil
}

// Bytes encodes t: family byte, then for IP families src port, dst port,
// address length byte, src and dst addresses; for AF_UNIX src and dst
// pointers (8 bytes each) and the path.
func (t Tuple) Bytes() string {
	if t.Family == 0 {
		return ""
	}
	b := []byte{t.Family}
	switch t.Family {
	case AFInet, AFInet6:
		b = binary.BigEndian.AppendUint16(b, t.SrcPort)
		b = binary.BigEndian.AppendUint16(b, t.DstPort)
		src, dst := t.SrcIP.AsSlice(), t.DstIP.AsSlice()
		b = append(b, byte(len(src)))
		b = append(b, src...)
		b = append(b, dst...)
	case AFUnix:
		b = binary.BigEndian.AppendUint64(b, t.SrcPtr)
		b = binary.BigEndian.AppendUint64(b, t.DstPtr)
		b = append(b, t.Path...)
	}
	return string(b)
}

// ParseTuple decodes what [Tuple.Bytes] wrote. An empty string is the zero Tuple.
func ParseTuple(s string) (Tuple, error) {
	if s == "" {
		return Tuple{}, nil
	}
	t := Tuple{Family: s[0]}
	b := []byte(s[1:])
	switch t.Family {
	case AFInet, AFInet6:
		if len(b) < 5 {
			return t, ErrBadSockaddr
		}
		t.SrcPort = binary.BigEndian.Uint16(b[0:2])
		t.DstPort = binary.BigEndian.Uint16(b[2:4])
		n := int(b[4])
		if len(b) != 5+2*n {
			return t, ErrBadSockaddr
		}
		var ok1, ok2 bool
		t.SrcIP, ok1 = netip.AddrFromSlice(b[5 : 5+n])
		t.DstIP, ok2 = netip.AddrFromSlice(b[5+n:])
		if n > 0 && (!ok1 || !ok2) {
			return t, ErrBadSockaddr
		}
	case AFUnix:
		if len(b) < 16 {
			return t, ErrBadSockaddr
		}
		t.SrcPtr = binary.BigEndian.Uint64(b[0:8])
		t.DstPtr = binary.BigEndian.Uint64(b[8:16])
		t.Path = string(b[16:])
	}
	return t, nil
}
