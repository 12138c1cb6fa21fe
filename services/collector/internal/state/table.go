package state

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/collector/internal/containerid"
	"github.com/peregrine-rt/peregrine/services/collector/internal/procfs"
	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
	"github.com/peregrine-rt/peregrine/services/collector/internal/users"
)

// MaxAncestors bounds the ancestor chain copied into each event.
const MaxAncestors = 16

// Proc is one thread group. Process fields are replaced, never mutated in
// place (slices are shared with copies already handed out).
type Proc struct {
	schema.Process
	FDs map[int64]*schema.FD
	// Gen grows on every change, so batches can share an unchanged copy.
	Gen uint64
	// Filename is the path the last execve was given (bprm->filename).
	Filename string
}

// Clock converts probe timestamps (CLOCK_BOOTTIME ns) to wall clock ns.
type Clock interface {
	Wall(bootNs uint64) int64
}

// Table is the process table. See the package comment for concurrency.
type Table struct {
	procs     map[int64]*Proc
	fs        procfs.FS
	users     *users.Resolver
	clock     Clock
	hostMntNS uint64
	procPidNS uint64            // pid namespace of the /proc the table reads
	memcg     map[uint64]string // memory cgroup id -> path
	// nsInit is the start (wall ns) of each pid namespace's init, by the
	// namespace's inode: proc.pidns_init_start_ts, container.start_ts.
	nsInit    map[uint64]int64
	ticksToNs int64
	bootWall  int64 // wall clock ns of boot, for /proc start times
}

// Config configures [New].
type Config struct {
	Proc  procfs.FS       // "/proc" when empty
	Users *users.Resolver // users.New("", "") when nil
	Clock Clock
}

// New returns an empty table.
func New(c Config) *Table {
	if c.Proc == "" {
		c.Proc = "/proc"
	}
	if c.Users == nil {
		c.Users = users.New("", "")
	}
	t := &Table{procs: map[int64]*Proc{}, fs: c.Proc, users: c.Users, clock: c.Clock,
		memcg: map[uint64]string{}, nsInit: map[uint64]int64{}, ticksToNs: 1e9 / 100}
	// "Host" is the collector's own mount namespace: paths it resolves are
	// resolved there.
	t.hostMntNS = procfs.NSInode(filepath.Join(string(c.Proc), "self/ns/mnt"))
	t.procPidNS = procfs.NSInode(filepath.Join(string(c.Proc), "self/ns/pid"))
	if c.Clock != nil {
		t.bootWall = c.Clock.Wall(0)
	}
	return t
}

// Len is the number of processes.
func (t *Table) Len() int { return len(t.procs) }

// Get returns the process pid, or nil.
func (t *Table) Get(pid int64) *Proc { return t.procs[pid] }

// Remove drops pid; when it was a pid namespace's init, the namespace is
// gone too (its other processes were killed with it).
func (t *Table) Remove(pid int64) {
	if p := t.procs[pid]; p != nil && p.Vpid == 1 && t.nsInit[p.NS.Pid] == p.StartTs {
		delete(t.nsInit, p.NS.Pid)
	}
	delete(t.procs, pid)
}

// noteInit records p's start as its pid namespace's when p is the
// namespace's init (pid 1 in it).
func (t *Table) noteInit(p *Proc) {
	if p.Vpid == 1 && p.NS.Pid != 0 && p.StartTs != 0 {
		t.nsInit[p.NS.Pid] = p.StartTs
	}
}

// Seed scans /proc and adds every process with its fds. Errors about
// processes that exited mid-scan are ignored; it returns how many
// processes it added.
func (t *Table) Seed() (int, error) {
	pids, err := t.fs.Pids()
	if err != nil {
		return 0, err
	}
	socks := map[uint64]map[uint64]procfs.Sock{} // per net namespace
	n := 0
	for _, pid := range pids {
		pp, err := t.fs.Read(pid)
		if err != nil {
			continue
		}
		p := t.fromProcfs(pp)
		netns := pp.NS[2]
		s, ok := socks[netns]
		if !ok {
			s = t.fs.Socks(pid)
			socks[netns] = s
		}
		t.seedFDs(p, s)
		t.procs[pid] = p
		n++
	}
	return n, nil
}

