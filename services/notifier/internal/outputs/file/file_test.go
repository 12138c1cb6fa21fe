package file

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

func newFile(t *testing.T, path string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("file", "test.yaml", "file:\n  outputfile: "+path+"\n  sync: true\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.(output.Closer).Close() })
	return o
}

func TestAppendsJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte("{\"earlier\":true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := newFile(t, path)
	var want []schema.Alert
	for i := range 3 {
		a := schema.Alert{Rule: "Write below etc", Priority: schema.PriorityError, Source: "syscall",
			Time: time.Date(2026, 12, 1, 0, 0, 0, i, time.UTC), Output: "x", OutputFields: map[string]any{"fd.name": "/etc/x"}, Tags: []string{}}
		want = append(want, a)
		if err := o.Send(context.Background(), output.Delivery{Alert: &a, ID: "id"}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the line that was there before
	if sc.Text() != `{"earlier":true}` {
		t.Fatalf("first line %q: the file was not appended to", sc.Text())
	}
	var got []schema.Alert
	for sc.Scan() {
		var a schema.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, a)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestUnwritableNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "alerts.jsonl")
	o := newFile(t, path)
	err := o.Send(context.Background(), output.Delivery{Alert: &schema.Alert{Rule: "r"}, ID: "id"})
	if err == nil || !strings.Contains(err.Error(), path) || output.IsPermanent(err) {
		t.Fatalf("Send = %v, want a retryable error naming %s", err, path)
	}
}

func TestMissingOutputFile(t *testing.T) {
	cfg, _ := output.ParseConfig("file", "test.yaml", "file:\n  sync: true\n", nil)
	if _, err := New(cfg, output.Env{}); err == nil || !strings.Contains(err.Error(), "field outputfile: missing") {
		t.Fatalf("New = %v", err)
	}
}
