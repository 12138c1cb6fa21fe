package fields

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		spelling string
		want     error
	}{
		{"proc.nme", ErrUnknownField},
		{"evt.arg.nosuchparam", ErrUnknownField},
		{"k8s.pod.nope", ErrUnknownField},
		{"proc.name[1]", ErrBadArg},
		{"proc.aname[x]", ErrBadArg},
		{"proc.aname[-1]", ErrBadArg},
		{"proc.acmdline", ErrBadArg},
		{"container.mount.dest", ErrBadArg},
		{"container.mount.dest[(]", ErrBadArg},
		{"evt.arg[foo]", ErrBadArg},
		{"container.label", ErrBadArg},
	}
	for _, tt := range tests {
		t.Run(tt.spelling, func(t *testing.T) {
			name, arg, hasArg := Split(tt.spelling)
			_, err := Lookup(name, arg, hasArg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Lookup(%q) = %v, want an error wrapping %v", tt.spelling, err, tt.want)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the field %s", err, name)
			}
		})
	}
}

func TestLookupSpelling(t *testing.T) {
	for _, s := range []string{"proc.aname[2]", "evt.arg.flags", "container.mount.dest[/var/run/docker.sock]", "fd.name"} {
		if got := mustField(t, s).String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
	if !mustField(t, "proc.aname").Multi() || mustField(t, "proc.aname[2]").Multi() {
		t.Errorf("proc.aname must be Multi only without an index")
	}
	for s, want := range map[string]Type{
		"proc.name": TString, "proc.pid": TInt64, "user.uid": TUint64, "fd.sport": TPort, "fd.sip": TIPAddr,
		"fd.snet": TIPNet, "evt.buffer": TBytes, "proc.duration": TRelTime, "container.start_ts": TAbsTime,
		"fd.connected": TBool, "evt.rawarg.flags": TInt64, "evt.rawarg.name": TString, "evt.num": TUint64,
	} {
		if got := mustField(t, s).Type; got != want {
			t.Errorf("%s: Type %v, want %v", s, got, want)
		}
	}
}

func TestParseLiteral(t *testing.T) {
	tests := []struct {
		field, lit string
		want       Value
		err        bool
	}{
		{"fd.sport", "443", Value{Num: 443}, false},
		{"fd.sport", " 443", Value{Num: 443}, false},
		{"fd.sport", "https", Value{Num: 443}, false},
		{"fd.sport", "70000", Value{}, true},
		{"fd.sport", "nosuchservice", Value{}, true},
		{"fd.typechar", "4", Value{Str: "4"}, false},
		{"proc.pid", "-1", Value{Num: -1}, false},
		{"proc.pid", "12a", Value{}, true},
		{"user.uid", "4294967295", Value{Num: 4294967295}, false},
		{"user.uid", "-1", Value{}, true},
		{"evt.num", "18446744073709551615", Value{Num: -1}, false},
		{"fd.connected", "true", Value{Num: 1}, false},
		{"fd.connected", "false", Value{Num: 0}, false},
		{"fd.connected", "1", Value{}, true},
		{"fd.sip", "169.254.169.254", Value{IP: netip.MustParseAddr("169.254.169.254")}, false},
		{"fd.sip", "::ffff:1.2.3.4", Value{IP: netip.MustParseAddr("1.2.3.4")}, false},
		{"fd.sip", "10.0.0.0/8", Value{}, true},
		{"fd.snet", "10.1.2.3/8", Value{IP: netip.MustParseAddr("10.0.0.0"), Num: 8}, false},
		{"fd.snet", "10.0.0.1", Value{}, true},
		{"fd.net", "fd00::/8", Value{IP: netip.MustParseAddr("fd00::"), Num: 8}, false},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.lit, func(t *testing.T) {
			f := mustField(t, tt.field)
			got, err := f.ParseLiteral(tt.lit)
			if tt.err {
				if !errors.Is(err, ErrBadLiteral) || !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), tt.lit) {
					t.Fatalf("ParseLiteral(%q) error = %v, want ErrBadLiteral naming the field and text", tt.lit, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseLiteral(%q) (-want +got):\n%s", tt.lit, diff)
			}
		})
	}
}

