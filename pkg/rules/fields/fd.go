package fields

import (
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// fdState says what the event knows about its fd (FIELDS.md section 4).
type fdState uint8

const (
	fdNone  fdState = iota // the event type has no fd fields
	fdKnown                // Event.FD describes the fd
	// fdNull: an fd event without fd info (an enter event, a failed open,
	// an AT_FDCWD dirfd). As in libsinsp, fd.name, fd.nameraw,
	// fd.directory and fd.typechar are then derived from the event's
	// arguments; the other fd fields have no value.
	fdNull
)

const atFdcwd = -100

// fdCreator reports whether t returns a new file fd whose name comes from
// its path argument.
func fdCreator(t schema.EventType) bool {
	return isOpenFamily(t) || t == schema.EventCreat
}

func fdOf(c *Ctx) (*schema.FD, fdState) {
	e := c.Event
	if !e.Type.Spec().UsesFD {
		return nil, fdNone
	}
	if fdCreator(e.Type) && (!exit(e) || e.Res < 0) {
		// The collector may attach the failed fd (-1); it is still no fd.
		return nil, fdNull
	}
	if e.FD != nil {
		return e.FD, fdKnown
	}
	return nil, fdNull
}

// creatorName is fd.name of an fd event without fd info, built from its
// arguments as libsinsp does: the path of an open (resolved when
// relative; openat's is normalized, legacy open's kept as passed), the
// tuple of an accept or connect, "" for other exit events; none on
// enter events. raw asks for fd.nameraw: the path as passed with
// duplicate slashes removed.
func creatorName(e *schema.Event, raw bool) (string, bool) {
	if !exit(e) {
		return "", false
	}
	switch e.Type {
	case schema.EventOpen, schema.EventCreat, schema.EventOpenat, schema.EventOpenat2:
		a, ok := e.Arg(paramName.of(e.Type))
		if !ok {
			return "", true
		}
		switch {
		case raw:
			return dedupSlashes(a.Str), true
		case a.Resolved != "":
			return a.Resolved, true
		case e.Type == schema.EventOpen || e.Type == schema.EventCreat || !strings.HasPrefix(a.Str, "/") || cleanPath(a.Str):
			return a.Str, true
		}
		return path.Clean(a.Str), true
	case schema.EventAccept, schema.EventAccept4, schema.EventConnect:
		if raw {
			return "", false
		}
		a, ok := e.Arg(paramTuple.of(e.Type))
		if !ok {
			return "", true
		}
		return tupleText(a.Str), true
	}
	if raw {
		return "", false
	}
	return "", true
}

// containerPrefixed is "<container.id>:<field>", libsinsp's
// fd.containername and fd.containerdirectory. It allocates; these fields
// serve outputs.
func containerPrefixed(c *Ctx, get func(c *Ctx) (Value, bool)) (Value, bool) {
	v, ok := get(c)
	if !ok || c.Proc == nil {
		return Value{}, false
	}
	id, _ := containerID(c)
	return str(id.Str + ":" + v.Str), true
}

// fdName is fd.name.
func fdName(c *Ctx) (Value, bool) {
	fd, st := fdOf(c)
	switch st {
	case fdKnown:
		if e := c.Event; e.Type == schema.EventConnect && exit(e) && e.Res < 0 {
			// A failed connect names the attempted tuple, not the socket.
			return str2(creatorName(e, false))
		}
		return str(fd.Name), true
	case fdNull:
		return str2(creatorName(c.Event, false))
	}
	return Value{}, false
}

// fdDirectory is fd.directory.
func fdDirectory(c *Ctx) (Value, bool) {
	fd, st := fdOf(c)
	switch st {
	case fdKnown:
		switch fd.Type {
		case 'f':
			return str(dirOf(fd.Name)), true
		case 'd':
			return str(fd.Name), true
		}
	case fdNull:
		if name, ok := creatorName(c.Event, false); ok {
			return str(dirOf(name)), true
		}
	}
	return Value{}, false
}

func str2(s string, ok bool) (Value, bool) { return str(s), ok }

func dedupSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// nullTypechar is fd.typechar without fd info, guessed from the event
// type as libsinsp does (a failed legacy open is unknown, FIELDS.md 10.4).
func nullTypechar(t schema.EventType) string {
	switch t {
	case schema.EventOpenat, schema.EventOpenat2, schema.EventCreat:
		return "f"
	case schema.EventSocket, schema.EventAccept, schema.EventAccept4:
		return "4"
	case schema.EventPipe, schema.EventPipe2:
		return "p"
	case schema.EventEventfd2:
		return "e"
	}
	return "o"
}

// cleanPath reports whether an absolute p is already normalized, so the
// common case needs no allocation.
func cleanPath(p string) bool {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return false
	}
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// dirOf is fd.directory of a file name: the text before the last '/';
// "/" when that slash is the first character or there is none; the whole
// name when it ends in '/'.
func dirOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i <= 0:
		return "/"
	case i == len(name)-1:
		return name
	}
	return name[:i]
}

