package convert

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/state"
	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// Falco values of fcntl commands that duplicate.
const (
	fDupFD        = 0
	fDupFDCloexec = 1030
	eInProgress   = -115
)

func (c *Converter) exit(rec *record.Record, p *state.Proc, ev *schema.Event) {
	a := rec.Args
	ret := rec.Ret
	switch uint32(rec.Nr) {
	case sysno.Open, sysno.Openat, sysno.Openat2, sysno.Creat:
		c.open(rec, p, ev)
	case sysno.Execve, sysno.Execveat:
		c.execve(rec, p, ev)
	case sysno.Socket:
		ev.Args = c.args(i(a[0]), i(a[1]), i(a[2]), i(sockFlags(a[1])))
		if ret >= 0 {
			fd := &schema.FD{Num: ret, Type: state.TypeForFamily(uint16(a[0])), Family: uint8(a[0]),
				L4: state.L4For(uint16(a[1]), uint16(a[2])), Flags: uint32(sockFlags(a[1]))}
			if fd.Family != schema.AFInet && fd.Family != schema.AFInet6 {
				fd.L4 = 0
			}
			p.FDs[ret] = fd
			ev.FD = fd
		}
	case sysno.Connect:
		fdn := fdNum(a[0])
		fd := c.sockFD(rec, p, fdn, schema.RoleClient, ret == 0 || ret == eInProgress)
		ev.Args = c.args(schema.StrArg(tupleOf(rec, false)), schema.IntArg(fdn), schema.StrArg(sockaddrArg(rec)))
		ev.FD = fd
	case sysno.Listen:
		fdn := fdNum(a[0])
		ev.Args = c.args(schema.IntArg(fdn), i(a[1]))
		ev.FD = c.sockFD(rec, p, fdn, schema.RoleServer, false)
	case sysno.Bind:
		fdn := fdNum(a[0])
		ev.Args = c.args(schema.StrArg(sockaddrArg(rec)), schema.IntArg(fdn))
		ev.FD = c.sockFD(rec, p, fdn, schema.RoleServer, false)
	case sysno.Accept, sysno.Accept4:
		ev.Args = c.args(schema.StrArg(tupleOf(rec, true)), i(0), i(0), i(0))
		if rec.Nr == sysno.Accept4 {
			ev.Args = append(ev.Args, i(sockFlags(a[3])))
		}
		if ret >= 0 {
			ev.FD = c.sockFD(rec, p, ret, schema.RoleServer, true)
		}
	case sysno.Sendto, sysno.Sendmsg, sysno.Recvfrom, sysno.Recvmsg:
		c.sendRecv(rec, p, ev)
	case sysno.Dup, sysno.Dup2, sysno.Dup3:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])))
		if rec.Nr != sysno.Dup {
			ev.Args = append(ev.Args, schema.IntArg(fdNum(a[1])))
		}
		if rec.Nr == sysno.Dup3 {
			ev.Args = append(ev.Args, i(a[2]))
		}
		ev.FD = c.dup(p, fdNum(a[0]), ret, rec.Nr == sysno.Dup3 && a[2]&state.OCloexec != 0)
	case sysno.Fcntl:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), i(a[1]))
		if a[1] == fDupFD || a[1] == fDupFDCloexec {
			ev.FD = c.dup(p, fdNum(a[0]), ret, a[1] == fDupFDCloexec)
		} else {
			ev.FD = p.FDs[fdNum(a[0])]
		}
	case sysno.Close:
		fdn := fdNum(a[0])
		ev.Args = c.args(schema.IntArg(fdn))
		ev.FD = p.FDs[fdn]
		if ret == 0 {
			delete(p.FDs, fdn)
		}
	case sysno.Symlink:
		ev.Args = c.args(schema.StrArg(c.str(rec, 0)), pathArg(p, state.ATFDCWD, c.str(rec, 1)))
	case sysno.Symlinkat:
		ev.Args = c.args(schema.StrArg(c.str(rec, 0)), schema.IntArg(fdNum(a[1])), pathArg(p, fdNum(a[1]), c.str(rec, 1)))
		ev.FD = p.FDs[fdNum(a[1])]
	case sysno.Link, sysno.Rename:
		ev.Args = c.args(pathArg(p, state.ATFDCWD, c.str(rec, 0)), pathArg(p, state.ATFDCWD, c.str(rec, 1)))
	case sysno.Linkat, sysno.Renameat, sysno.Renameat2:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), pathArg(p, fdNum(a[0]), c.str(rec, 0)),
			schema.IntArg(fdNum(a[2])), pathArg(p, fdNum(a[2]), c.str(rec, 1)))
		if rec.Nr != sysno.Renameat {
			ev.Args = append(ev.Args, i(a[4]))
		}
	case sysno.Unlink, sysno.Rmdir:
		ev.Args = c.args(pathArg(p, state.ATFDCWD, c.str(rec, 0)))
	case sysno.Unlinkat:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), pathArg(p, fdNum(a[0]), c.str(rec, 0)), i(a[2]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Mkdir:
		ev.Args = c.args(pathArg(p, state.ATFDCWD, c.str(rec, 0)), i(a[1]))
	case sysno.Mkdirat:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), pathArg(p, fdNum(a[0]), c.str(rec, 0)), i(a[2]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Chmod:
		ev.Args = c.args(pathArg(p, state.ATFDCWD, c.str(rec, 0)), i(a[1]))
	case sysno.Fchmod:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), i(a[1]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Fchmodat, sysno.Fchmodat2:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), pathArg(p, fdNum(a[0]), c.str(rec, 0)), i(a[2]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Ptrace:
		ev.Args = c.args(i(a[2]), i(a[3]), i(a[0]), schema.IntArg(int64(int32(a[1]))))
	case sysno.Setuid, sysno.Setgid:
		ev.Args = c.args(schema.IntArg(int64(int32(a[0]))))
	case sysno.Setreuid, sysno.Setregid:
		ev.Args = c.args(schema.IntArg(int64(int32(a[0]))), schema.IntArg(int64(int32(a[1]))))
	case sysno.Setresuid, sysno.Setresgid:
		ev.Args = c.args(schema.IntArg(int64(int32(a[0]))), schema.IntArg(int64(int32(a[1]))), schema.IntArg(int64(int32(a[2]))))
	case sysno.Setns:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), i(a[1]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Unshare:
		ev.Args = c.args(i(a[0]))
	case sysno.Userfaultfd:
		ev.Args = c.args(i(a[0]))
		if ret >= 0 {
			fd := &schema.FD{Num: ret, Type: 'u', Flags: uint32(a[0])}
			p.FDs[ret] = fd
			ev.FD = fd
		}
	case sysno.Bpf:
		ev.Args = c.args(i(a[0]))
		if ret >= 0 {
			fd := &schema.FD{Num: ret, Type: 'b'}
			p.FDs[ret] = fd
			ev.FD = fd
		}
	case sysno.Init_module:
		ev.Args = c.args(schema.StrArg(""), i(a[1]), schema.StrArg(c.str(rec, 0)))
	case sysno.Finit_module:
		ev.Args = c.args(schema.IntArg(fdNum(a[0])), schema.StrArg(c.str(rec, 0)), i(a[2]))
		ev.FD = p.FDs[fdNum(a[0])]
	case sysno.Chdir:
		path := c.str(rec, 0)
		ev.Args = c.args(schema.StrArg(path))
		if ret == 0 {
			c.setCwd(p, absPath(p, state.ATFDCWD, path))
		}
	case sysno.Fchdir:
		fdn := fdNum(a[0])
		ev.Args = c.args(schema.IntArg(fdn))
		ev.FD = p.FDs[fdn]
		if ret == 0 && ev.FD != nil && ev.FD.Name != "" {
			c.setCwd(p, ev.FD.Name)
		}
	case sysno.Pipe, sysno.Pipe2, sysno.Socketpair:
		var fd1, fd2 int64 = -1, -1
		if it := find(rec, record.ItemBytes, 0); it != nil && len(it.Data) >= 8 && ret == 0 {
			fd1 = int64(int32(binary.LittleEndian.Uint32(it.Data)))
			fd2 = int64(int32(binary.LittleEndian.Uint32(it.Data[4:])))
		}
		typ, flags := schema.FDType('p'), uint64(0)
		switch rec.Nr {
		case sysno.Pipe2:
			flags = a[1]
		case sysno.Socketpair:
			typ, flags = state.TypeForFamily(uint16(a[0])), sockFlags(a[1])
		}
		if fd1 >= 0 {
			p.FDs[fd1] = &schema.FD{Num: fd1, Type: typ, Flags: uint32(flags), Family: familyIf(typ, a[0])}
			p.FDs[fd2] = &schema.FD{Num: fd2, Type: typ, Flags: uint32(flags), Family: familyIf(typ, a[0])}
		}
		ev.Args = c.args(schema.IntArg(fd1), schema.IntArg(fd2))
		switch rec.Nr {
		case sysno.Pipe:
			ev.Args = append(ev.Args, i(0))
		case sysno.Pipe2:
			ev.Args = append(ev.Args, i(0), i(a[1]))
		case sysno.Socketpair:
			ev.Args = append(ev.Args, i(a[0]), i(a[1]), i(a[2]))
		}
	case sysno.Memfd_create:
		name := c.str(rec, 0)
		ev.Args = c.args(schema.StrArg(name), i(a[1]))
		if ret >= 0 {
			fd := &schema.FD{Num: ret, Type: 'm', Name: "memfd:" + name}
			if a[1]&1 != 0 { // MFD_CLOEXEC
				fd.Flags = state.OCloexec
			}
			p.FDs[ret] = fd
			ev.FD = fd
		}
	case sysno.Mount:
		ev.Args = c.args(schema.StrArg(c.str(rec, 0)), pathArg(p, state.ATFDCWD, c.str(rec, 1)),
			schema.StrArg(c.str(rec, 2)), i(a[3]))
	case sysno.Umount2:
		ev.Args = c.args(pathArg(p, state.ATFDCWD, c.str(rec, 0)), i(a[1]))
	}
}

