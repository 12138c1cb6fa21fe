package fields

import (
	"fmt"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// procStrField is a string field read straight from the process.
func procStrField(get func(p *schema.Process) string) *def {
	return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil {
			return Value{}, false
		}
		return str(get(c.Proc)), true
	})}
}

func procNumField(typ Type, get func(p *schema.Process) (int64, bool)) *def {
	return &def{typ: typ, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil {
			return Value{}, false
		}
		n, ok := get(c.Proc)
		return num(n), ok
	})}
}

func procBoolField(get func(p *schema.Process) bool) *def {
	return &def{typ: TBool, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil {
			return Value{}, false
		}
		return boolean(get(c.Proc)), true
	})}
}

// procCached is a string field derived from the process and cached per process.
func procCached(k int, build func(p *schema.Process) string) *def {
	return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil {
			return Value{}, false
		}
		return str(c.procStr(k, build)), true
	})}
}

func known(n int64) (int64, bool) { return n, n != 0 }

// cmdline is comm followed by the arguments, as proc.cmdline prints it.
func cmdline(comm string, args []string) string {
	if len(args) == 0 {
		return comm
	}
	return comm + " " + strings.Join(args, " ")
}

// ancestor is the n-th process up from p: 0 is p itself, 1 its parent.
// The second result is false past the top of the known tree.
type ancestor struct {
	pid               int64
	comm, exe, exepth string
	args              []string
}

func ancestorAt(p *schema.Process, n int) (ancestor, bool) {
	if n == 0 {
		return ancestor{p.Pid, p.Comm, p.Exe, p.ExePath, p.Args}, true
	}
	if n-1 >= len(p.Ancestors) {
		return ancestor{}, false
	}
	a := &p.Ancestors[n-1]
	return ancestor{a.Pid, a.Comm, a.Exe, a.ExePath, a.Args}, true
}

// ancestorField builds proc.aname and its siblings: with an index the
// N-th ancestor's value; without, a Multi field over every ancestor from
// the parent up (the output form joins them with spaces).
func ancestorField(typ Type, cacheKey int, get func(a *schema.Ancestor) Value, self func(p *schema.Process) Value) *def {
	return &def{typ: typ, arg: argOptional, build: func(f *Field) error {
		if f.HasArg {
			n, err := f.index()
			if err != nil {
				return err
			}
			f.ext = func(c *Ctx) (Value, bool) {
				p := c.Proc
				if p == nil {
					return Value{}, false
				}
				if n == 0 {
					return self(p), true
				}
				if n-1 >= len(p.Ancestors) {
					return Value{}, false
				}
				return get(&p.Ancestors[n-1]), true
			}
			return nil
		}
		f.multi = true
		f.all = func(c *Ctx, fn func(Value) bool) {
			if c.Proc == nil {
				return
			}
			for i := range c.Proc.Ancestors {
				if !fn(get(&c.Proc.Ancestors[i])) {
					return
				}
			}
		}
		f.match = func(c *Ctx, pred func(Value) bool) (bool, bool) {
			if c.Proc == nil || len(c.Proc.Ancestors) == 0 {
				return false, false
			}
			for i := range c.Proc.Ancestors {
				if pred(get(&c.Proc.Ancestors[i])) {
					return true, true
				}
			}
			return false, true
		}
		f.ext = func(c *Ctx) (Value, bool) {
			p := c.Proc
			if p == nil || len(p.Ancestors) == 0 {
				return Value{}, false
			}
			if typ != TString {
				// A number cannot hold the list: libsinsp reads proc.apid
				// without an index as proc.apid[0], the process itself.
				return self(p), true
			}
			return str(c.procStr(cacheKey, func(p *schema.Process) string {
				parts := make([]string, len(p.Ancestors))
				for i := range p.Ancestors {
					parts[i] = get(&p.Ancestors[i]).Str
				}
				return strings.Join(parts, " ")
			})), true
		}
		return nil
	}}
}

// parentField reads the parent's value: none when the parent is unknown.
func parentField(get func(a *schema.Ancestor) string) *def {
	return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil || len(c.Proc.Ancestors) == 0 {
			return Value{}, false
		}
		return str(get(&c.Proc.Ancestors[0])), true
	})}
}

