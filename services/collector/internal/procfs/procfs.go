// Package procfs reads the process and socket state the collector seeds its
// tables with: /proc/<pid>/{stat,status,cmdline,environ,exe,cwd,cgroup,
// loginuid,ns/*,fd/*} and /proc/<pid>/net/{tcp,tcp6,udp,udp6,unix}.
//
// Readers return what they could read; a process that exits mid-scan
// yields an error wrapping [fs.ErrNotExist].
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FS is a proc mount, normally "/proc".
type FS string

// Proc is one process as /proc shows it.
type Proc struct {
	Pid, Ppid, Pgid, Sid   int64
	Vpid, Vpgid            int64
	TTY                    uint32 // raw tty_nr (Falco's encoding is the same)
	StartTicks             uint64 // field 22 of stat, clock ticks since boot
	Comm                   string
	Uid, Euid, Gid, Egid   uint32
	CapInh, CapPrm, CapEff uint64
	LoginUID               uint32
	Argv, Env              []string
	ExePath, Cwd           string
	Cgroup                 string    // content of /proc/<pid>/cgroup
	NS                     [7]uint64 // pid mnt net user uts ipc cgroup
	// PidNSDepth is the number of NSpid entries: 1 for a process in the
	// pid namespace of this /proc, which tells its pid namespace where
	// the ns link cannot be read (a sandbox may hide another's links).
	PidNSDepth int
}

// Pids lists the numeric entries of the proc root.
func (f FS) Pids() ([]int64, error) {
	ents, err := os.ReadDir(string(f))
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f FS) path(pid int64, parts ...string) string {
	return filepath.Join(append([]string{string(f), strconv.FormatInt(pid, 10)}, parts...)...)
}

// NSNames are the /proc/<pid>/ns entries in [Proc.NS] order.
var NSNames = [7]string{"pid", "mnt", "net", "user", "uts", "ipc", "cgroup"}

// Read reads one process. Only a missing stat file is an error: other
// files (exe, environ) may be unreadable for kernel threads or zombies.
func (f FS) Read(pid int64) (*Proc, error) {
	stat, err := os.ReadFile(f.path(pid, "stat"))
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	p := &Proc{Pid: pid}
	if err := parseStat(stat, p); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	if b, err := os.ReadFile(f.path(pid, "status")); err == nil {
		parseStatus(b, p)
	}
	if b, err := os.ReadFile(f.path(pid, "cmdline")); err == nil {
		p.Argv = splitNul(b)
	}
	if b, err := os.ReadFile(f.path(pid, "environ")); err == nil {
		p.Env = splitNul(b)
	}
	p.ExePath, _ = os.Readlink(f.path(pid, "exe"))
	p.ExePath = strings.TrimSuffix(p.ExePath, " (deleted)")
	p.Cwd, _ = os.Readlink(f.path(pid, "cwd"))
	if b, err := os.ReadFile(f.path(pid, "cgroup")); err == nil {
		p.Cgroup = string(b)
	}
	p.LoginUID = 4294967295
	if b, err := os.ReadFile(f.path(pid, "loginuid")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			p.LoginUID = uint32(n)
		}
	}
	for i, n := range NSNames {
		p.NS[i] = NSInode(f.path(pid, "ns", n))
	}
	return p, nil
}

// NSInode returns the inode in a "type:[inode]" namespace link, 0 if
// unreadable.
func NSInode(link string) uint64 {
	l, err := os.Readlink(link)
	if err != nil {
		return 0
	}
	return bracketNum(l)
}

func bracketNum(s string) uint64 {
	i := strings.IndexByte(s, '[')
	j := strings.LastIndexByte(s, ']')
	if i < 0 || j < i {
		return 0
	}
	n, _ := strconv.ParseUint(s[i+1:j], 10, 64)
	return n
}

func parseStat(b []byte, p *Proc) error {
	// comm may hold spaces and parentheses: it ends at the last ')'.
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return fmt.Errorf("stat: malformed")
	}
	p.Comm = string(b[i+1 : j])
	f := strings.Fields(string(b[j+1:]))
	// f[0] is state (field 3); field n is f[n-3]
	if len(f) < 20 {
		return fmt.Errorf("stat: %d fields", len(f))
	}
	p.Ppid, _ = strconv.ParseInt(f[1], 10, 64)
	p.Pgid, _ = strconv.ParseInt(f[2], 10, 64)
	p.Sid, _ = strconv.ParseInt(f[3], 10, 64)
	tty, _ := strconv.ParseInt(f[4], 10, 64)
	p.TTY = uint32(tty)
	p.StartTicks, _ = strconv.ParseUint(f[19], 10, 64)
	return nil
}

func parseStatus(b []byte, p *Proc) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		switch k {
		case "Uid", "Gid":
			if len(f) >= 2 {
				r, _ := strconv.ParseUint(f[0], 10, 32)
				e, _ := strconv.ParseUint(f[1], 10, 32)
				if k == "Uid" {
					p.Uid, p.Euid = uint32(r), uint32(e)
				} else {
					p.Gid, p.Egid = uint32(r), uint32(e)
				}
			}
		case "CapInh", "CapPrm", "CapEff":
			if len(f) == 1 {
				n, _ := strconv.ParseUint(f[0], 16, 64)
				switch k {
				case "CapInh":
					p.CapInh = n
				case "CapPrm":
					p.CapPrm = n
				default:
					p.CapEff = n
				}
			}
		case "NSpid", "NSpgid":
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
				if k == "NSpid" {
					p.Vpid = n
					p.PidNSDepth = len(f)
				} else {
					p.Vpgid = n
				}
			}
		}
	}
}

func splitNul(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}
