package influxdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// influxd is a real InfluxDB 1.x server (Debian package influxdb) on
// 127.0.0.1, its data in a temp dir.
type influxd struct {
	url        string
	user, pass string
}

// syncBuffer collects the server's log for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startInfluxd runs influxd with HTTP auth on or off and, with auth, an
// admin user; it skips the test when influxd is not installed.
func startInfluxd(t *testing.T, auth bool) *influxd {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		t.Skip("influxd not installed (Debian package influxdb); the stand-in tests still run")
	}
	dir := t.TempDir()
	httpPort, rpcPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
[http]
  bind-address = "127.0.0.1:%d"
  auth-enabled = %t
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "error"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort, auth)
	path := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "-config", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("influxd log:\n%s", logs.String())
		}
	})
	s := &influxd{url: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	// Bounded wait for /ping: 200 tries 50 ms apart.
	for i := 0; ; i++ {
		resp, err := http.Get(s.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				break
			}
		}
		if i == 200 {
			t.Fatalf("influxd did not answer /ping: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if auth {
		// InfluxDB lets the first admin be created without credentials.
		s.query(t, "CREATE USER admin WITH PASSWORD 'adm1n-s3cr3t' WITH ALL PRIVILEGES")
		s.user, s.pass = "admin", "adm1n-s3cr3t"
	}
	s.query(t, "CREATE DATABASE falco")
	return s
}

type queryResult struct {
	Results []struct {
		Series []struct {
			Columns []string `json:"columns"`
			Values  [][]any  `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// query runs q on database falco and returns the first series as rows of
// column -> value.
func (s *influxd) query(t *testing.T, q string) []map[string]any {
	t.Helper()
	form := url.Values{"q": {q}, "db": {"falco"}, "epoch": {"ns"}}
	req, err := http.NewRequest(http.MethodPost, s.url+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r queryResult
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	if r.Error != "" || (len(r.Results) > 0 && r.Results[0].Error != "") {
		t.Fatalf("query %q: %s %+v", q, r.Error, r.Results)
	}
	var rows []map[string]any
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
		return nil
	}
	sr := r.Results[0].Series[0]
	for _, v := range sr.Values {
		row := map[string]any{}
		for i, c := range sr.Columns {
			row[c] = v[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func TestRealInfluxDBStoresPointOnce(t *testing.T) {
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%t", auth), func(t *testing.T) {
			s := startInfluxd(t, auth)
			yaml := "influxdb:\n  hostport: " + s.url + "\n"
			if auth {
				yaml += "  user: admin\n  password: adm1n-s3cr3t\n"
			}
			o, err := build(t, yaml)
			if err != nil {
				t.Fatal(err)
			}
			a := testAlert()
			d := output.Delivery{Alert: a, ID: "x", Text: a.Output}
			// A retry writes the same point: InfluxDB must keep one.
			for i := 0; i < 2; i++ {
				if err := o.Send(context.Background(), d); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			want := []map[string]any{{
				"time": json.Number("1796126400000000007"), "rule": "Unexpected_outbound_connection_destination",
				"priority": "Notice", "source": "syscall", "fd.sport": "443", "proc.cmdline": "curl_x,y=z",
				"hostname": "node-1", "tags": "network_T1041", "value": a.Output,
			}}
			if diff := cmp.Diff(want, s.query(t, "SELECT * FROM events")); diff != "" {
				t.Errorf("stored points (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRealInfluxDBRefusesWrongPassword(t *testing.T) {
	s := startInfluxd(t, true)
	o, err := build(t, "influxdb:\n  hostport: "+s.url+"\n  user: admin\n  password: wr0ng-s3cr3t\n")
	if err != nil {
		t.Fatal(err)
	}
	err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
	if !errors.Is(err, output.ErrPermanent) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v, want permanent without the password", err)
	}
	if rows := s.query(t, "SELECT * FROM events"); len(rows) != 0 {
		t.Errorf("points written with a wrong password: %v", rows)
	}
}

func TestRealInfluxDBMissingDatabaseIsPermanent(t *testing.T) {
	s := startInfluxd(t, false)
	o, err := build(t, "influxdb:\n  hostport: "+s.url+"\n  database: nope\n")
	if err != nil {
		t.Fatal(err)
	}
	err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), Text: "x"})
	if !errors.Is(err, output.ErrPermanent) {
		t.Fatalf("err = %v, want permanent for a database that does not exist", err)
	}
}
