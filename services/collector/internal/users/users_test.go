package users

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolver(t *testing.T) {
	host := t.TempDir()
	proc := t.TempDir()
	write(t, host, "etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n")
	write(t, host, "etc/group", "root:x:0:\nstaff:x:50:\n")
	write(t, proc, "77/root/etc/passwd", "nginx:x:101:101::/:/bin/false\n")
	r := New(host, proc)
	tests := []struct {
		name      string
		id        uint32
		container string
		user      bool
		want      string
	}{
		{"host user", 1000, "", true, "alice"},
		{"host group", 50, "", false, "staff"},
		{"root without entry", 0, "c1", true, "root"},
		{"unknown", 4242, "", true, NA},
		{"container user", 101, "c1", true, "nginx"},
		{"host user absent in container", 1000, "c1", true, NA},
		{"container group file missing", 101, "c1", false, NA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if tt.user {
				got = r.User(tt.id, tt.container, 77)
			} else {
				got = r.Group(tt.id, tt.container, 77)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
