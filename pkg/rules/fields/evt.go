package fields

import (
	"fmt"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func exit(e *schema.Event) bool { return e.Flags&schema.FlagEnter == 0 }

// syscallType reports whether t is a system call rather than a synthetic
// event (drops, container events).
func syscallType(t schema.EventType) bool {
	return t != schema.EventDrop && t != schema.EventContainer && t != schema.EventUnknown
}

func evtFields() map[string]*def {
	return map[string]*def{
		"evt.type": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return str(c.Event.Type.String()), true
		})},
		"syscall.type": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			if !syscallType(c.Event.Type) {
				return Value{}, false
			}
			return str(c.Event.Type.String()), true
		})},
		"evt.num": {typ: TUint64, build: fixed(func(c *Ctx) (Value, bool) { return unum(c.Event.Num), true })},
		"evt.time": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return str(time.Unix(0, c.Event.Ts).UTC().Format("15:04:05.000000000")), true
		})},
		"evt.time.s": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return str(time.Unix(0, c.Event.Ts).UTC().Format("15:04:05")), true
		})},
		"evt.time.iso8601": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return str(time.Unix(0, c.Event.Ts).UTC().Format(schema.AlertTimeLayout)), true
		})},
		"evt.datetime": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			return str(time.Unix(0, c.Event.Ts).UTC().Format("2006-01-02 15:04:05.000000000")), true
		})},
		"evt.rawtime":    {typ: TAbsTime, build: fixed(func(c *Ctx) (Value, bool) { return num(c.Event.Ts), true })},
		"evt.rawtime.s":  {typ: TUint64, build: fixed(func(c *Ctx) (Value, bool) { return num(c.Event.Ts / 1e9), true })},
		"evt.rawtime.ns": {typ: TUint64, build: fixed(func(c *Ctx) (Value, bool) { return num(c.Event.Ts % 1e9), true })},
		"evt.hostname":   {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return str(c.Hostname), true })},
		"evt.dir": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			if exit(c.Event) {
				return str("<"), true
			}
			return str(">"), true
		})},
		"evt.cpu":    {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) { return num(int64(c.Event.CPU)), true })},
		"evt.source": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return str("syscall"), true })},
		"evt.res": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			e := c.Event
			if !exit(e) {
				return Value{}, false
			}
			if e.Res >= 0 {
				return str("SUCCESS"), true
			}
			return str(errnoText(e.Res)), true
		})},
		"evt.rawres": {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) {
			if !exit(c.Event) {
				return Value{}, false
			}
			return num(c.Event.Res), true
		})},
		"evt.failed": {typ: TBool, build: fixed(func(c *Ctx) (Value, bool) {
			return boolean(exit(c.Event) && c.Event.Res < 0), true
		})},
		"evt.is_open_read":  {typ: TBool, build: fixed(func(c *Ctx) (Value, bool) { return boolean(openAccess(c.Event)&1 != 0), true })},
		"evt.is_open_write": {typ: TBool, build: fixed(func(c *Ctx) (Value, bool) { return boolean(openAccess(c.Event)&2 != 0), true })},
		"evt.is_open_exec":  {typ: TBool, build: fixed(func(c *Ctx) (Value, bool) { return boolean(openExec(c.Event)), true })},
		"evt.args":          {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return str(argsText(c)), true })},
		"evt.buffer": {typ: TBytes, build: fixed(func(c *Ctx) (Value, bool) {
			i := paramData.of(c.Event.Type)
			if i < 0 {
				return Value{}, false
			}
			a, ok := c.Event.Arg(i)
			if !ok {
				return Value{}, false
			}
			return str(a.Str), true
		})},
		"evt.abspath":     {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return relPath(c.Event, 0, true) })},
		"evt.abspath.src": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return relPath(c.Event, 0, false) })},
		"evt.abspath.dst": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) { return relPath(c.Event, 1, false) })},
		"evt.arg":         {typ: TString, arg: argRequired, build: buildEvtArgIndex(false)},
		"evt.rawarg":      {typ: TString, arg: argRequired, build: buildEvtArgIndex(true)},
	}
}

// openAccess returns bit 1 for read and bit 2 for write access of an
// open/openat/openat2 exit event, 0 for every other event.
func openAccess(e *schema.Event) int {
	if !exit(e) || !isOpenFamily(e.Type) {
		return 0
	}
	a, ok := e.Arg(paramFlags.of(e.Type))
	if !ok {
		return 0
	}
	switch a.Int & 3 {
	case 0:
		return 1
	case 1:
		return 2
	default:
		return 3
	}
}

// openExec: the open created (or may create) a file with an execute bit.
func openExec(e *schema.Event) bool {
	if !exit(e) {
		return false
	}
	mode, ok := e.Arg(paramMode.of(e.Type))
	if !ok || mode.Int&0111 == 0 {
		return false
	}
	switch {
	case isOpenFamily(e.Type):
		flags, ok := e.Arg(paramFlags.of(e.Type))
		return ok && flags.Int&(kOCreat|kOTmpfile) != 0
	case e.Type == schema.EventCreat:
		return true
	}
	return false
}

