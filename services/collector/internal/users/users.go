// Package users names user and group ids the way Falco does: host ids from
// /etc/passwd and /etc/group, container ids from the container's own files
// (read through /proc/<pid>/root), "root" for 0 and "<NA>" when unknown.
package users

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// NA is the name of an unknown id, as Falco prints it.
const NA = "<NA>"

// Resolver caches passwd and group files per root. It is safe for
// concurrent use.
type Resolver struct {
	procRoot string // "/proc" normally
	hostRoot string // "/" normally

	mu    sync.Mutex
	cache map[string]*db // key: container id ("" for host)
}

type db struct {
	users, groups map[uint32]string
}

// New returns a resolver reading host files below hostRoot and container
// files below procRoot/<pid>/root. Empty arguments mean "/" and "/proc".
func New(hostRoot, procRoot string) *Resolver {
	if hostRoot == "" {
		hostRoot = "/"
	}
	if procRoot == "" {
		procRoot = "/proc"
	}
	return &Resolver{hostRoot: hostRoot, procRoot: procRoot, cache: map[string]*db{}}
}

// User returns the name of uid for a process. container is "" for host
// processes (or any process sharing the host's mount namespace); then pid
// is unused. A container's files are read once, on its first lookup, and
// retried when an id is missing.
func (r *Resolver) User(uid uint32, container string, pid int64) string {
	return r.lookup(uid, container, pid, true)
}

// Group is [Resolver.User] for group ids.
func (r *Resolver) Group(gid uint32, container string, pid int64) string {
	return r.lookup(gid, container, pid, false)
}

// Forget drops what is cached for container ("" for the host).
func (r *Resolver) Forget(container string) {
	r.mu.Lock()
	delete(r.cache, container)
	r.mu.Unlock()
}

func (r *Resolver) lookup(id uint32, container string, pid int64, user bool) string {
	if id == 0 {
		return "root"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.cache[container]
	for try := 0; try < 2; try++ {
		if d == nil {
			d = r.load(container, pid)
			r.cache[container] = d
		}
		m := d.groups
		if user {
			m = d.users
		}
		if n, ok := m[id]; ok {
			return n
		}
		if container == "" || try == 1 {
			break
		}
		d = nil // a user may have been added to the image: reload once
	}
	return NA
}

func (r *Resolver) load(container string, pid int64) *db {
	root := r.hostRoot
	if container != "" {
		root = filepath.Join(r.procRoot, strconv.FormatInt(pid, 10), "root")
	}
	return &db{
		users:  parse(filepath.Join(root, "etc/passwd")),
		groups: parse(filepath.Join(root, "etc/group")),
	}
}

// parse reads "name:x:id:..." lines.
func parse(path string) map[uint32]string {
	m := map[uint32]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.SplitN(sc.Bytes(), []byte(":"), 4)
		if len(f) < 3 || len(f[0]) == 0 || f[0][0] == '#' {
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = string(f[0])
		}
	}
	return m
}
