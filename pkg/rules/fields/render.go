package fields

import (
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// argText returns parameter i of the event rendered as evt.arg.NAME shows
// it: the resolved form when there is one, else the raw form (FIELDS.md
// section 8). The text is cached in c for the rest of the event.
func argText(c *Ctx, i int) (string, bool) {
	e := c.Event
	ps := e.Type.Spec().Params
	if i < 0 || i >= len(ps) {
		return "", false
	}
	a, ok := e.Arg(i)
	if !ok {
		return "", false
	}
	if i >= maxCachedArgs {
		return renderArg(c, ps[i], a), true
	}
	c.checkEvent()
	if c.eventDone&(1<<i) == 0 {
		c.argStrs[i] = renderArg(c, ps[i], a)
		c.eventDone |= 1 << i
	}
	return c.argStrs[i], true
}

// isOpenFamily reports whether t's flags parameter carries an open(2)
// access mode.
func isOpenFamily(t schema.EventType) bool {
	return t == schema.EventOpen || t == schema.EventOpenat || t == schema.EventOpenat2
}

// renderArg is the resolved-else-raw text of one parameter.
func renderArg(c *Ctx, ps schema.ParamSpec, a schema.Arg) string {
	switch ps.Type {
	case schema.PTFd:
		return fdText(c, a.Int)
	case schema.PTErrno:
		if a.Int < 0 {
			return errnoText(a.Int)
		}
		return strconv.FormatInt(a.Int, 10)
	case schema.PTFSPath, schema.PTFSRelPath:
		if a.Resolved != "" {
			return a.Resolved
		}
		return a.Str
	case schema.PTFlags, schema.PTEnum:
		t := tableOf(ps.Table)
		if t == nil {
			return strconv.FormatUint(uint64(a.Int), 10)
		}
		v := uint64(a.Int)
		if ps.Table == schema.TableFileFlags {
			v &= 0xffffffff
			if isOpenFamily(c.Event.Type) && ps.Name == "flags" {
				v = openAccessBits(v)
			}
		}
		return c.flagText(t, v)
	case schema.PTMode:
		if a.Int == 0 {
			return "0"
		}
		return c.flagText(chmodMode, uint64(a.Int))
	case schema.PTUID:
		return uidText(c, a.Int)
	case schema.PTGID:
		return gidText(c, a.Int)
	case schema.PTPID:
		if comm, ok := pidComm(c, a.Int); ok {
			return comm
		}
		return strconv.FormatInt(a.Int, 10)
	case schema.PTByteBuf:
		// libsinsp's normal (non-hex) buffer format: non-printable bytes
		// become '.', so evt.arg.args of execve reads "-c.id.".
		return printable(a.Str)
	}
	return rawArg(ps, a)
}

// rawArg is the raw text of one parameter (evt.rawarg, the left part of
// each evt.args item).
func rawArg(ps schema.ParamSpec, a schema.Arg) string {
	switch ps.Type {
	case schema.PTInt64, schema.PTFd, schema.PTErrno, schema.PTPID:
		return strconv.FormatInt(a.Int, 10)
	case schema.PTUint32, schema.PTUID, schema.PTGID:
		return strconv.FormatUint(uint64(uint32(a.Int)), 10)
	case schema.PTUint64, schema.PTFlags, schema.PTEnum, schema.PTMode:
		return strconv.FormatUint(uint64(a.Int), 10)
	case schema.PTOctal:
		if a.Int == 0 {
			return "0"
		}
		return "0" + strconv.FormatUint(uint64(a.Int), 8)
	case schema.PTHex:
		return strings.ToUpper(strconv.FormatUint(uint64(a.Int), 16))
	case schema.PTSockTuple:
		return tupleText(a.Str)
	case schema.PTSockAddr:
		return sockaddrText(a.Str)
	}
	return a.Str // paths, CHARBUF, BYTEBUF
}

// argsText builds evt.args: "name=raw" or "name=raw(resolved)" for every
// parameter present, space-joined.
func argsText(c *Ctx) string {
	c.checkEvent()
	if c.argsDone {
		return c.argsJoined
	}
	e := c.Event
	var b strings.Builder
	for i, ps := range e.Type.Spec().Params {
		a, ok := e.Arg(i)
		if !ok {
			continue
		}
		raw := rawArg(ps, a)
		if ps.Type == schema.PTByteBuf {
			raw = printable(raw)
		}
		// Only parameters whose resolved form differs get "(resolved)".
		res, _ := argText(c, i)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ps.Name)
		b.WriteByte('=')
		b.WriteString(raw)
		if res != raw && ps.Type != schema.PTByteBuf {
			b.WriteByte('(')
			b.WriteString(res)
			b.WriteByte(')')
		}
	}
	c.argsJoined, c.argsDone = b.String(), true
	return c.argsJoined
}