// fileOf is fd.filename: the text after the last '/' ("/" with no slash,
// the whole name when it ends in '/').
func fileOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	switch {
	case i < 0:
		return "/"
	case i == len(name)-1:
		return name
	}
	return name[i+1:]
}

var fdTypeNames = map[byte]string{
	'f': "file", 'd': "directory", '4': "ipv4", '6': "ipv6", 'u': "unix", 'p': "pipe", 'e': "event",
	's': "signalfd", 'l': "eventpoll", 'i': "inotify", 't': "timerfd", 'n': "netlink", 'b': "bpf",
	'r': "io_uring", 'm': "memfd", 'P': "pidfd",
}

// fdTypeName is fd.type of fd; "<NA>" for unknown kinds.
func fdTypeName(fd *schema.FD) string {
	if fd.Type == 'u' && fd.Family != schema.AFUnix {
		return "userfaultfd"
	}
	if n, ok := fdTypeNames[byte(fd.Type)]; ok {
		return n
	}
	return NA
}

func isIP(fd *schema.FD) bool { return fd.Type == '4' || fd.Type == '6' }

func ipPort(ip netip.Addr, port uint16) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String() + ":" + strconv.Itoa(int(port))
}

// endpoint selects one end of a socket.
type endpoint uint8

const (
	epClient endpoint = iota
	epServer
	epLocal
	epRemote
)

// addr returns the address and port of one end of an IP socket fd.
func addr(fd *schema.FD, ep endpoint) (netip.Addr, uint16, bool) {
	if fd == nil || !isIP(fd) || fd.Role == schema.RoleNone {
		return netip.Addr{}, 0, false
	}
	switch ep {
	case epLocal, epRemote:
		// The local end is the client of a connect and the server of an
		// accept or listen; with no role yet neither is known.
		switch {
		case fd.Role == schema.RoleClient && ep == epLocal, fd.Role == schema.RoleServer && ep == epRemote:
			ep = epClient
		default:
			ep = epServer
		}
	}
	if ep == epClient {
		return fd.ClientIP.Unmap(), fd.ClientPort, fd.ClientIP.IsValid()
	}
	return fd.ServerIP.Unmap(), fd.ServerPort, fd.ServerIP.IsValid()
}

// knownFD is an extractor over a known fd.
func knownFD(typ Type, get func(fd *schema.FD) (Value, bool)) *def {
	return &def{typ: typ, build: fixed(func(c *Ctx) (Value, bool) {
		fd, st := fdOf(c)
		if st != fdKnown {
			return Value{}, false
		}
		return get(fd)
	})}
}

func ipField(ep endpoint, typ Type, filterOnly bool) *def {
	d := knownFD(typ, func(fd *schema.FD) (Value, bool) {
		ip, _, ok := addr(fd, ep)
		return Value{IP: ip}, ok
	})
	d.filterOnly = filterOnly
	return d
}

func portField(ep endpoint) *def {
	return knownFD(TPort, func(fd *schema.FD) (Value, bool) {
		_, port, ok := addr(fd, ep)
		return num(int64(port)), ok
	})
}