// Discover reads one process from /proc (a process the seed scan missed).
func (t *Table) Discover(pid int64) *Proc {
	pp, err := t.fs.Read(pid)
	if err != nil {
		return nil
	}
	p := t.fromProcfs(pp)
	t.seedFDs(p, t.fs.Socks(pid))
	t.procs[pid] = p
	return p
}

func (t *Table) seedFDs(p *Proc, socks map[uint64]procfs.Sock) {
	fds, err := t.fs.FDs(p.Pid)
	if err != nil {
		return
	}
	for _, e := range fds {
		p.FDs[e.Num] = FDFromProc(e, socks)
	}
}

func (t *Table) fromProcfs(pp *procfs.Proc) *Proc {
	p := &Proc{FDs: map[int64]*schema.FD{}}
	sp := &p.Process
	sp.Pid, sp.Ppid, sp.Pgid, sp.Sid = pp.Pid, pp.Ppid, pp.Pgid, pp.Sid
	sp.Vpid, sp.Vpgid = pp.Vpid, pp.Vpgid
	sp.Uid, sp.Euid, sp.Gid, sp.Egid = pp.Uid, pp.Euid, pp.Gid, pp.Egid
	sp.LoginUID = pp.LoginUID
	sp.Comm = pp.Comm
	if len(pp.Argv) > 0 {
		sp.Exe = pp.Argv[0]
		sp.Args = pp.Argv[1:]
	}
	sp.Env = pp.Env
	sp.ExePath = pp.ExePath
	sp.Cwd = dirSlash(pp.Cwd)
	sp.TTY = pp.TTY
	sp.CapInheritable, sp.CapPermitted, sp.CapEffective = pp.CapInh, pp.CapPrm, pp.CapEff
	if t.bootWall != 0 {
		sp.StartTs = t.bootWall + int64(pp.StartTicks)*t.ticksToNs
	}
	sp.ContainerID, _, sp.Cgroup = containerid.FromProcCgroup(pp.Cgroup)
	sp.NS = schema.Namespaces{Pid: pp.NS[0], Mnt: pp.NS[1], Net: pp.NS[2], User: pp.NS[3],
		UTS: pp.NS[4], IPC: pp.NS[5], Cgroup: pp.NS[6]}
	if sp.NS.Pid == 0 && pp.PidNSDepth == 1 {
		sp.NS.Pid = t.procPidNS
	}
	t.names(p)
	t.noteInit(p)
	return p
}

func dirSlash(d string) string {
	if d == "" || strings.HasSuffix(d, "/") {
		return d
	}
	return d + "/"
}

// names refreshes the user, group and login names.
func (t *Table) names(p *Proc) {
	c := ""
	if p.ContainerID != schema.HostContainerID && p.ContainerID != "" && p.NS.Mnt != t.hostMntNS {
		c = p.ContainerID
	}
	p.User = t.users.User(p.Euid, c, p.Pid)
	p.Group = t.users.Group(p.Egid, c, p.Pid)
	switch p.LoginUID {
	case 4294967295:
		p.LoginName = users.NA
	default:
		p.LoginName = t.users.User(p.LoginUID, c, p.Pid)
	}
}

// Touch returns the process of h, creating it from /proc (or from h alone)
// when unknown, and refreshes it from h's credentials, namespaces,
// cgroups and tty unless h's context is unknown (h.Partial).
func (t *Table) Touch(h *record.Header) *Proc {
	pid := int64(h.Pid)
	p := t.procs[pid]
	if p == nil {
		p = t.Discover(pid)
		if p == nil {
			p = &Proc{FDs: map[int64]*schema.FD{}}
			p.Pid = pid
			p.Comm = h.CommString()
			p.ContainerID = schema.HostContainerID
			t.procs[pid] = p
		}
		p.Gen++
	}
	if !h.Partial {
		t.refresh(p, h)
	}
	return p
}