// relPath is the absolute form of the n-th dirfd-relative path parameter
// (evt.abspath and its .src/.dst forms). single asks for the path of an
// event with exactly one such parameter; symlinkat's link path counts
// both as its only path and as the destination.
func relPath(e *schema.Event, n int, single bool) (Value, bool) {
	var idx [2]int
	k := 0
	for i, ps := range e.Type.Spec().Params {
		if ps.Type == schema.PTFSRelPath && k < 2 {
			idx[k] = i
			k++
		}
	}
	switch {
	case k == 0, single && k != 1:
		return Value{}, false
	case k == 1 && !single:
		if n != 1 || e.Type != schema.EventSymlinkat {
			return Value{}, false
		}
		n = 0
	}
	a, ok := e.Arg(idx[n])
	if !ok {
		return Value{}, false
	}
	if a.Resolved != "" {
		return str(a.Resolved), true
	}
	return str(a.Str), true
}

// buildEvtArgIndex handles evt.arg[N] and evt.rawarg[N]: parameter N of
// the event's table (0 is the result).
func buildEvtArgIndex(raw bool) func(f *Field) error {
	return func(f *Field) error {
		n, err := f.index()
		if err != nil {
			return err
		}
		if raw {
			f.ext = func(c *Ctx) (Value, bool) {
				ps := c.Event.Type.Spec().Params
				if n >= len(ps) {
					return Value{}, false
				}
				a, ok := c.Event.Arg(n)
				if !ok {
					return Value{}, false
				}
				return str(rawArg(ps[n], a)), true
			}
			return nil
		}
		f.ext = func(c *Ctx) (Value, bool) {
			s, ok := argText(c, n)
			return str(s), ok
		}
		return nil
	}
}

// dynamicDef resolves the names that embed a parameter name:
// evt.arg.NAME and evt.rawarg.NAME. It returns nil for other names.
func dynamicDef(name string) (*def, error) {
	switch {
	case strings.HasPrefix(name, "evt.arg."):
		param := strings.TrimPrefix(name, "evt.arg.")
		if err := knownParam(name, param); err != nil {
			return nil, err
		}
		return &def{typ: TString, build: fixed(evtArgByName(param))}, nil
	case strings.HasPrefix(name, "evt.rawarg."):
		param := strings.TrimPrefix(name, "evt.rawarg.")
		if err := knownParam(name, param); err != nil {
			return nil, err
		}
		index := newParamIndex(param).of
		if numericParam(param) {
			return &def{typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) {
				e := c.Event
				i := index(e.Type)
				a, ok := e.Arg(i)
				if !ok {
					return Value{}, false
				}
				switch e.Type.Spec().Params[i].Type {
				case schema.PTUint32, schema.PTUID, schema.PTGID:
					// 32-bit parameters: -1 is 4294967295, as libsinsp prints it.
					return num(int64(uint32(a.Int))), true
				}
				return num(a.Int), true
			})}, nil
		}
		return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			e := c.Event
			i := index(e.Type)
			a, ok := e.Arg(i)
			if !ok {
				return Value{}, false
			}
			return str(rawArg(e.Type.Spec().Params[i], a)), true
		})}, nil
	}
	return nil, nil
}

// resOrFd is the pseudo parameter the upstream rules mention: param 0,
// whether the event calls it res or fd.
const resOrFd = "res_or_fd"

// paramIndex holds the index of one parameter name in every event
// type's table, -1 where the type has no such parameter. One name sits at
// different positions in different event types; a table built once
// replaces a scan of the parameter list by name on every event.
type paramIndex []int8

func newParamIndex(param string) paramIndex {
	var idx paramIndex
	for _, t := range schema.EventTypes() {
		for int(t) >= len(idx) {
			idx = append(idx, -1)
		}
		if param == resOrFd {
			idx[t] = 0
		} else {
			idx[t] = int8(t.Param(param))
		}
	}
	return idx
}

// of returns the parameter's index in t's table, -1 when t has none.
func (x paramIndex) of(t schema.EventType) int {
	if int(t) < len(x) {
		return int(x[t])
	}
	return -1
}

// Indexes of the parameters the extractors read by name.
var (
	paramFlags = newParamIndex("flags")
	paramMode  = newParamIndex("mode")
	paramName  = newParamIndex("name")
	paramTuple = newParamIndex("tuple")
	paramData  = newParamIndex("data")

	paramFd        = newParamIndex("fd")
	paramDirfd     = newParamIndex("dirfd")
	paramLinkdirfd = newParamIndex("linkdirfd")
)

func evtArgByName(param string) func(c *Ctx) (Value, bool) {
	index := newParamIndex(param).of
	return func(c *Ctx) (Value, bool) {
		s, ok := argText(c, index(c.Event.Type))
		return str(s), ok
	}
}

// knownParam rejects a parameter name no event type has, so a typo in a
// rule is an error instead of a field that never has a value.
func knownParam(name, param string) error {
	if param == resOrFd {
		return nil
	}
	if param == "" {
		return fmt.Errorf("field %s: %w: missing parameter name", name, ErrBadArg)
	}
	for _, t := range schema.EventTypes() {
		if t.Param(param) >= 0 {
			return nil
		}
	}
	return fmt.Errorf("field %s: %w: no event type has a parameter %q", name, ErrUnknownField, param)
}

// numericParam reports whether every event type having param stores a
// number in it, so evt.rawarg.param compares numerically.
func numericParam(param string) bool {
	if param == resOrFd {
		return true
	}
	for _, t := range schema.EventTypes() {
		i := t.Param(param)
		if i < 0 {
			continue
		}
		switch t.Spec().Params[i].Type {
		case schema.PTFSPath, schema.PTFSRelPath, schema.PTCharBuf, schema.PTByteBuf,
			schema.PTSockTuple, schema.PTSockAddr:
			return false
		}
	}
	return true
}
