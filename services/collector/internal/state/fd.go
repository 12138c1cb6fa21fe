package state

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
)

// Kernel constants the fd logic needs.
const (
	OCloexec   = 0o2000000
	ODirectory = 0o200000
	OCreat     = 0o100
	OTmpfile   = 0o20000000 | ODirectory
	ATFDCWD    = -100

	IPProtoTCP  = 6
	IPProtoUDP  = 17
	IPProtoICMP = 1
	IPProtoRaw  = 255

	SockStream = 1
	SockDgram  = 2
	SockRaw    = 3

	AFNetlink = 16
)

// TypeForTarget maps a /proc/<pid>/fd link target to Falco's typechar.
func TypeForTarget(target string, dir bool) schema.FDType {
	switch {
	case strings.HasPrefix(target, "/memfd:"):
		return 'm'
	case strings.HasPrefix(target, "/"):
		if dir {
			return 'd'
		}
		return 'f'
	case strings.HasPrefix(target, "socket:"):
		return 'o' // refined by the socket tables
	case strings.HasPrefix(target, "pipe:"):
		return 'p'
	}
	t := strings.TrimPrefix(target, "anon_inode:")
	t = strings.Trim(t, "[]")
	switch {
	case t == "eventfd":
		return 'e'
	case t == "eventpoll":
		return 'l'
	case t == "inotify":
		return 'i'
	case t == "timerfd":
		return 't'
	case t == "signalfd":
		return 's'
	case strings.HasPrefix(t, "bpf"):
		return 'b'
	case t == "userfaultfd":
		return 'u'
	case t == "io_uring":
		return 'r'
	case t == "pidfd":
		return 'P'
	}
	return 'o'
}

// FDFromProc builds the fd of a /proc scan entry; socks are the socket
// tables of the process's network namespace.
func FDFromProc(e procfs.FD, socks map[uint64]procfs.Sock) *schema.FD {
	fd := &schema.FD{Num: e.Num, Type: TypeForTarget(e.Target, e.Dir), Flags: e.Flags, Ino: e.Ino}
	switch fd.Type {
	case 'f', 'd', 'm':
		fd.Name = strings.TrimSuffix(e.Target, " (deleted)")
		return fd
	}
	s, ok := socks[e.Ino]
	if !ok {
		return fd
	}
	fd.Family = s.Family
	fd.L4 = s.Proto
	switch s.Family {
	case schema.AFUnix:
		fd.Type = 'u'
		fd.Name = s.Path
	case schema.AFInet, schema.AFInet6:
		fd.Type = '4'
		if s.Family == schema.AFInet6 && !s.Local.Addr().Unmap().Is4() {
			fd.Type = '6'
		}
		switch {
		case s.Listen:
			fd.Role = schema.RoleServer
			fd.ServerIP, fd.ServerPort = s.Local.Addr(), s.Local.Port()
		case s.Remote.Port() != 0:
			// Without history, the end with the lower port is taken to be
			// the server, as a listener's port usually is.
			fd.Role = schema.RoleClient
			fd.ClientIP, fd.ClientPort = s.Local.Addr(), s.Local.Port()
			fd.ServerIP, fd.ServerPort = s.Remote.Addr(), s.Remote.Port()
			if s.Local.Port() < s.Remote.Port() {
				fd.Role = schema.RoleServer
				fd.ClientIP, fd.ClientPort, fd.ServerIP, fd.ServerPort = fd.ServerIP, fd.ServerPort, fd.ClientIP, fd.ClientPort
			}
			fd.Connected = true
		}
		fd.Name = SockName(fd)
	}
	return fd
}

// L4For returns the IPPROTO of a socket of the given type and protocol.
func L4For(sockType, proto uint16) uint8 {
	switch {
	case proto != 0:
		return uint8(proto)
	case sockType&0xf == SockStream:
		return IPProtoTCP
	case sockType&0xf == SockDgram:
		return IPProtoUDP
	case sockType&0xf == SockRaw:
		return IPProtoRaw
	}
	return 0
}

// SockName is Falco's fd.name of an IP socket: "cip:cport->sip:sport" when
// connected, "ip:port" for a listener, "" otherwise.
func SockName(fd *schema.FD) string {
	switch {
	case fd.ClientIP.IsValid() && fd.ServerIP.IsValid():
		return ipPort(fd.ClientIP, fd.ClientPort) + "->" + ipPort(fd.ServerIP, fd.ServerPort)
	case fd.Role == schema.RoleServer && fd.ServerIP.IsValid():
		return ipPort(fd.ServerIP, fd.ServerPort)
	}
	return ""
}

// UnixName is Falco's fd.name of a unix socket.
func UnixName(src, dst uint64, path string) string {
	return fmt.Sprintf("%x->%x %s", src, dst, path)
}

// ipPort prints IPv6 without brackets and v4-mapped addresses as v4, as
// Falco does.
func ipPort(a netip.Addr, port uint16) string {
	return a.Unmap().String() + ":" + fmt.Sprint(port)
}

// TypeForFamily is the typechar of a new socket.
func TypeForFamily(family uint16) schema.FDType {
	switch family {
	case schema.AFInet:
		return '4'
	case schema.AFInet6:
		return '6'
	case schema.AFUnix:
		return 'u'
	case AFNetlink:
		return 'n'
	}
	return 'o'
}

// Join resolves p against dir and normalizes it (".", ".." and "//"
// folded). An absolute p is only cleaned.
func Join(dir, p string) string {
	if p == "" {
		return ""
	}
	if !strings.HasPrefix(p, "/") {
		p = dir + "/" + p
	}
	return path.Clean(p)
}

// RawName removes duplicate slashes, Falco's fd.nameraw.
func RawName(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}