func (t *Table) refresh(p *Proc, h *record.Header) {
	sp := &p.Process
	ns := schema.Namespaces{Pid: uint64(h.NSInum[record.NSPid]), Mnt: uint64(h.NSInum[record.NSMnt]),
		Net: uint64(h.NSInum[record.NSNet]), User: uint64(h.NSInum[record.NSUser]),
		UTS: uint64(h.NSInum[record.NSUTS]), IPC: uint64(h.NSInum[record.NSIPC]),
		Cgroup: uint64(h.NSInum[record.NSCgroup])}
	nsid := schema.Namespaces{Pid: h.NSID[record.NSPid], Mnt: h.NSID[record.NSMnt], Net: h.NSID[record.NSNet],
		User: h.NSID[record.NSUser], UTS: h.NSID[record.NSUTS], IPC: h.NSID[record.NSIPC],
		Cgroup: h.NSID[record.NSCgroup]}
	if ns.Mnt == 0 {
		ns, nsid = sp.NS, sp.NSID // an exiting task has dropped its nsproxy
	}
	creds := sp.Uid != h.Uid || sp.Euid != h.Euid || sp.Gid != h.Gid || sp.Egid != h.Egid || sp.LoginUID != h.LoginUID
	if !creds && sp.Ppid == int64(h.Ppid) && sp.CapEffective == h.CapEff && sp.CapPermitted == h.CapPrm &&
		sp.CapInheritable == h.CapInh && sp.TTY == h.TTY && sp.Sid == int64(h.Sid) && sp.Pgid == int64(h.Pgid) &&
		sp.Vpgid == int64(h.Vpgid) && sp.Vpid == int64(h.Vpid) && sp.CgroupID == h.CgroupID &&
		sp.MemCgroupID == h.MemcgID && sp.NS == ns && sp.NSID == nsid {
		return
	}
	p.Gen++
	sp.Ppid = int64(h.Ppid)
	sp.Uid, sp.Euid, sp.Gid, sp.Egid, sp.LoginUID = h.Uid, h.Euid, h.Gid, h.Egid, h.LoginUID
	sp.CapEffective, sp.CapPermitted, sp.CapInheritable = h.CapEff, h.CapPrm, h.CapInh
	sp.TTY = h.TTY
	sp.Sid, sp.Pgid, sp.Vpgid, sp.Vpid = int64(h.Sid), int64(h.Pgid), int64(h.Vpgid), int64(h.Vpid)
	sp.CgroupID = h.CgroupID
	if sp.MemCgroupID != h.MemcgID {
		sp.MemCgroupID = h.MemcgID
		t.cgroupFor(p)
		creds = true
	}
	sp.NS, sp.NSID = ns, nsid
	if creds {
		t.names(p)
	}
	t.noteInit(p)
}

// cgroupFor sets Cgroup and ContainerID from the memory cgroup id, learnt
// from exec records, else from /proc/<pid>/cgroup.
func (t *Table) cgroupFor(p *Proc) {
	path, ok := t.memcg[p.MemCgroupID]
	if !ok {
		b, err := os.ReadFile(filepath.Join(string(t.fs), strconv.FormatInt(p.Pid, 10), "cgroup"))
		if err != nil {
			return
		}
		var id string
		id, _, path = containerid.FromProcCgroup(string(b))
		p.ContainerID = id
		p.Cgroup = path
		return
	}
	p.Cgroup = path
	p.ContainerID, _ = containerid.Parse(path)
}

// Fork adds the child described by a fork record; the parent is the
// record's process. Returns the child.
func (t *Table) Fork(parent *Proc, f record.Fork) *Proc {
	c := &Proc{Process: parent.Process, FDs: make(map[int64]*schema.FD, len(parent.FDs))}
	for k, v := range parent.FDs {
		c.FDs[k] = v
	}
	c.Pid = int64(f.ChildPid)
	c.Vpid = int64(f.ChildVpid)
	c.Ppid = parent.Pid
	c.Ancestors = nil
	if t.clock != nil {
		c.StartTs = t.clock.Wall(f.StartNs)
	}
	c.Gen = 1
	t.procs[c.Pid] = c
	return c
}

