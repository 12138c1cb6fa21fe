package schema

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// collectorBatch is a batch shaped like the collector's busy-node output:
// 512 events (70% openat, 20% connect, 10% execve) of 32 processes in 4
// containers, each process with argv, a container environment and seven
// ancestors, as batch.Builder and state.Table.Snapshot write them.
func collectorBatch() *Batch {
	b := &Batch{Version: Version, Node: "ip-10-0-3-17.ec2.internal", Seq: 918273, BootID: "3f9c2a7e-5b1d-4c8e-9a6f-0d2e4b7c1a93"}
	cid := func(k int) string { return strings.Repeat(fmt.Sprintf("%x", 0xa0+k), 32)[:64] }
	comms := []string{"nginx", "python3", "java", "sh", "curl", "node", "postgres", "redis-server"}
	exes := []string{"/usr/sbin/nginx", "/usr/bin/python3.11", "/usr/lib/jvm/java-17/bin/java", "/bin/sh",
		"/usr/bin/curl", "/usr/local/bin/node", "/usr/lib/postgresql/15/bin/postgres", "/usr/bin/redis-server"}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=web-7d9f8c6b5-x2x4z",
		"HOME=/root", "LANG=C.UTF-8", "KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443",
		"KUBERNETES_PORT=tcp://10.96.0.1:443", "APP_ENV=production", "LOG_LEVEL=info", "TZ=UTC"}
	ancestors := []Ancestor{
		{Pid: 4100, Comm: "sh", Exe: "/bin/sh", ExePath: "/bin/sh", Args: []string{"-c", "/entrypoint.sh"}, StartTs: 1700000000000000000},
		{Pid: 4001, Comm: "tini", Exe: "/sbin/tini", ExePath: "/sbin/tini", Args: []string{"--", "/entrypoint.sh"}, StartTs: 1699999999000000000},
		{Pid: 3990, Comm: "containerd-shim", Exe: "/usr/bin/containerd-shim-runc-v2", ExePath: "/usr/bin/containerd-shim-runc-v2",
			Args: []string{"-namespace", "k8s.io", "-id", cid(0), "-address", "/run/containerd/containerd.sock"}, StartTs: 1699999998000000000},
		{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd", StartTs: 1699990000000000000},
	}
	for k := 0; k < 32; k++ {
		c := k % len(comms)
		b.Procs = append(b.Procs, Process{
			Pid: int64(5000 + k), Ppid: 4100, Vpid: int64(10 + k), Pgid: 4100, Vpgid: 1, Sid: 4100,
			Uid: 1000, Euid: 1000, Gid: 1000, Egid: 1000, LoginUID: 4294967295, User: "app", Group: "app", LoginName: "",
			Comm: comms[c], Exe: comms[c], ExePath: exes[c], Args: []string{"--config", "/etc/app/config.yaml", fmt.Sprintf("--worker=%d", k)},
			Env: env, Cwd: "/srv/app/", SName: "sh", CapEffective: 0xa80425fb, CapPermitted: 0xa80425fb,
			ExeIno: uint64(131000 + c), ExeInoCtime: 1690000000000000000, ExeInoMtime: 1690000000000000000,
			StartTs: 1700000000100000000 + int64(k), PidNSInitStartTs: 1699999999000000000, CgroupID: uint64(9000 + k%4),
			Cgroup:      fmt.Sprintf("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-%s.scope", cid(k%4)),
			ContainerID: cid(k % 4),
			NS:          Namespaces{Pid: 4026532000 + uint64(k%4), Mnt: 4026532100, Net: 4026532200, User: 4026531837, UTS: 4026532300, IPC: 4026532400, Cgroup: 4026532500},
			NSID:        Namespaces{Pid: 100 + uint64(k%4), Mnt: 200, Net: 300},
			Ancestors:   append(append([]Ancestor{}, ancestors...), ancestors[:3]...),
		})
	}
	paths := []string{"/etc/ld.so.cache", "/lib/x86_64-linux-gnu/libc.so.6", "/etc/app/config.yaml", "/proc/self/status",
		"/srv/app/static/index.html", "/var/log/app/access.log", "/etc/passwd", "/tmp/upload-8f3a.tmp"}
	for k := 0; k < 512; k++ {
		ev := Event{Num: uint64(7_000_000 + k), Ts: 1700000001000000000 + int64(k)*1375, CPU: uint16(k % 2),
			Proc: int32(k % 32), Tid: int64(5000 + k%32), Vtid: int64(10 + k%32)}
		switch {
		case k%10 == 9:
			p := &b.Procs[ev.Proc]
			ev.Type = EventExecve
			ev.Args = []Arg{StrArg(p.Exe), StrArg("--config\x00/etc/app/config.yaml\x00"), IntArg(ev.Tid), IntArg(p.Pid), IntArg(p.Ppid),
				StrArg(p.Cwd), IntArg(1048576), IntArg(0), IntArg(312), IntArg(12000), IntArg(4000), IntArg(0), StrArg(p.Comm),
				StrArg("cpuset=/\x00cpu=/\x00memory=" + p.Cgroup + "\x00"), StrArg(strings.Join(p.Env, "\x00")), IntArg(0), IntArg(p.Vpgid),
				IntArg(int64(p.LoginUID)), IntArg(0), IntArg(0), IntArg(int64(p.CapPermitted)), IntArg(int64(p.CapEffective)),
				IntArg(int64(p.ExeIno)), IntArg(p.ExeInoCtime), IntArg(p.ExeInoMtime), IntArg(1000), StrArg(p.ExePath),
				IntArg(p.Pgid), IntArg(1000), StrArg(p.ExePath)}
		case k%10 >= 7:
			tu := Tuple{Family: AFInet, SrcIP: netip.MustParseAddr("10.244.1.17"), SrcPort: uint16(40000 + k),
				DstIP: netip.MustParseAddr("10.96.12.5"), DstPort: 5432}
			ev.Type, ev.Res = EventConnect, 0
			ev.Args = []Arg{StrArg(tu.Bytes()), IntArg(7), StrArg(string([]byte{2, 0, 0x15, 0x38, 10, 96, 12, 5}))}
			ev.FD = &FD{Num: 7, Type: '4', Name: fmt.Sprintf("10.244.1.17:%d->10.96.12.5:5432", 40000+k), Family: AFInet, L4: 6,
				Role: RoleClient, Connected: true, ClientIP: tu.SrcIP, ClientPort: tu.SrcPort, ServerIP: tu.DstIP, ServerPort: tu.DstPort}
		default:
			path := paths[k%len(paths)]
			ev.Type, ev.Res = EventOpenat, 12
			ev.Args = []Arg{IntArg(-100), StrArg(path), IntArg(0x80000), IntArg(0), IntArg(2049), IntArg(int64(262000 + k%len(paths)))}
			ev.FD = &FD{Num: 12, Type: 'f', Name: path, NameRaw: path, Flags: 0x80000 | 1, Dev: 2049, Ino: uint64(262000 + k%len(paths))}
		}
		b.Events = append(b.Events, ev)
	}
	return b
}

// BenchmarkUnmarshalCollectorBatch is the evaluator's decode cost on a
// realistic batch; ns/event is what the replica pays per event.
func BenchmarkUnmarshalCollectorBatch(b *testing.B) {
	data, err := Marshal(collectorBatch())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/event")
}

// BenchmarkMarshalCollectorBatch is the collector's side, to see that
// decoding work did not move cost into encoding.
func BenchmarkMarshalCollectorBatch(b *testing.B) {
	batch := collectorBatch()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/event")
}