func TestFormatJSON(t *testing.T) {
	tests := []struct {
		field string
		v     Value
		text  string
		json  any
	}{
		{"proc.name", Value{Str: "bash"}, "bash", "bash"},
		{"proc.pid", Value{Num: -3}, "-3", int64(-3)},
		{"evt.num", Value{Num: -1}, "18446744073709551615", uint64(18446744073709551615)},
		{"fd.connected", Value{Num: 1}, "true", true},
		{"fd.sport", Value{Num: 443}, "443", uint16(443)},
		{"fd.sip", Value{IP: netip.MustParseAddr("::ffff:1.2.3.4")}, "1.2.3.4", "1.2.3.4"},
		{"evt.buffer", Value{Str: "a\nb\x00"}, "a.b.", "a.b."},
		{"proc.duration", Value{Num: 5}, "5", int64(5)},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			f := mustField(t, tt.field)
			if got := f.Format(tt.v); got != tt.text {
				t.Errorf("Format = %q, want %q", got, tt.text)
			}
			if diff := cmp.Diff(tt.json, f.JSON(tt.v)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlatCtx(t *testing.T) {
	c := &Ctx{Flat: map[string]any{
		"proc.name":     "nginx",
		"proc.aname[1]": "containerd-shim",
		"proc.aname[2]": "containerd",
		"proc.pid":      1234,
		"fd.sport":      "443",
		"fd.sip":        "10.0.0.1",
		"fd.ip":         []string{"192.168.0.2", "10.0.0.1"},
		"fd.connected":  true,
		"fd.typechar":   4,
		"evt.arg.flags": "O_RDONLY|O_CLOEXEC",
		"user.name":     nil,
	}}
	want := map[string]string{
		"proc.name": "nginx", "proc.aname[1]": "containerd-shim", "proc.aname": "containerd-shim",
		"proc.pid": "1234", "fd.sport": "443", "fd.sip": "10.0.0.1", "fd.ip": "192.168.0.2",
		"fd.connected": "true", "fd.typechar": "4", "evt.arg.flags": "O_RDONLY|O_CLOEXEC", "user.name": NA,
		"container.id": NA,
	}
	var spellings []string
	for s := range want {
		spellings = append(spellings, s)
	}
	if diff := cmp.Diff(want, render(t, c, spellings...)); diff != "" {
		t.Errorf("flat fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"containerd-shim", "containerd"}, all(t, c, "proc.aname")); diff != "" {
		t.Errorf("flat proc.aname values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.168.0.2", "10.0.0.1"}, all(t, c, "fd.ip")); diff != "" {
		t.Errorf("flat fd.ip values (-want +got):\n%s", diff)
	}
}

// fieldRef finds field references in rule text; the leading class keeps
// image names such as registry.k8s.io out.
var fieldRef = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])((?:evt|proc|thread|user|group|fd|container|k8s|syscall)\.[A-Za-z0-9_.]*[A-Za-z0-9_](?:\[[^\]\s]+\])?)`)

// TestUpstreamFields resolves every field the upstream rule files use,
// and checks outputs use no filter-only field.
func TestUpstreamFields(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "shared", "rules")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("upstream rules not found in %s (shared/ must sit beside the repository)", dir)
	}
	seen := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			// Comments and list items (log file names such as user.log) hold no fields.
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "#") || strings.HasPrefix(l, "items:") {
				continue
			}
			for _, m := range fieldRef.FindAllStringSubmatch(line, -1) {
				s := m[1]
				if seen[s] {
					continue
				}
				seen[s] = true
				name, arg, hasArg := Split(s)
				f, err := Lookup(name, arg, hasArg)
				if err != nil {
					t.Errorf("%s:%d: %v", filepath.Base(file), i+1, err)
					continue
				}
				if strings.Contains(line, "%"+s) && f.FilterOnly() {
					t.Errorf("%s:%d: output uses filter-only %s", filepath.Base(file), i+1, s)
				}
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("found only %d field spellings; the scan is broken", len(seen))
	}
	t.Logf("%d field spellings resolved", len(seen))
}

// TestAllFieldsExtract runs every registered field over a few events so
// no extractor can panic on missing data.
func TestAllFieldsExtract(t *testing.T) {
	events := []*schema.Batch{
		one(schema.Event{Type: schema.EventUnknown}, nil, nil),
		one(schema.Event{Type: schema.EventOpenat, Flags: schema.FlagEnter}, nil, nil),
		one(schema.Event{Type: schema.EventConnect, FD: &schema.FD{Num: 3, Type: '4'}}, &schema.Process{}, nil),
		one(schema.Event{Type: schema.EventExecve}, scriptProc(), podContainer()),
	}
	for _, n := range Names() {
		arg, hasArg := "", false
		if d := registry[n]; d.arg == argRequired {
			arg, hasArg = "0", true
		}
		f, err := Lookup(n, arg, hasArg)
		if err != nil {
			t.Errorf("Lookup(%s): %v", n, err)
			continue
		}
		for _, b := range events {
			c := NewCtx(b, 0, "")
			if v, ok := f.Extract(c); ok {
				_ = f.Format(v)
				_ = f.JSON(v)
			}
			f.ExtractAll(c, func(Value) bool { return true })
			_ = f.Exists(c)
		}
	}
}

// TestConcurrentExtract shares Fields between goroutines, each with its
// own Ctx, as evaluator workers do; run with -race to check the claim.
func TestConcurrentExtract(t *testing.T) {
	batch := benchBatch()
	var fs []*Field
	for _, s := range []string{"proc.cmdline", "evt.arg.flags", "fd.name", "proc.aname", "container.mount.dest[/proc*]", "evt.args"} {
		fs = append(fs, MustLookup(s))
	}
	want := make([][]string, len(batch.Events))
	var c0 Ctx
	for i := range batch.Events {
		c0.Reset(batch, i, "")
		for _, f := range fs {
			v, _ := f.Extract(&c0)
			want[i] = append(want[i], f.Format(v))
		}
	}
	errs := make(chan string, 4)
	for w := 0; w < 4; w++ {
		go func() {
			var c Ctx
			for round := 0; round < 20; round++ {
				for i := range batch.Events {
					c.Reset(batch, i, "")
					for k, f := range fs {
						if v, _ := f.Extract(&c); f.Format(v) != want[i][k] {
							errs <- f.String() + " differs"
							return
						}
					}
				}
			}
			errs <- ""
		}()
	}
	for w := 0; w < 4; w++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
