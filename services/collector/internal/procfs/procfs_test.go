package procfs

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestReadSelf(t *testing.T) {
	fs := FS("/proc")
	p, err := fs.Read(int64(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Ppid != int64(os.Getppid()) || len(p.Argv) == 0 || p.ExePath == "" || p.NS[1] == 0 {
		t.Errorf("unexpected %+v", p)
	}
	if p.Euid != uint32(os.Geteuid()) {
		t.Errorf("euid %d", p.Euid)
	}
}

func TestSocksAndFDs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fs := FS("/proc")
	pid := int64(os.Getpid())
	socks := fs.Socks(pid)
	fds, err := fs.FDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort(ln.Addr().String())
	found := false
	for _, fd := range fds {
		if s, ok := socks[fd.Ino]; ok && s.Listen && s.Local == want {
			found = true
		}
	}
	if !found {
		t.Errorf("listener %s not found among %d fds", want, len(fds))
	}
}

func TestParseHexAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000000000000000000001000000:0016", "[::1]:22"},
		{"0000000000000000FFFF00000100007F:0050", "127.0.0.1:80"},
	}
	for _, tt := range tests {
		if got := parseHexAddr(tt.in); got.String() != tt.want {
			t.Errorf("%s: got %s want %s", tt.in, got, tt.want)
		}
	}
}