// groupLeader finds the process group leader of p among p and its
// ancestors (proc.vpgid.name, proc.vpgid.exe).
func groupLeader(p *schema.Process) (comm, exe string, ok bool) {
	if p.Pid == p.Pgid {
		return p.Comm, p.Exe, true
	}
	for i := range p.Ancestors {
		if a := &p.Ancestors[i]; a.Pid == p.Pgid {
			return a.Comm, a.Exe, true
		}
	}
	return "", "", false
}

// batchProc finds another process of the batch by host pid.
func batchProc(c *Ctx, pid int64) *schema.Process {
	if c.Batch == nil {
		return nil
	}
	for i := range c.Batch.Procs {
		if c.Batch.Procs[i].Pid == pid {
			return &c.Batch.Procs[i]
		}
	}
	return nil
}

func procFields() map[string]*def {
	m := map[string]*def{
		"proc.name":    procStrField(func(p *schema.Process) string { return p.Comm }),
		"proc.exe":     procStrField(func(p *schema.Process) string { return p.Exe }),
		"proc.exepath": procStrField(func(p *schema.Process) string { return p.ExePath }),
		"proc.args": {typ: TString, arg: argOptional, build: func(f *Field) error {
			if !f.HasArg {
				f.ext = procCached(pcArgs, func(p *schema.Process) string { return strings.Join(p.Args, " ") }).build0()
				return nil
			}
			n, err := f.index()
			if err != nil {
				return err
			}
			f.ext = func(c *Ctx) (Value, bool) {
				if c.Proc == nil || n >= len(c.Proc.Args) {
					return Value{}, false
				}
				return str(c.Proc.Args[n]), true
			}
			return nil
		}},
		"proc.cmdline": procCached(pcCmdline, func(p *schema.Process) string { return cmdline(p.Comm, p.Args) }),
		"proc.exeline": procCached(pcExeline, func(p *schema.Process) string { return cmdline(p.Exe, p.Args) }),
		"proc.pname":   parentField(func(a *schema.Ancestor) string { return a.Comm }),
		"proc.pexe":    parentField(func(a *schema.Ancestor) string { return a.Exe }),
		"proc.pexepath": parentField(func(a *schema.Ancestor) string {
			return a.ExePath
		}),
		"proc.pcmdline": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Proc == nil || len(c.Proc.Ancestors) == 0 {
				return Value{}, false
			}
			return str(c.procStr(pcPcmdline, func(p *schema.Process) string {
				return cmdline(p.Ancestors[0].Comm, p.Ancestors[0].Args)
			})), true
		})},
		"proc.aname": ancestorField(TString, pcAname,
			func(a *schema.Ancestor) Value { return str(a.Comm) },
			func(p *schema.Process) Value { return str(p.Comm) }),
		"proc.aexe": ancestorField(TString, pcAexe,
			func(a *schema.Ancestor) Value { return str(a.Exe) },
			func(p *schema.Process) Value { return str(p.Exe) }),
		"proc.aexepath": ancestorField(TString, pcAexepath,
			func(a *schema.Ancestor) Value { return str(a.ExePath) },
			func(p *schema.Process) Value { return str(p.ExePath) }),
		"proc.apid": ancestorField(TInt64, -1,
			func(a *schema.Ancestor) Value { return num(a.Pid) },
			func(p *schema.Process) Value { return num(p.Pid) }),
		"proc.acmdline": {typ: TString, arg: argRequired, build: func(f *Field) error {
			n, err := f.index()
			if err != nil {
				return err
			}
			f.ext = func(c *Ctx) (Value, bool) {
				if c.Proc == nil {
					return Value{}, false
				}
				a, ok := ancestorAt(c.Proc, n)
				if !ok {
					return Value{}, false
				}
				if n == 0 {
					return str(c.procStr(pcCmdline, func(p *schema.Process) string { return cmdline(p.Comm, p.Args) })), true
				}
				if n == 1 {
					return str(c.procStr(pcPcmdline, func(p *schema.Process) string {
						return cmdline(p.Ancestors[0].Comm, p.Ancestors[0].Args)
					})), true
				}
				return str(cmdline(a.comm, a.args)), true
			}
			return nil
		}},
		"proc.pid":  procNumField(TInt64, func(p *schema.Process) (int64, bool) { return p.Pid, true }),
		"proc.ppid": procNumField(TInt64, func(p *schema.Process) (int64, bool) { return p.Ppid, true }),
		"proc.vpid": procNumField(TInt64, func(p *schema.Process) (int64, bool) { return p.Vpid, p.Vpid != -1 }),
		"proc.sid":  procNumField(TInt64, func(p *schema.Process) (int64, bool) { return p.Sid, true }),
		"proc.vpgid": procNumField(TInt64, func(p *schema.Process) (int64, bool) {
			return p.Vpgid, true
		}),
		"proc.pgid": procNumField(TInt64, func(p *schema.Process) (int64, bool) { return p.Pgid, true }),
		"proc.is_vpgid_leader": procBoolField(func(p *schema.Process) bool {
			return p.Vpid != -1 && p.Vpgid == p.Vpid
		}),
		"proc.is_sid_leader": procBoolField(func(p *schema.Process) bool { return p.Sid == p.Pid }),
		"proc.vpgid.name": procStrOpt(func(p *schema.Process) (string, bool) {
			comm, _, ok := groupLeader(p)
			return comm, ok
		}),
		"proc.vpgid.exe": procStrOpt(func(p *schema.Process) (string, bool) {
			_, exe, ok := groupLeader(p)
			return exe, ok
		}),
		"proc.sname": procStrField(func(p *schema.Process) string { return p.SName }),
		"proc.env": {typ: TString, arg: argOptional, build: func(f *Field) error {
			if !f.HasArg {
				f.ext = procCached(pcEnv, func(p *schema.Process) string { return strings.Join(p.Env, " ") }).build0()
				return nil
			}
			prefix := f.Arg + "="
			f.ext = func(c *Ctx) (Value, bool) {
				if c.Proc == nil {
					return Value{}, false
				}
				for _, kv := range c.Proc.Env {
					if strings.HasPrefix(kv, prefix) {
						return str(strings.TrimSpace(kv[len(prefix):])), true
					}
				}
				return str(""), true
			}
			return nil
		}},
		"proc.cwd": procCached(pcCwd, func(p *schema.Process) string {
			if strings.HasSuffix(p.Cwd, "/") {
				return p.Cwd
			}
			return p.Cwd + "/"
		}),
		"proc.tty": procNumField(TUint64, func(p *schema.Process) (int64, bool) { return int64(p.TTY), true }),
		"proc.duration": {typ: TRelTime, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Proc == nil || c.Proc.StartTs == 0 {
				return Value{}, false
			}
			return num(c.Event.Ts - c.Proc.StartTs), true
		})},
		"proc.ppid.duration": {typ: TRelTime, build: fixed(func(c *Ctx) (Value, bool) {
			p := c.Proc
			if p == nil || len(p.Ancestors) == 0 {
				return Value{}, false
			}
			start := p.Ancestors[0].StartTs
			if start == 0 {
				// Older collectors do not send it; the parent may be in the batch.
				if pp := batchProc(c, p.Ppid); pp != nil {
					start = pp.StartTs
				}
			}
			if start == 0 {
				return Value{}, false
			}
			return num(c.Event.Ts - start), true
		})},
		"proc.is_exe_writable":    procBoolField(func(p *schema.Process) bool { return p.ExeFlags&schema.ExecWritable != 0 }),
		"proc.is_exe_upper_layer": procBoolField(func(p *schema.Process) bool { return p.ExeFlags&schema.ExecUpperLayer != 0 }),
		"proc.is_exe_lower_layer": procBoolField(func(p *schema.Process) bool { return p.ExeFlags&schema.ExecLowerLayer != 0 }),
		"proc.is_exe_from_memfd":  procBoolField(func(p *schema.Process) bool { return p.ExeFlags&schema.ExecFromMemfd != 0 }),
		"proc.exe_ino":            procNumField(TInt64, func(p *schema.Process) (int64, bool) { return int64(p.ExeIno), true }),
		"proc.exe_ino.ctime":      procNumField(TAbsTime, func(p *schema.Process) (int64, bool) { return known(p.ExeInoCtime) }),
		"proc.exe_ino.mtime":      procNumField(TAbsTime, func(p *schema.Process) (int64, bool) { return known(p.ExeInoMtime) }),
		"proc.exe_ino.ctime_duration_proc_start": procNumField(TAbsTime, func(p *schema.Process) (int64, bool) {
			if p.ExeInoCtime == 0 || p.StartTs == 0 {
				return 0, false
			}
			return p.StartTs - p.ExeInoCtime, true
		}),
		"proc.exe_ino.ctime_duration_pidns_start": procNumField(TAbsTime, func(p *schema.Process) (int64, bool) {
			if p.ExeInoCtime == 0 || p.PidNSInitStartTs == 0 {
				return 0, false
			}
			return p.ExeInoCtime - p.PidNSInitStartTs, true
		}),
		"proc.pidns_init_start_ts": procNumField(TUint64, func(p *schema.Process) (int64, bool) { return known(p.PidNSInitStartTs) }),
		"proc.loginshellid": procNumField(TInt64, func(p *schema.Process) (int64, bool) {
			// The eldest process, self included, whose comm ends in "sh".
			var pid int64
			found := false
			if strings.HasSuffix(p.Comm, "sh") {
				pid, found = p.Pid, true
			}
			for i := range p.Ancestors {
				if strings.HasSuffix(p.Ancestors[i].Comm, "sh") {
					pid, found = p.Ancestors[i].Pid, true
				}
			}
			return pid, found
		}),
		// Peregrine does not track container health probes; Falco's value for
		// a process that is not one is false.
		"proc.is_container_healthcheck":     procBoolField(func(*schema.Process) bool { return false }),
		"proc.is_container_liveness_probe":  procBoolField(func(*schema.Process) bool { return false }),
		"proc.is_container_readiness_probe": procBoolField(func(*schema.Process) bool { return false }),

		"thread.tid": {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) { return num(c.Event.Tid), true })},
		"proc.tid":   {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) { return num(c.Event.Tid), true })},
		"thread.vtid": {typ: TInt64, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Event.Vtid != 0 {
				return num(c.Event.Vtid), true
			}
			// Without the event's own value, the main thread's is its vpid.
			if c.Proc == nil || c.Event.Tid != c.Proc.Pid || c.Proc.Vpid == -1 {
				return Value{}, false
			}
			return num(c.Proc.Vpid), true
		})},
		"thread.ismain": {typ: TBool, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Proc == nil {
				return Value{}, false
			}
			return boolean(c.Event.Tid == c.Proc.Pid), true
		})},
		"thread.cap_effective":   procCached(pcCapEff, func(p *schema.Process) string { return capsText(p.CapEffective) }),
		"thread.cap_permitted":   procCached(pcCapPerm, func(p *schema.Process) string { return capsText(p.CapPermitted) }),
		"thread.cap_inheritable": procCached(pcCapInh, func(p *schema.Process) string { return capsText(p.CapInheritable) }),
	}
	m["proc.vtid"] = m["thread.vtid"]
	return m
}