// bothEnds builds the filter-only fd.ip, fd.port and fd.net: Multi over
// the client and server ends; they exist whenever the event has an fd.
func bothEnds(typ Type, get func(ip netip.Addr, port uint16) Value) *def {
	return &def{typ: typ, filterOnly: true, build: func(f *Field) error {
		f.multi, f.multiMode = true, MultiEndpoints
		f.all = func(c *Ctx, fn func(Value) bool) {
			fd, st := fdOf(c)
			if st != fdKnown {
				return
			}
			if ip, port, ok := addr(fd, epClient); ok && !fn(get(ip, port)) {
				return
			}
			if ip, port, ok := addr(fd, epServer); ok {
				fn(get(ip, port))
			}
		}
		f.ext = func(c *Ctx) (Value, bool) {
			fd, st := fdOf(c)
			if st != fdKnown {
				return Value{}, false
			}
			if ip, port, ok := addr(fd, epClient); ok {
				return get(ip, port), true
			}
			if ip, port, ok := addr(fd, epServer); ok {
				return get(ip, port), true
			}
			return Value{}, false
		}
		f.match = func(c *Ctx, pred func(Value) bool) (matched, present bool) {
			fd, st := fdOf(c)
			if st != fdKnown {
				return false, false
			}
			if ip, port, ok := addr(fd, epClient); ok {
				if pred(get(ip, port)) {
					return true, true
				}
				present = true
			}
			if ip, port, ok := addr(fd, epServer); ok {
				return pred(get(ip, port)), true
			}
			return false, present
		}
		f.exists = func(c *Ctx) bool {
			_, st := fdOf(c)
			return st != fdNone
		}
		return nil
	}}
}

// noName is a *.name field: Peregrine keeps no domain cache, so these
// never have a value (FIELDS.md section 4 explains what libsinsp does).
func noName() *def {
	return &def{typ: TString, build: fixed(func(*Ctx) (Value, bool) { return Value{}, false })}
}

