package procfs

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// FD is one entry of /proc/<pid>/fd.
type FD struct {
	Num    int64
	Target string // readlink: a path, "socket:[ino]", "pipe:[ino]", "anon_inode:..."
	Dir    bool   // the target is a directory
	Flags  uint32 // from fdinfo, octal "flags:" line
	Ino    uint64 // inode from fdinfo or the link
}

// FDs lists the open fds of pid.
func (f FS) FDs(pid int64) ([]FD, error) {
	dir := f.path(pid, "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]FD, 0, len(ents))
	for _, e := range ents {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		t, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		fd := FD{Num: n, Target: t}
		if strings.HasPrefix(t, "/") {
			if st, err := os.Stat(dir + "/" + e.Name()); err == nil && st.IsDir() {
				fd.Dir = true
			}
		} else {
			fd.Ino = bracketNum(t)
		}
		if b, err := os.ReadFile(f.path(pid, "fdinfo", e.Name())); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "flags:"); ok {
					x, _ := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
					fd.Flags = uint32(x)
				}
			}
		}
		out = append(out, fd)
	}
	return out, nil
}

// Sock is one socket from /proc/net/{tcp,tcp6,udp,udp6,unix}.
type Sock struct {
	Family uint8 // 1 unix, 2 inet, 10 inet6
	Proto  uint8 // 6 tcp, 17 udp, 0 unix
	Listen bool
	Local  netip.AddrPort
	Remote netip.AddrPort
	Path   string // unix
}

// Socks reads the socket tables of pid's network namespace, keyed by inode.
func (f FS) Socks(pid int64) map[uint64]Sock {
	m := map[uint64]Sock{}
	for _, t := range []struct {
		name   string
		family uint8
		proto  uint8
	}{{"tcp", 2, 6}, {"tcp6", 10, 6}, {"udp", 2, 17}, {"udp6", 10, 17}} {
		fh, err := os.Open(f.path(pid, "net", t.name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 {
				continue
			}
			ino, _ := strconv.ParseUint(fl[9], 10, 64)
			if ino == 0 {
				continue
			}
			s := Sock{Family: t.family, Proto: t.proto, Local: parseHexAddr(fl[1]), Remote: parseHexAddr(fl[2])}
			s.Listen = t.proto == 6 && fl[3] == "0A"
			m[ino] = s
		}
		fh.Close()
	}
	if fh, err := os.Open(f.path(pid, "net", "unix")); err == nil {
		sc := bufio.NewScanner(fh)
		sc.Scan()
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 7 {
				continue
			}
			ino, _ := strconv.ParseUint(fl[6], 10, 64)
			s := Sock{Family: 1}
			if len(fl) >= 8 {
				s.Path = fl[7]
			}
			s.Listen = fl[5] == "01" && fl[3] == "00010000"
			m[ino] = s
		}
		fh.Close()
	}
	return m
}

// parseHexAddr parses "0100007F:1F90" (IPv4) or a 32-digit IPv6 address
// written as four host-order (little-endian) 32-bit words.
func parseHexAddr(s string) netip.AddrPort {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}
	}
	port, _ := strconv.ParseUint(p, 16, 16)
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}
	}
	var ip netip.Addr
	switch len(raw) {
	case 4:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(raw))
		ip = netip.AddrFrom4(b)
	case 16:
		var b [16]byte
		for i := 0; i < 4; i++ {
			binary.BigEndian.PutUint32(b[4*i:], binary.LittleEndian.Uint32(raw[4*i:]))
		}
		ip = netip.AddrFrom16(b).Unmap()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(port))
}
