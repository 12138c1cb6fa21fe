package influxdb

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
		Hostname: "node-1", Output: `12:00:00.000000000: Notice Unexpected connection (cmd="curl x,y=z")`,
		Priority: schema.PriorityNotice, Rule: "Unexpected outbound connection destination", Source: "syscall",
		Tags: []string{"network", "T1041"}, Time: time.Date(2026, 12, 1, 12, 0, 0, 7, time.UTC),
		OutputFields: map[string]any{"proc.cmdline": "curl x,y=z", "fd.sport": json.Number("443"), "k8s.pod.name": nil},
	}
}

func TestLine(t *testing.T) {
	a := testAlert()
	want := `events,rule=Unexpected_outbound_connection_destination,priority=Notice,source=syscall,` +
		`fd.sport=443,proc.cmdline=curl_x\,y\=z,hostname=node-1,tags=network_T1041 ` +
		`value="12:00:00.000000000: Notice Unexpected connection (cmd=\"curl x,y=z\")" 1796126400000000007`
	if diff := cmp.Diff(want, Line(a, a.Output)); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
}

type got struct {
	path  string
	query url.Values
	auth  string
	user  string
	pass  string
	ctype string
	body  string
}

// influx stands in for InfluxDB's write endpoints: it answers 204 when the
// credentials match and 401 otherwise, as InfluxDB does.
func influx(t *testing.T, check func(r *http.Request) bool) (*httptest.Server, chan got) {
	t.Helper()
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		select {
		case ch <- got{r.URL.Path, r.URL.Query(), r.Header.Get("Authorization"), u, p, r.Header.Get("Content-Type"), string(b)}:
		default:
		}
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		if !check(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":"unauthorized","message":"unauthorized access"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func build(t *testing.T, yaml string) (output.Output, error) {
	t.Helper()
	return outputtest.New(t, Spec(), yaml)
}

func TestSendWritesPoint(t *testing.T) {
	a := testAlert()
	line := Line(a, a.Output)
	tests := []struct {
		name  string
		yaml  string
		check func(r *http.Request) bool
		want  got
	}{
		{
			name:  "v1 without auth",
			yaml:  "",
			check: func(r *http.Request) bool { return r.Header.Get("Authorization") == "" },
			want:  got{path: "/write", query: url.Values{"db": {"falco"}, "precision": {"ns"}}, ctype: "text/plain; charset=utf-8", body: line},
		},
		{
			name: "v1 basic auth",
			yaml: "  database: sec\n  user: falco\n  password: pa55s3cr3t\n",
			check: func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "falco" && p == "pa55s3cr3t"
			},
			want: got{path: "/write", query: url.Values{"db": {"sec"}, "precision": {"ns"}}, auth: "Basic ZmFsY286cGE1NXMzY3IzdA==",
				user: "falco", pass: "pa55s3cr3t", ctype: "text/plain; charset=utf-8", body: line},
		},
		{
			name:  "v2 token",
			yaml:  "  organization: acme\n  bucket: alerts\n  token: tok-s3cr3t\n",
			check: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Token tok-s3cr3t" },
			want: got{path: "/api/v2/write", query: url.Values{"bucket": {"alerts"}, "org": {"acme"}, "precision": {"ns"}},
				auth: "Token tok-s3cr3t", ctype: "text/plain; charset=utf-8", body: line},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := influx(t, tt.check)
			o, err := build(t, "influxdb:\n  hostport: "+srv.URL+"\n"+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Send(context.Background(), output.Delivery{Alert: a, Text: a.Output}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, <-ch, cmp.AllowUnexported(got{})); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendWrongCredentialsHidesThem(t *testing.T) {
	srv, _ := influx(t, func(*http.Request) bool { return false })
	for _, yaml := range []string{"  token: tok-s3cr3t\n", "  user: u\n  password: pa55s3cr3t\n"} {
		o, err := build(t, "influxdb:\n  hostport: "+srv.URL+"\n"+yaml)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
		if !errors.Is(err, output.ErrPermanent) {
			t.Fatalf("err = %v, want permanent", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, yaml := range []string{
		"influxdb:\n  database: x\n",
		"influxdb:\n  hostport: influx:8086\n",
		"influxdb:\n  hostport: http://i:8086\n  user: u\n",
		"influxdb:\n  hostport: http://i:8086\n  token: t\n  bucket: ''\n",
	} {
		if _, err := build(t, yaml); err == nil {
			t.Errorf("%q accepted", yaml)
		}
	}
}

func BenchmarkLine(b *testing.B) {
	a := testAlert()
	b.ReportAllocs()
	for b.Loop() {
		_ = Line(a, a.Output)
	}
}
