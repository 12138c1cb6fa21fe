// Package testenv starts real container runtimes (dockerd, containerd)
// under a test's temporary directory and builds a busybox image locally,
// for tests that need real runtime answers. Every helper skips the test
// with a clear reason when a needed binary or privilege is missing.
package testenv

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Need skips t unless every binary is on PATH and the test runs as root.
func Need(t testing.TB, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run container runtimes")
	}
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s on PATH (Debian package or go install; see services/enricher/README)", b)
		}
	}
}

// BusyboxArchive writes a docker-archive tar of a one-layer image holding
// busybox-static (with sh, cat, sleep links) and an /etc/shadow, tagged
// name (e.g. "peregrine/busybox:t1"), and returns its path.
func BusyboxArchive(t testing.TB, dir, name string, entrypoint ...string) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("needs busybox-static at /bin/busybox: %v", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	now := time.Unix(1700000000, 0)
	dirs := []string{"bin", "etc", "tmp", "proc", "sys", "dev", "run"}
	for _, d := range dirs {
		must(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}))
	}
	must(t, tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb)), ModTime: now}))
	_, err = tw.Write(bb)
	must(t, err)
	for _, l := range []string{"sh", "cat", "sleep", "true", "ls", "echo"} {
		must(t, tw.WriteHeader(&tar.Header{Name: "bin/" + l, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: now}))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n",
	}
	for _, n := range []string{"etc/passwd", "etc/group", "etc/shadow"} {
		c := files[n]
		must(t, tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(c)), ModTime: now}))
		_, err = tw.Write([]byte(c))
		must(t, err)
	}
	must(t, tw.Close())
	lsum := sha256.Sum256(layer.Bytes())
	lhex := hex.EncodeToString(lsum[:])

	if len(entrypoint) == 0 {
		entrypoint = []string{"/bin/sh"}
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      now.UTC().Format(time.RFC3339),
		"config":       map[string]any{"Entrypoint": entrypoint, "Env": []string{"PATH=/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + lhex}},
	})
	must(t, err)
	csum := sha256.Sum256(cfg)
	chex := hex.EncodeToString(csum[:])
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   chex + ".json",
		"RepoTags": []string{name},
		"Layers":   []string{lhex + "/layer.tar"},
	}})
	must(t, err)

	path := filepath.Join(dir, filepath.Base(filepath.Clean(chex))+".tar")
	f, err := os.Create(path)
	must(t, err)
	defer f.Close()
	aw := tar.NewWriter(f)
	put := func(n string, data []byte) {
		must(t, aw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: now}))
		_, err := aw.Write(data)
		must(t, err)
	}
	must(t, aw.WriteHeader(&tar.Header{Name: lhex + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}))
	put(lhex+"/layer.tar", layer.Bytes())
	put(chex+".json", cfg)
	put("manifest.json", manifest)
	must(t, aw.Close())
	return path
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