// fdText renders an fd parameter: "<f>/etc/passwd" when the event's fd
// info is that fd, AT_FDCWD, an errno name for negative values, else the
// number.
func fdText(c *Ctx, n int64) string {
	switch {
	case n == -100:
		return "AT_FDCWD"
	case n < 0:
		return errnoText(n)
	}
	if fd := c.Event.FD; fd != nil && fd.Num == n && fd.Type != 0 {
		var b strings.Builder
		b.WriteByte('<')
		b.WriteByte(byte(fd.Type))
		if fd.Type == '4' || fd.Type == '6' {
			if l := l4Letter(fd.L4); l != 0 {
				b.WriteByte(l)
			}
		}
		b.WriteByte('>')
		b.WriteString(fd.Name)
		return b.String()
	}
	return strconv.FormatInt(n, 10)
}

// IP protocol numbers.
const (
	ipprotoICMP = 1
	ipprotoTCP  = 6
	ipprotoUDP  = 17
	ipprotoRaw  = 255
)

func l4Letter(p uint8) byte {
	switch p {
	case ipprotoTCP:
		return 't'
	case ipprotoUDP:
		return 'u'
	case ipprotoICMP:
		return 'i'
	case ipprotoRaw:
		return 'r'
	}
	return 0
}

// uidText is the user name of uid as evt.arg.uid shows it: the name the
// collector resolved for the event's process when it is that uid, "root"
// for 0, "<NONE>" for -1, else "<NA>".
func uidText(c *Ctx, id int64) string {
	u := uint32(id)
	if id == -1 || u == 0xffffffff {
		return "<NONE>"
	}
	if p := c.Proc; p != nil {
		if u == p.Euid && p.User != "" {
			return p.User
		}
		if u == p.LoginUID && p.LoginName != "" {
			return p.LoginName
		}
	}
	if u == 0 {
		return "root"
	}
	return NA
}

func gidText(c *Ctx, id int64) string {
	g := uint32(id)
	if id == -1 || g == 0xffffffff {
		return "<NONE>"
	}
	if p := c.Proc; p != nil && g == p.Egid && p.Group != "" {
		return p.Group
	}
	if g == 0 {
		return "root"
	}
	return NA
}

// pidComm finds the comm of pid among what the batch knows: the event's
// process, its ancestors, and the other processes of the batch.
func pidComm(c *Ctx, pid int64) (string, bool) {
	if p := c.Proc; p != nil {
		if p.Pid == pid {
			return p.Comm, true
		}
		for i := range p.Ancestors {
			if p.Ancestors[i].Pid == pid {
				return p.Ancestors[i].Comm, true
			}
		}
	}
	if c.Batch != nil {
		for i := range c.Batch.Procs {
			if c.Batch.Procs[i].Pid == pid {
				return c.Batch.Procs[i].Comm, true
			}
		}
	}
	return "", false
}

// tupleText renders a PTSockTuple value as Falco does:
// "10.0.0.1:5555->1.2.3.4:443", or "<src ptr>-><dst ptr> <path>" in hex
// for unix sockets.
func tupleText(s string) string {
	t, err := schema.ParseTuple(s)
	if err != nil || t.Family == 0 {
		return ""
	}
	switch t.Family {
	case schema.AFInet, schema.AFInet6:
		return ipPort(t.SrcIP, t.SrcPort) + "->" + ipPort(t.DstIP, t.DstPort)
	case schema.AFUnix:
		return strconv.FormatUint(t.SrcPtr, 16) + "->" + strconv.FormatUint(t.DstPtr, 16) + " " + t.Path
	}
	return ""
}

func sockaddrText(s string) string {
	sa, err := schema.ParseSockaddr(s)
	if err != nil {
		return ""
	}
	switch sa.Family {
	case schema.AFInet, schema.AFInet6:
		return ipPort(sa.IP, sa.Port)
	case schema.AFUnix:
		return sa.Path
	}
	return ""
}
