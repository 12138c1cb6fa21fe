// Command testgen writes the schema-record events of testdata/rules/records and
// testdata/rules/drop, as `collector --print` would:
//
//	go run ./internal/testgen records > testdata/rules/records/events.jsonl
//	go run ./internal/testgen drop > testdata/rules/drop/events.jsonl
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const t0 = int64(1764583200000000000) // 2025-12-01T10:00:00Z

func proc(pid int64, comm, exepath string, args []string, cwd string, anc ...schema.Ancestor) *schema.Process {
	return &schema.Process{Pid: pid, Ppid: anc[0].Pid, Vpid: pid, Pgid: pid, Vpgid: pid, Sid: anc[len(anc)-1].Pid,
		Uid: 0, Euid: 0, Gid: 0, Egid: 0, LoginUID: 1000, User: "root", Group: "root", LoginName: "alice",
		Comm: comm, Exe: comm, ExePath: exepath, Args: args, Env: []string{"PATH=/usr/bin:/bin", "HOME=/root"},
		Cwd: cwd, TTY: 34816, SName: "bash", StartTs: t0 - 1000000, ContainerID: schema.HostContainerID,
		Ancestors: anc}
}

var sh = schema.Ancestor{Pid: 4100, Comm: "sh", Exe: "sh", ExePath: "/usr/bin/dash", Args: []string{"-c", "cat /etc/shadow"}}
var bash = schema.Ancestor{Pid: 4000, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash"}
var sshd = schema.Ancestor{Pid: 900, Comm: "sshd", Exe: "sshd", ExePath: "/usr/sbin/sshd"}

func ev(num uint64, dt int64, t schema.EventType, tid int64, res int64, args ...schema.Arg) schema.Event {
	return schema.Event{Num: num, Ts: t0 + dt, Type: t, CPU: 1, Tid: tid, Proc: -1, Res: res, Args: args}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testgen records|drop")
		os.Exit(2)
	}
	which := os.Args[1]
	var recs []schema.Record
	add := func(p *schema.Process, e schema.Event) {
		recs = append(recs, schema.Record{Node: "node1", Event: e, Proc: p})
	}
	I, S := schema.IntArg, schema.StrArg
	switch which {
	case "records":
		// cat /etc/shadow from sh -c: Read sensitive file untrusted.
		cat := proc(4101, "cat", "/usr/bin/cat", []string{"/etc/shadow"}, "/root/", sh, bash, sshd)
		e := ev(1, 0, schema.EventOpenat, 4101, 3, I(-100), S("/etc/shadow"), I(0), I(0), I(2049), I(131090))
		e.FD = &schema.FD{Num: 3, Type: 'f', Name: "/etc/shadow", NameRaw: "/etc/shadow", Flags: 0, Dev: 2049, Ino: 131090}
		add(cat, e)
		// cat /etc/hosts: nothing.
		cat2 := proc(4102, "cat", "/usr/bin/cat", []string{"/etc/hosts"}, "/root/", sh, bash, sshd)
		e = ev(2, 1000, schema.EventOpenat, 4102, 3, I(-100), S("/etc/hosts"), I(0), I(0), I(2049), I(131000))
		e.FD = &schema.FD{Num: 3, Type: 'f', Name: "/etc/hosts", NameRaw: "/etc/hosts", Dev: 2049, Ino: 131000}
		add(cat2, e)
		// find /etc -maxdepth 2 -name id_rsa: Search Private Keys or Passwords.
		find := proc(4103, "find", "/usr/bin/find", []string{"/etc", "-maxdepth", "2", "-name", "id_rsa"}, "/root/", bash, sshd)
		add(find, execve(3, 2000, find))
		// ln -s /etc/shadow /tmp/link: Create Symlink Over Sensitive Files.
		ln := proc(4104, "ln", "/usr/bin/ln", []string{"-s", "/etc/shadow", "/tmp/peregrine-link"}, "/root/", bash, sshd)
		add(ln, ev(4, 3000, schema.EventSymlinkat, 4104, 0, S("/etc/shadow"), I(-100), S("/tmp/peregrine-link")))
		// /dev/shm/x run: Execution from /dev/shm.
		shm := proc(4105, "true", "/dev/shm/true", nil, "/root/", bash, sshd)
		shm.Exe = "/dev/shm/true"
		add(shm, execve(5, 4000, shm))
	case "drop":
		e := ev(1, 0, schema.EventDrop, 0, 0, I(150), I(50), I(10000), I(1000000000))
		recs = append(recs, schema.Record{Node: "node1", Event: e})
		e = ev(2, 1000000000, schema.EventDrop, 0, 0, I(0), I(0), I(10000), I(1000000000))
		recs = append(recs, schema.Record{Node: "node1", Event: e})
	default:
		fmt.Fprintf(os.Stderr, "testgen: unknown set %q (records|drop)\n", which)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func execve(num uint64, dt int64, p *schema.Process) schema.Event {
	I, S := schema.IntArg, schema.StrArg
	args := ""
	for _, a := range p.Args {
		args += a + "\x00"
	}
	env := ""
	for _, a := range p.Env {
		env += a + "\x00"
	}
	return ev(num, dt, schema.EventExecve, p.Pid, 0,
		S(p.Exe), S(args), I(p.Pid), I(p.Pid), I(p.Ppid), S(p.Cwd), I(1024), I(0), I(0), I(1000), I(100), I(0),
		S(p.Comm), S("cpuset=/\x00"), S(env), I(int64(p.TTY)), I(p.Vpgid), I(int64(p.LoginUID)), I(0),
		I(0), I(0x1ffffffffff), I(0x1ffffffffff), I(1234), I(t0), I(t0), I(0), S(p.ExePath), I(p.Pgid), I(0))
}