// Exec applies an exec record to p: new image, argv, env, exe path and
// cgroup; close-on-exec fds are dropped.
func (t *Table) Exec(p *Proc, rec *record.Record) {
	p.Gen++
	sp := &p.Process
	sp.Comm = rec.CommString()
	var filename, interp string
	var file record.File
	var exeInfo record.Exe
	var comps []string
	strs := 0
	for _, it := range rec.Items {
		switch it.Type {
		case record.ItemStr:
			if strs == 0 {
				filename = string(it.Data)
			} else {
				interp = string(it.Data)
			}
			strs++
		case record.ItemArgv:
			argv := record.SplitNul(it.Data)
			sp.Exe, sp.Args = "", nil
			if len(argv) > 0 {
				sp.Exe = argv[0]
				sp.Args = argv[1:]
			}
		case record.ItemEnv:
			sp.Env = record.SplitNul(it.Data)
		case record.ItemFile:
			file, _ = record.ParseFile(it.Data)
		case record.ItemExe:
			exeInfo, _ = record.ParseExe(it.Data)
		case record.ItemCgroup:
			comps = append(comps, string(it.Data))
		}
	}
	p.Filename = filename
	sp.ExeIno = file.Ino
	sp.ExeInoCtime, sp.ExeInoMtime = int64(exeInfo.CtimeNs), int64(exeInfo.MtimeNs)
	sp.ExeFlags = exeInfo.Flags & (schema.ExecUpperLayer | schema.ExecLowerLayer)
	// The exe link is right only while the process still runs this image:
	// check the inode before trusting it.
	exe := ""
	link := filepath.Join(string(t.fs), strconv.FormatInt(p.Pid, 10), "exe")
	if l, err := os.Readlink(link); err == nil {
		if st, err := os.Stat(link); err == nil && statIno(st) == file.Ino {
			exe = strings.TrimSuffix(l, " (deleted)")
		}
	}
	if exe == "" {
		exe = interp
		if exe == "" {
			exe = filename
		}
		exe = Join(strings.TrimSuffix(sp.Cwd, "/"), exe)
		// The process is gone already: resolve symlinks ourselves, which
		// is only right in the host's mount namespace.
		if sp.NS.Mnt == t.hostMntNS || sp.NS.Mnt == 0 {
			if r, err := filepath.EvalSymlinks(exe); err == nil {
				exe = r
			}
		}
	}
	sp.ExePath = exe
	if strings.HasPrefix(exe, "/memfd:") {
		sp.ExeFlags |= schema.ExecFromMemfd
	}
	if len(comps) > 0 {
		path := ""
		for i := len(comps) - 1; i >= 0; i-- {
			path += "/" + comps[i]
		}
		t.memcg[rec.MemcgID] = path
		sp.Cgroup = path
		sp.ContainerID, _ = containerid.Parse(path)
	}
	for n, fd := range p.FDs {
		if fd.Flags&OCloexec != 0 {
			delete(p.FDs, n)
		}
	}
	if !rec.Partial {
		t.refresh(p, &rec.Header)
	}
	t.names(p)
}

// Ancestors returns the parent chain of p, parent first.
func (t *Table) Ancestors(p *Proc) []schema.Ancestor {
	var out []schema.Ancestor
	seen := map[int64]bool{p.Pid: true}
	for pid := p.Ppid; pid > 0 && len(out) < MaxAncestors && !seen[pid]; {
		seen[pid] = true
		a := t.procs[pid]
		if a == nil {
			break
		}
		out = append(out, schema.Ancestor{Pid: a.Pid, Comm: a.Comm, Exe: a.Exe, ExePath: a.ExePath, Args: a.Args})
		pid = a.Ppid
	}
	return out
}

// SName is the comm of p's session leader, "" when unknown.
func (t *Table) SName(p *Proc) string {
	if l := t.procs[p.Sid]; l != nil {
		return l.Comm
	}
	return ""
}

// Snapshot returns a copy of p's process with ancestors and session
// leader name, as it goes into a batch.
func (t *Table) Snapshot(p *Proc) schema.Process {
	sp := p.Process
	sp.Ancestors = t.Ancestors(p)
	sp.SName = t.SName(p)
	sp.PidNSInitStartTs = t.nsInit[sp.NS.Pid]
	return sp
}

// Sweep removes processes that no longer exist in /proc: their exit
// record was lost (ring full). It returns how many it removed.
func (t *Table) Sweep() int {
	n := 0
	for pid := range t.procs {
		if _, err := os.Stat(filepath.Join(string(t.fs), strconv.FormatInt(pid, 10))); os.IsNotExist(err) {
			delete(t.procs, pid)
			n++
		}
	}
	return n
}
