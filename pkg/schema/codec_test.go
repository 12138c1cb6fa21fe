package schema

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sampleBatch() *Batch {
	return &Batch{
		Version: Version, Node: "node-1", Seq: 42, BootID: "b00t",
		Procs: []Process{{
			Pid: 100, Ppid: 1, Vpid: 100, Uid: 0, Euid: 0, LoginUID: 4294967295, User: "root", Group: "root",
			Comm: "cat", Exe: "cat", ExePath: "/usr/bin/cat", Args: []string{"/etc/shadow"}, Cwd: "/root/",
			CapEffective: 0x1ffffffffff, ContainerID: HostContainerID, NS: Namespaces{Pid: 4026531836, Mnt: 4026531841}, NSID: Namespaces{Pid: 5, Net: 9},
			Ancestors: []Ancestor{{Pid: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd"}},
		}},
		Containers: []Container{{ID: "abc", Type: "docker", Labels: map[string]string{"a": "b"},
			Mounts: []Mount{{Source: "/", Dest: "/host", RW: true}},
			Pod:    &Pod{Name: "p", Namespace: "default", Labels: map[string]string{"app": "x"}}}},
		Events: []Event{
			{Num: 1, Ts: 1700000000123456789, Type: EventOpenat, CPU: 1, Tid: 100, Vtid: 1, Proc: 0, Res: 3,
				Args: []Arg{IntArg(-100), {Str: "shadow", Resolved: "/etc/shadow"}, IntArg(0), IntArg(0), IntArg(2049), IntArg(1234)},
				FD:   &FD{Num: 3, Type: 'f', Name: "/etc/shadow", NameRaw: "shadow"}},
			{Num: 2, Ts: 1700000000123456790, Type: EventConnect, Tid: 100, Proc: 0, Res: 0,
				Args: []Arg{StrArg(Tuple{Family: AFInet, SrcIP: netip.MustParseAddr("127.0.0.1"), SrcPort: 5000,
					DstIP: netip.MustParseAddr("127.0.0.1"), DstPort: 80}.Bytes()), IntArg(4), StrArg("")},
				FD: &FD{Num: 4, Type: '4', Family: AFInet, L4: 6, Role: RoleClient, Connected: true,
					ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 5000, ServerIP: netip.MustParseAddr("127.0.0.1"), ServerPort: 80}},
			{Num: 3, Type: EventDrop, Proc: -1, Args: []Arg{IntArg(10), IntArg(0), IntArg(1000), IntArg(1e9)}},
		},
	}
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestRoundTrip(t *testing.T) {
	b := sampleBatch()
	data, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got, addrCmp); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good, err := Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	future := sampleBatch()
	future.Version = Version + 1
	futureData, _ := Marshal(future)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)/2], ErrTruncated},
		{"one byte short", good[:len(good)-1], ErrTruncated},
		{"future version", futureData, ErrVersion},
		{"not an array", []byte{0xa3, 'a', 'b', 'c'}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Unmarshal(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	b := sampleBatch()
	for _, rec := range b.Records() {
		data, err := rec.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var got Record
		if err := got.UnmarshalJSON(data); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if diff := cmp.Diff(rec, got, addrCmp); diff != "" {
			t.Errorf("record %s (-want +got):\n%s", data, diff)
		}
	}
}

func TestRuleSlugAndSubjects(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Read sensitive file untrusted", "read_sensitive_file_untrusted"},
		{"Create Symlink Over Sensitive Files", "create_symlink_over_sensitive_files"},
		{"Execution from /dev/shm", "execution_from_dev_shm"},
		{"  Lead--Trail!! ", "_lead_trail_"},
		{"K8s: Ünicode", "k8s_nicode"},
	}
	for _, tt := range tests {
		if got := RuleSlug(tt.in); got != tt.want {
			t.Errorf("RuleSlug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := AlertSubject(PriorityWarning, "Read sensitive file untrusted"); got != "alerts.warning.read_sensitive_file_untrusted" {
		t.Errorf("AlertSubject = %q", got)
	}
	if got := RawSubject("ip-10.0.0.1"); got != "events.raw.ip-10_0_0_1" {
		t.Errorf("RawSubject = %q", got)
	}
}

func TestTupleRoundTrip(t *testing.T) {
	for _, tu := range []Tuple{
		{Family: AFInet6, SrcIP: netip.MustParseAddr("::1"), DstIP: netip.MustParseAddr("fe80::1"), SrcPort: 1, DstPort: 2},
		{Family: AFUnix, SrcPtr: 0xffff1, DstPtr: 0xffff2, Path: "/run/x.sock"},
	} {
		got, err := ParseTuple(tu.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tu, got, addrCmp); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	if _, err := ParseTuple("\x02\x00"); !errors.Is(err, ErrBadSockaddr) {
		t.Errorf("short tuple: err = %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	good, _ := Marshal(sampleBatch())
	f.Add(good)
	f.Add(good[:10])
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if _, err := Marshal(b); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
