package outputtest

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/certtest"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// TLSKeys checks an HTTP output's TLS keys against a local HTTPS server
// whose certificate no system CA signs and that answers status and body:
// with no key the certificate is refused (a retryable error), checkcert
// false and cacertfile (a file holding that certificate) succeed, and a
// missing cacertfile is a config error naming the key. Then, against a
// server that requires a client certificate from a test CA: mutualtls
// true with the global mutualtlsclient files succeeds, the CA alone is
// refused. key is the output's section ("loki"); build makes the output
// from a YAML document; d is what to send.
func TLSKeys(t *testing.T, key string, status int, body string, build func(t *testing.T, yaml string) (output.Output, error), d output.Delivery) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	base := key + ":\n  hostport: " + srv.URL + "\n"
	tests := []struct {
		name, yaml string
		ok         bool
	}{
		{"unknown CA refused", "", false},
		{"checkcert false", "  checkcert: false\n", true},
		{"cacertfile", "  cacertfile: " + ca + "\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(t, base+tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), d)
			if tt.ok && err != nil {
				t.Fatalf("Send: %v", err)
			}
			if !tt.ok && (err == nil || errors.Is(err, output.ErrPermanent) || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("err = %v, want a retryable certificate error", err)
			}
		})
	}
	if _, err := build(t, base+"  cacertfile: "+filepath.Join(t.TempDir(), "missing.pem")+"\n"); err == nil || !strings.Contains(err.Error(), "cacertfile") {
		t.Errorf("missing CA file: err = %v, want one naming cacertfile", err)
	}

	certs := certtest.Make(t)
	mtls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if len(r.TLS.PeerCertificates) == 0 {
			t.Errorf("request without a client certificate")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	mtls.TLS = certs.MutualServerConfig(t)
	mtls.StartTLS()
	t.Cleanup(mtls.Close)
	global := "mutualtlsclient:\n  certfile: " + certs.ClientCert + "\n  keyfile: " + certs.ClientKey + "\n  cacertfile: " + certs.CA + "\n"
	for _, tt := range []struct {
		name, yaml string
		ok         bool
	}{
		{"mutualtls with mutualtlsclient", global + key + ":\n  hostport: " + mtls.URL + "\n  mutualtls: true\n", true},
		{"CA without client certificate refused", global + key + ":\n  hostport: " + mtls.URL + "\n  cacertfile: " + certs.CA + "\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(t, tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			err = o.Send(context.Background(), d)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want success %v", err, tt.ok)
			}
		})
	}
}