// build0 returns the extractor of a def whose build ignores the field.
func (d *def) build0() func(c *Ctx) (Value, bool) {
	f := &Field{}
	if err := d.build(f); err != nil {
		panic(fmt.Sprintf("fields: %v", err))
	}
	return f.ext
}

func procStrOpt(get func(p *schema.Process) (string, bool)) *def {
	return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
		if c.Proc == nil {
			return Value{}, false
		}
		s, ok := get(c.Proc)
		return str(s), ok
	})}
}

func userFields() map[string]*def {
	return map[string]*def{
		"user.uid": procNumField(TUint64, func(p *schema.Process) (int64, bool) { return int64(p.Euid), true }),
		"user.name": procStrField(func(p *schema.Process) string {
			return nameOr(p.User, p.Euid)
		}),
		"user.loginuid": procNumField(TInt64, func(p *schema.Process) (int64, bool) {
			if p.LoginUID == 0xffffffff {
				return -1, true
			}
			return int64(p.LoginUID), true
		}),
		"user.loginname": procStrField(func(p *schema.Process) string {
			if p.LoginUID == 0xffffffff {
				return NA
			}
			return nameOr(p.LoginName, p.LoginUID)
		}),
		"group.gid":  procNumField(TUint64, func(p *schema.Process) (int64, bool) { return int64(p.Egid), true }),
		"group.name": procStrField(func(p *schema.Process) string { return nameOr(p.Group, p.Egid) }),
	}
}

// nameOr is a user or group name, falling back as libsinsp does: root
// for id 0 even without an entry, else the "<NA>" string.
func nameOr(name string, id uint32) string {
	switch {
	case name != "":
		return name
	case id == 0:
		return "root"
	}
	return NA
}