func familyIf(typ schema.FDType, fam uint64) uint8 {
	if typ == 'p' {
		return 0
	}
	return uint8(fam)
}

// sockFlags maps SOCK_NONBLOCK/SOCK_CLOEXEC in a socket type to open flags.
func sockFlags(typ uint64) uint64 {
	return typ & (0o4000 | state.OCloexec)
}

func (c *Converter) setCwd(p *state.Proc, dir string) {
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	if p.Cwd != dir {
		p.Cwd = dir
		p.Gen++
	}
}

func (c *Converter) open(rec *record.Record, p *state.Proc, ev *schema.Event) {
	a := rec.Args
	ret := rec.Ret
	name := c.str(rec, 0)
	var dirfd int64 = state.ATFDCWD
	var flags, mode uint64
	switch uint32(rec.Nr) {
	case sysno.Open:
		flags, mode = a[1], a[2]
	case sysno.Creat:
		flags, mode = 0o1|0o100|0o1000, a[1] // O_WRONLY|O_CREAT|O_TRUNC
	case sysno.Openat:
		dirfd, flags, mode = fdNum(a[0]), a[2], a[3]
	case sysno.Openat2:
		dirfd = fdNum(a[0])
		flags, mode = openHow(rec)
	}
	var file record.File
	if it := find(rec, record.ItemFile, 0); it != nil {
		file, _ = record.ParseFile(it.Data)
	}
	fl := flags
	if file.FMode&record.FModeCreated != 0 {
		fl |= schema.OpenFlagCreated
	}
	pa := pathArg(p, dirfd, name)
	mode = openMode(flags, mode)
	switch uint32(rec.Nr) {
	case sysno.Open:
		ev.Args = c.args(pa, i(fl), i(mode), i(uint64(file.Dev)), i(file.Ino))
	case sysno.Creat:
		var cf uint64
		if file.FMode&record.FModeCreated != 0 {
			cf = schema.OpenFlagCreated
		}
		ev.Args = c.args(pa, i(mode), i(uint64(file.Dev)), i(file.Ino), i(cf))
	case sysno.Openat:
		ev.Args = c.args(schema.IntArg(dirfd), pa, i(fl), i(mode), i(uint64(file.Dev)), i(file.Ino))
	case sysno.Openat2:
		ev.Args = c.args(schema.IntArg(dirfd), pa, i(fl), i(mode), i(openResolve(rec)),
			i(uint64(file.Dev)), i(file.Ino))
	}
	abs := absPath(p, dirfd, name)
	if ret < 0 {
		typ := schema.FDType('f')
		if rec.Nr == sysno.Open {
			typ = 'o'
		}
		ev.FD = &schema.FD{Num: -1, Type: typ, Name: abs, NameRaw: state.RawName(name), Flags: uint32(fl)}
		return
	}
	typ := schema.FDType('f')
	if flags&state.ODirectory != 0 && flags&state.OTmpfile != state.OTmpfile {
		typ = 'd'
	}
	fd := &schema.FD{Num: ret, Type: typ, Name: abs, NameRaw: state.RawName(name), Flags: uint32(fl),
		Dev: file.Dev, Ino: file.Ino}
	p.FDs[ret] = fd
	ev.FD = fd
}

