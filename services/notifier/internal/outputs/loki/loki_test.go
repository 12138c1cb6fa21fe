package loki

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

func testAlert() *schema.Alert {
	return &schema.Alert{
		Hostname: "node-1", Output: "12:00:00.000000001: Warning Sensitive file opened (file=/etc/shadow)",
		Priority: schema.PriorityWarning, Rule: "Read sensitive file untrusted", Source: "syscall",
		Tags: []string{"filesystem", "T1555"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 1, time.UTC),
		OutputFields: map[string]any{"k8s.ns.name": "prod", "proc.name": "cat", "proc.pid": json.Number("5")},
	}
}

type got struct {
	header http.Header
	body   map[string]any
}

// loki stands in for the push API: it checks path and content type and
// answers 204 as Loki does, or 401 when basic auth does not match.
func loki(t *testing.T, status int, user, key string) (*httptest.Server, chan got) {
	t.Helper()
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/loki/api/v1/push" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if u, p, _ := r.BasicAuth(); u != user || p != key {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		m := outputtest.ReadJSON(t, r)
		select {
		case ch <- got{r.Header.Clone(), m}:
		default:
		}
		if status == http.StatusBadRequest {
			http.Error(w, "entry for stream has timestamp too old", status)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	return outputtest.New(t, Spec(), yaml)
}

func TestSendPushesStream(t *testing.T) {
	a := testAlert()
	alertJSON, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]any{
		"rule": a.Rule, "source": "syscall", "priority": "Warning", "hostname": "node-1", "tags": "T1555,filesystem",
	}
	tests := []struct {
		name, yaml, user, key string
		wantLabels            map[string]any
		wantHeaders           map[string]string
		wantLine              string // "": Falco's text line
	}{
		{
			name: "plain",
			wantLabels: map[string]any{
				"rule": a.Rule, "source": "syscall", "priority": "Warning", "hostname": "node-1", "tags": "T1555,filesystem",
			},
		},
		{
			name: "tenant auth extra labels and headers",
			yaml: "  tenant: team-a\n  user: '1234'\n  apikey: glc_s3cr3t\n  extralabels: k8s.ns.name, proc.pid ,proc.name\n  customheaders:\n    X-Env: prod\n",
			user: "1234", key: "glc_s3cr3t",
			wantLabels: map[string]any{
				"rule": a.Rule, "source": "syscall", "priority": "Warning", "hostname": "node-1", "tags": "T1555,filesystem",
				"k8snsname": "prod", "procname": "cat",
			},
			wantHeaders: map[string]string{"X-Scope-Orgid": "team-a", "X-Env": "prod"},
		},
		{name: "format text", yaml: "  format: text\n", wantLabels: labels},
		{
			name: "format json with tenant and api key", yaml: "  format: json\n  tenant: team-b\n  user: '99'\n  apikey: glc_s3cr3t\n",
			user: "99", key: "glc_s3cr3t", wantLabels: labels, wantLine: string(alertJSON),
			wantHeaders: map[string]string{"X-Scope-Orgid": "team-b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := loki(t, http.StatusNoContent, tt.user, tt.key)
			o, err := build(t, "loki:\n  hostport: "+srv.URL+"\n"+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			line := tt.wantLine
			if line == "" {
				line = a.Output
			}
			want := map[string]any{"streams": []any{map[string]any{
				"stream": tt.wantLabels,
				"values": []any{[]any{"1796126400000000001", line}},
			}}}
			if diff := cmp.Diff(want, r.body); diff != "" {
				t.Errorf("push (-want +got):\n%s", diff)
			}
			for k, v := range tt.wantHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestLabelName(t *testing.T) {
	tests := map[string]string{
		"k8s.ns.name": "k8snsname", "proc.aname[2]": "procaname2", "evt.arg.flags": "evtargflags",
		"container.label-x": "containerlabel_x", "9lives": "_lives",
	}
	for in, want := range tests {
		if got := LabelName(in); got != want {
			t.Errorf("LabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		key       string
		permanent bool
	}{
		{"too old", http.StatusBadRequest, "glc_s3cr3t", true},
		{"wrong key", http.StatusNoContent, "glc_wrong_s3cr3t", true},
		{"rate limited", http.StatusTooManyRequests, "glc_s3cr3t", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := loki(t, tt.status, "u", "glc_s3cr3t")
			o, err := build(t, "loki:\n  hostport: "+srv.URL+"\n  user: u\n  apikey: "+tt.key+"\n")
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
			if err == nil || errors.Is(err, output.ErrPermanent) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"loki:\n  tenant: x\n",
		"loki:\n  hostport: localhost:3100\n",
		"loki:\n  hostport: http://l:3100\n  endpoint: push\n",
		"loki:\n  hostport: http://l:3100\n  user: u\n",
		"loki:\n  hostport: http://l:3100\n  format: logfmt\n",
	} {
		if _, err := build(t, yaml); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}
