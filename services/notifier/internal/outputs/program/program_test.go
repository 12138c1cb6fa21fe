package program

import (
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

func newProgram(t *testing.T, cmdline string) output.Output {
	t.Helper()
	cfg, err := output.ParseConfig("program", "test.yaml", "", func(k string) string {
		return map[string]string{"PROGRAM_COMMANDLINE": cmdline}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAlertOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "got.json")
	idf := filepath.Join(dir, "id")
	o := newProgram(t, "cat > "+out+" && printf %s \"$PEREGRINE_ALERT_ID\" > "+idf)
	a := &schema.Alert{Rule: "Terminal shell in container", Priority: schema.PriorityNotice, Source: "syscall",
		Time: time.Date(2026, 12, 1, 1, 2, 3, 4, time.UTC), Output: "shell", OutputFields: map[string]any{"proc.name": "bash"}, Tags: []string{"shell"}}
	if err := o.Send(context.Background(), output.Delivery{Alert: a, ID: "alert-7"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got schema.Alert
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin %q: %v", b, err)
	}
	if diff := cmp.Diff(*a, got); diff != "" {
		t.Errorf("stdin alert (-want +got):\n%s", diff)
	}
	if id, _ := os.ReadFile(idf); string(id) != "alert-7" {
		t.Errorf("PEREGRINE_ALERT_ID = %q", id)
	}
}

func TestFailureQuotesStderrNotSecret(t *testing.T) {
	o := newProgram(t, "echo 'target down' >&2; exit 3 # token=hunter2")
	err := o.Send(context.Background(), output.Delivery{Alert: &schema.Alert{Rule: "r"}, ID: "a"})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "target down") {
		t.Fatalf("Send = %v, want exit status 3 and the stderr", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the command line: %v", err)
	}
}