func (c *Converter) execve(rec *record.Record, p *state.Proc, ev *schema.Event) {
	h := &rec.Header
	filename := c.str(rec, 0) // only set on failure
	var cgroups string
	if p.Cgroup != "" {
		cgroups = "memory=" + p.Cgroup
	}
	ev.Args = c.args(
		schema.StrArg(p.Exe), schema.StrArg(strings.Join(p.Args, "\x00")), schema.IntArg(int64(h.Tid)),
		schema.IntArg(p.Pid), schema.IntArg(p.Ppid), schema.StrArg(p.Cwd), i(0), i(0), i(0), i(0), i(0), i(0),
		schema.StrArg(p.Comm), schema.StrArg(cgroups), schema.StrArg(strings.Join(p.Env, "\x00")),
		i(uint64(p.TTY)), schema.IntArg(p.Vpgid), i(uint64(p.LoginUID)), i(uint64(p.ExeFlags)),
		i(p.CapInheritable), i(p.CapPermitted), i(p.CapEffective), i(p.ExeIno), i(uint64(p.ExeInoCtime)), i(uint64(p.ExeInoMtime)),
		i(uint64(p.Euid)), schema.StrArg(p.ExePath), schema.IntArg(p.Pgid), i(uint64(p.Egid)),
	)
	if rec.Nr == sysno.Execve {
		if filename == "" && rec.Ret == 0 {
			filename = p.Filename
		}
		ev.Args = append(ev.Args, pathArg(p, state.ATFDCWD, filename))
	}
}

