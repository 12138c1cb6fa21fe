package elasticsearch

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

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// TestSendTLS checks the TLS keys against a local HTTPS server whose
// certificate no system CA signs.
func TestSendTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"result":"created"}`)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	base := strings.ReplaceAll("elasticsearch:\n  hostport: %s\n", "%s", srv.URL)
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
			err = o.Send(context.Background(), output.Delivery{Alert: testAlert(), ID: "x", Text: "x"})
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
}
