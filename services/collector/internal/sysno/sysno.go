// Package sysno names the x86_64 syscall numbers the collector captures and
// holds the default capture set.
package sysno

import (
	"fmt"
	"sort"
	"strings"
)

// Syscall numbers (x86_64, asm/unistd_64.h) the probe knows how to decode.
const (
	Read         = 0
	Write        = 1
	Open         = 2
	Close        = 3
	Pipe         = 22
	Dup          = 32
	Dup2         = 33
	Socket       = 41
	Connect      = 42
	Accept       = 43
	Sendto       = 44
	Recvfrom     = 45
	Sendmsg      = 46
	Recvmsg      = 47
	Bind         = 49
	Listen       = 50
	Socketpair   = 53
	Clone        = 56
	Fork         = 57
	Vfork        = 58
	Execve       = 59
	Fcntl        = 72
	Chdir        = 80
	Fchdir       = 81
	Rename       = 82
	Mkdir        = 83
	Rmdir        = 84
	Creat        = 85
	Link         = 86
	Unlink       = 87
	Symlink      = 88
	Chmod        = 90
	Fchmod       = 91
	Ptrace       = 101
	Setuid       = 105
	Setgid       = 106
	Setreuid     = 113
	Setregid     = 114
	Setresuid    = 117
	Setresgid    = 119
	Chroot       = 161
	Mount        = 165
	Umount2      = 166
	Init_module  = 175
	Openat       = 257
	Mkdirat      = 258
	Unlinkat     = 263
	Renameat     = 264
	Linkat       = 265
	Symlinkat    = 266
	Fchmodat     = 268
	Unshare      = 272
	Accept4      = 288
	Dup3         = 292
	Pipe2        = 293
	Setns        = 308
	Finit_module = 313
	Renameat2    = 316
	Memfd_create = 319
	Bpf          = 321
	Execveat     = 322
	Userfaultfd  = 323
	Clone3       = 435
	Openat2      = 437
	Fchmodat2    = 452
)

// Max is one past the highest syscall number the interest map holds.
const Max = 512

var names = map[uint32]string{
	Read:         "read",
	Write:        "write",
	Open:         "open",
	Close:        "close",
	Pipe:         "pipe",
	Dup:          "dup",
	Dup2:         "dup2",
	Socket:       "socket",
	Connect:      "connect",
	Accept:       "accept",
	Sendto:       "sendto",
	Recvfrom:     "recvfrom",
	Sendmsg:      "sendmsg",
	Recvmsg:      "recvmsg",
	Bind:         "bind",
	Listen:       "listen",
	Socketpair:   "socketpair",
	Clone:        "clone",
	Fork:         "fork",
	Vfork:        "vfork",
	Execve:       "execve",
	Fcntl:        "fcntl",
	Chdir:        "chdir",
	Fchdir:       "fchdir",
	Rename:       "rename",
	Mkdir:        "mkdir",
	Rmdir:        "rmdir",
	Creat:        "creat",
	Link:         "link",
	Unlink:       "unlink",
	Symlink:      "symlink",
	Chmod:        "chmod",
	Fchmod:       "fchmod",
	Ptrace:       "ptrace",
	Setuid:       "setuid",
	Setgid:       "setgid",
	Setreuid:     "setreuid",
	Setregid:     "setregid",
	Setresuid:    "setresuid",
	Setresgid:    "setresgid",
	Chroot:       "chroot",
	Mount:        "mount",
	Umount2:      "umount2",
	Init_module:  "init_module",
	Openat:       "openat",
	Mkdirat:      "mkdirat",
	Unlinkat:     "unlinkat",
	Renameat:     "renameat",
	Linkat:       "linkat",
	Symlinkat:    "symlinkat",
	Fchmodat:     "fchmodat",
	Unshare:      "unshare",
	Accept4:      "accept4",
	Dup3:         "dup3",
	Pipe2:        "pipe2",
	Setns:        "setns",
	Finit_module: "finit_module",
	Renameat2:    "renameat2",
	Memfd_create: "memfd_create",
	Bpf:          "bpf",
	Execveat:     "execveat",
	Userfaultfd:  "userfaultfd",
	Clone3:       "clone3",
	Openat2:      "openat2",
	Fchmodat2:    "fchmodat2",
}

var byName = func() map[string]uint32 {
	m := make(map[string]uint32, len(names))
	for nr, n := range names {
		m[n] = nr
	}
	return m
}()

// Name returns the syscall name of nr, or "syscall_<nr>" when unknown.
func Name(nr uint32) string {
	if n, ok := names[nr]; ok {
		return n
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// Lookup returns the number of the named syscall.
func Lookup(name string) (uint32, bool) {
	nr, ok := byName[name]
	return nr, ok
}

// Default is the capture set: every syscall the upstream Falco rules
// reference plus those the process and fd tables need.
var Default = []string{
	// referenced by the rules
	"open", "openat", "openat2", "creat", "execve", "execveat",
	"socket", "connect", "listen", "accept", "accept4",
	"sendto", "sendmsg", "recvfrom", "recvmsg",
	"dup", "dup2", "dup3", "symlink", "symlinkat", "link", "linkat",
	"rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir",
	"mkdir", "mkdirat", "chmod", "fchmod", "fchmodat", "fchmodat2", "ptrace",
	"setuid", "setns", "unshare", "userfaultfd", "bpf",
	"init_module", "finit_module",
	// state: fd table, cwd, credentials
	"close", "chdir", "fchdir", "fcntl", "pipe", "pipe2", "bind",
	"socketpair", "memfd_create", "setgid", "setreuid", "setregid",
	"setresuid", "setresgid", "mount", "umount2", "chroot",
}

// EnterDefault are the syscalls that also produce an enter record, as
// Falco's TOCTOU mitigation does.
var EnterDefault = []string{"open", "openat", "openat2", "creat", "connect"}

// Parse turns a comma separated list of names into numbers. The word
// "default" expands to [Default]. Returns an error naming the first
// unknown syscall.
func Parse(list string) ([]uint32, error) {
	seen := map[uint32]bool{}
	var out []uint32
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		expand := []string{n}
		if n == "default" {
			expand = Default
		}
		for _, e := range expand {
			nr, ok := Lookup(e)
			if !ok {
				return nil, fmt.Errorf("syscall %q: unknown", e)
			}
			if !seen[nr] {
				seen[nr] = true
				out = append(out, nr)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// MustParse is [Parse] for the built-in lists; it panics on a bad name.
func MustParse(names []string) []uint32 {
	nrs, err := Parse(strings.Join(names, ","))
	if err != nil {
		panic(err)
	}
	return nrs
}