// sockFD updates the fd of a socket from the kernel's view of it.
func (c *Converter) sockFD(rec *record.Record, p *state.Proc, fdn int64, role uint8, connected bool) *schema.FD {
	old := p.FDs[fdn]
	s, ok := sockOf(rec)
	if !ok {
		return old
	}
	fd := &schema.FD{Num: fdn, Type: state.TypeForFamily(s.Family), Family: uint8(s.Family)}
	if old != nil {
		cp := *old
		fd = &cp
		fd.Type = state.TypeForFamily(s.Family)
		fd.Family = uint8(s.Family)
	}
	switch s.Family {
	case schema.AFInet, schema.AFInet6:
		fd.L4 = state.L4For(s.Type, s.Proto)
		fd.Role = role
		if s.Family == schema.AFInet6 && s.LAddr.Unmap().Is4() && (s.RAddr.IsUnspecified() || s.RAddr.Unmap().Is4()) {
			fd.Type = '4'
		}
		switch role {
		case schema.RoleClient:
			fd.ClientIP, fd.ClientPort = s.LAddr.Unmap(), s.LPort
			fd.ServerIP, fd.ServerPort = s.RAddr.Unmap(), s.RPort
		case schema.RoleServer:
			fd.ServerIP, fd.ServerPort = s.LAddr.Unmap(), s.LPort
			if s.RPort != 0 {
				fd.ClientIP, fd.ClientPort = s.RAddr.Unmap(), s.RPort
			} else {
				fd.ClientIP, fd.ClientPort = netip.Addr{}, 0
			}
		}
		if connected {
			fd.Connected = true
		}
		fd.Name = state.SockName(fd)
	case schema.AFUnix:
		path := ""
		if it := find(rec, record.ItemUnixPath, 0); it != nil {
			path = string(trimNul(it.Data))
		}
		fd.Role = role
		fd.Name = state.UnixName(s.Sk, s.Peer, path)
		if connected {
			fd.Connected = true
		}
	}
	p.FDs[fdn] = fd
	return fd
}

func trimNul(b []byte) []byte {
	if n := indexNul(b); n >= 0 {
		return b[:n]
	}
	return b
}

