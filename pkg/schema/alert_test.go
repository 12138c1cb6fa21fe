package schema

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAlertJSONMatchesFalco(t *testing.T) {
	a := Alert{
		Hostname: "host1", Output: "12:00:00.000000000: Warning Sensitive file opened", Priority: PriorityWarning,
		Rule: "Read sensitive file untrusted", Source: "syscall", Tags: []string{"T1555", "filesystem"},
		Time:         time.Date(2026, 12, 1, 12, 0, 0, 5000, time.UTC),
		OutputFields: map[string]any{"proc.name": "cat", "fd.name": "/etc/shadow", "proc.pid": int64(42), "container.id": "host", "k8s.pod.name": nil, "fd.sip": "<NA>"},
	}
	got, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"hostname":"host1","output":"12:00:00.000000000: Warning Sensitive file opened","output_fields":{"container.id":"host","fd.name":"/etc/shadow","fd.sip":"<NA>","k8s.pod.name":null,"proc.name":"cat","proc.pid":42},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","filesystem"],"time":"2026-12-01T12:00:00.000005000Z"}`
	if string(got) != want {
		t.Fatalf("alert JSON\n got %s\nwant %s", got, want)
	}
	var back Alert
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(a.Time) || back.Priority != PriorityWarning || back.OutputFields["proc.pid"].(json.Number) != "42" {
		t.Errorf("decoded %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"rule":"x","time":"yesterday"}`), &back); err == nil {
		t.Error("bad time accepted")
	}
}