func fdFields() map[string]*def {
	return map[string]*def{
		"fd.num": {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) {
			fd, st := fdOf(c)
			switch st {
			case fdKnown:
				return num(fd.Num), true
			case fdNone:
				return Value{}, false
			}
			e := c.Event
			if fdCreator(e.Type) || e.Type.Spec().Params[0].Type == schema.PTFd {
				if !exit(e) || e.Res < 0 {
					return num(-1), true
				}
				return num(e.Res), true
			}
			for _, x := range [...]paramIndex{paramFd, paramDirfd, paramLinkdirfd} {
				if a, ok := e.Arg(x.of(e.Type)); ok {
					return num(a.Int), true
				}
			}
			return num(-1), true
		})},
		"fd.typechar": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			fd, st := fdOf(c)
			switch st {
			case fdKnown:
				if fd.Type == 0 {
					return str("o"), true
				}
				return str(typeChars[fd.Type]), true
			case fdNull:
				return str(nullTypechar(c.Event.Type)), true
			}
			return Value{}, false
		})},
		"fd.type": knownFD(TString, func(fd *schema.FD) (Value, bool) { return str(fdTypeName(fd)), true }),
		"fd.types": {typ: TString, arg: argOptional, build: func(f *Field) error {
			// Peregrine sees the event's own fd, not the process's fd
			// table, so the list has at most that one type.
			typeOf := func(c *Ctx) (string, bool) {
				fd, st := fdOf(c)
				if st != fdKnown {
					return "", false
				}
				return fdTypeName(fd), true
			}
			if f.HasArg {
				n, err := f.index()
				if err != nil {
					return err
				}
				f.ext = func(c *Ctx) (Value, bool) {
					if fd, st := fdOf(c); st != fdKnown || fd.Num != int64(n) {
						return Value{}, false
					}
					s, ok := typeOf(c)
					return str(s), ok
				}
				return nil
			}
			f.multi, f.multiMode = true, MultiList
			f.all = func(c *Ctx, fn func(Value) bool) {
				if s, ok := typeOf(c); ok {
					fn(str(s))
				}
			}
			f.ext = func(c *Ctx) (Value, bool) {
				s, ok := typeOf(c)
				if !ok {
					return Value{}, false
				}
				return str(parenTypes[s]), true
			}
			return nil
		}},
		"fd.name": {typ: TString, build: fixed(fdName)},
		"fd.containername": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return containerPrefixed(c, fdName)
		})},
		"fd.containerdirectory": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return containerPrefixed(c, fdDirectory)
		})},
		"fd.nameraw": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			fd, st := fdOf(c)
			switch st {
			case fdKnown:
				return str(fd.NameRaw), true
			case fdNull:
				return str2(creatorName(c.Event, true))
			}
			return Value{}, false
		})},
		"fd.directory": {typ: TString, build: fixed(fdDirectory)},
		"fd.filename": knownFD(TString, func(fd *schema.FD) (Value, bool) {
			if fd.Type != 'f' {
				return Value{}, false
			}
			return str(fileOf(fd.Name)), true
		}),
		"fd.l4proto": knownFD(TString, func(fd *schema.FD) (Value, bool) {
			if !isIP(fd) || fd.Role == schema.RoleNone {
				return str(NA), true
			}
			switch fd.L4 {
			case ipprotoTCP:
				return str("tcp"), true
			case ipprotoUDP:
				return str("udp"), true
			case ipprotoICMP:
				return str("icmp"), true
			case ipprotoRaw:
				return str("raw"), true
			}
			return str(NA), true
		}),
		"fd.sockfamily": knownFD(TString, func(fd *schema.FD) (Value, bool) {
			switch {
			case isIP(fd):
				return str("ip"), true
			case fd.Type == 'u' && fd.Family == schema.AFUnix:
				return str("unix"), true
			}
			return Value{}, false
		}),
		"fd.is_server": knownFD(TBool, func(fd *schema.FD) (Value, bool) {
			return boolean(fd.Role == schema.RoleServer), isIP(fd)
		}),
		"fd.connected":      knownFD(TBool, func(fd *schema.FD) (Value, bool) { return boolean(fd.Connected), true }),
		"fd.name_changed":   knownFD(TBool, func(fd *schema.FD) (Value, bool) { return boolean(fd.NameChanged), true }),
		"fd.dev":            knownFD(TUint64, func(fd *schema.FD) (Value, bool) { return unum(uint64(fd.Dev)), true }),
		"fd.ino":            knownFD(TUint64, func(fd *schema.FD) (Value, bool) { return unum(fd.Ino), true }),
		"fd.is_upper_layer": knownFD(TBool, func(fd *schema.FD) (Value, bool) { return boolean(fd.Flags&schema.OpenFlagUpperLayer != 0), true }),
		"fd.is_lower_layer": knownFD(TBool, func(fd *schema.FD) (Value, bool) { return boolean(fd.Flags&schema.OpenFlagLowerLayer != 0), true }),

		"fd.cip":   ipField(epClient, TIPAddr, false),
		"fd.sip":   ipField(epServer, TIPAddr, false),
		"fd.lip":   ipField(epLocal, TIPAddr, false),
		"fd.rip":   ipField(epRemote, TIPAddr, false),
		"fd.cport": portField(epClient),
		"fd.sport": portField(epServer),
		"fd.lport": portField(epLocal),
		"fd.rport": portField(epRemote),
		"fd.cnet":  ipField(epClient, TIPNet, true),
		"fd.snet":  ipField(epServer, TIPNet, true),
		"fd.lnet":  ipField(epLocal, TIPNet, true),
		"fd.rnet":  ipField(epRemote, TIPNet, true),
		"fd.ip":    bothEnds(TIPAddr, func(ip netip.Addr, _ uint16) Value { return Value{IP: ip} }),
		"fd.port":  bothEnds(TPort, func(_ netip.Addr, p uint16) Value { return num(int64(p)) }),
		"fd.net":   bothEnds(TIPNet, func(ip netip.Addr, _ uint16) Value { return Value{IP: ip} }),

		"fd.cip.name": noName(),
		"fd.sip.name": noName(),
		"fd.lip.name": noName(),
		"fd.rip.name": noName(),
	}
}

// typeChars and parenTypes hold the strings the fd fields return, so
// extraction hands out constants instead of building them.
var typeChars = func() [256]string {
	var t [256]string
	for i := range t {
		t[i] = string(rune(i))
	}
	return t
}()

var parenTypes = func() map[string]string {
	m := map[string]string{NA: "(" + NA + ")", "userfaultfd": "(userfaultfd)"}
	for _, n := range fdTypeNames {
		m[n] = "(" + n + ")"
	}
	return m
}()