// tupleOf builds the tuple parameter from the socket item: for connect
// and sends the local end is the source; for accept the peer is.
func tupleOf(rec *record.Record, peerFirst bool) string {
	s, ok := sockOf(rec)
	if !ok {
		return ""
	}
	switch s.Family {
	case schema.AFInet, schema.AFInet6:
		t := schema.Tuple{Family: uint8(s.Family), SrcIP: s.LAddr, SrcPort: s.LPort, DstIP: s.RAddr, DstPort: s.RPort}
		if peerFirst {
			t.SrcIP, t.SrcPort, t.DstIP, t.DstPort = t.DstIP, t.DstPort, t.SrcIP, t.SrcPort
		}
		if s.Family == schema.AFInet6 && t.SrcIP.Unmap().Is4() && t.DstIP.Unmap().Is4() {
			t.Family = schema.AFInet
			t.SrcIP, t.DstIP = t.SrcIP.Unmap(), t.DstIP.Unmap()
		}
		return t.Bytes()
	case schema.AFUnix:
		path := ""
		if it := find(rec, record.ItemUnixPath, 0); it != nil {
			path = string(trimNul(it.Data))
		}
		return schema.Tuple{Family: schema.AFUnix, SrcPtr: s.Sk, DstPtr: s.Peer, Path: path}.Bytes()
	}
	return ""
}

func (c *Converter) sendRecv(rec *record.Record, p *state.Proc, ev *schema.Event) {
	a := rec.Args
	ret := rec.Ret
	fdn := fdNum(a[0])
	data := ""
	if it := find(rec, record.ItemBytes, 0); it != nil {
		data = string(it.Data)
	}
	old := p.FDs[fdn]
	role := schema.RoleClient
	if old != nil && old.Role == schema.RoleServer {
		role = schema.RoleServer
	}
	fd := old
	if ret >= 0 {
		fd = c.sockFD(rec, p, fdn, role, true)
	}
	// An unconnected datagram socket: the tuple names the address given
	// (send) or received (recv).
	tuple := tupleOf(rec, false)
	if sa := sockaddrOf(rec); sa.Family != 0 && (sa.Family == schema.AFInet || sa.Family == schema.AFInet6) {
		if s, ok := sockOf(rec); ok && s.RPort == 0 {
			t := schema.Tuple{Family: sa.Family, SrcIP: s.LAddr.Unmap(), SrcPort: s.LPort, DstIP: sa.IP.Unmap(), DstPort: sa.Port}
			if t.SrcIP.Is4() && t.DstIP.Is4() {
				t.Family = schema.AFInet
			}
			tuple = t.Bytes()
			if fd != nil && ret >= 0 {
				fd.ClientIP, fd.ClientPort, fd.ServerIP, fd.ServerPort = t.SrcIP, t.SrcPort, t.DstIP, t.DstPort
				fd.Name = state.SockName(fd)
			}
		}
	}
	ev.FD = fd
	switch uint32(rec.Nr) {
	case sysno.Sendto:
		ev.Args = c.args(schema.StrArg(data), schema.IntArg(fdn), i(a[2]), schema.StrArg(tuple))
	case sysno.Sendmsg:
		ev.Args = c.args(schema.StrArg(data), schema.IntArg(fdn), schema.IntArg(max(ret, 0)), schema.StrArg(tuple))
	case sysno.Recvfrom:
		ev.Args = c.args(schema.StrArg(data), schema.StrArg(tuple), schema.IntArg(fdn), i(a[2]))
	case sysno.Recvmsg:
		ev.Args = c.args(schema.IntArg(max(ret, 0)), schema.StrArg(data), schema.StrArg(tuple), schema.StrArg(""), schema.IntArg(fdn))
	}
}

func sockaddrOf(rec *record.Record) schema.Sockaddr {
	it := find(rec, record.ItemSockaddr, 0)
	if it == nil {
		return schema.Sockaddr{}
	}
	return ParseSockaddr(it.Data)
}

func (c *Converter) dup(p *state.Proc, oldfd, ret int64, cloexec bool) *schema.FD {
	if ret < 0 {
		return p.FDs[oldfd]
	}
	old := p.FDs[oldfd]
	if old == nil {
		return nil
	}
	cp := *old
	cp.Num = ret
	cp.Flags &^= state.OCloexec
	if cloexec {
		cp.Flags |= state.OCloexec
	}
	p.FDs[ret] = &cp
	return &cp
}
