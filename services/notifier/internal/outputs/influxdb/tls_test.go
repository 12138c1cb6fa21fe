package influxdb

import (
	"net/http"
	"testing"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

// TestSendTLS checks the TLS keys against a local HTTPS server whose
// certificate no system CA signs.
func TestSendTLS(t *testing.T) {
	outputtest.TLSKeys(t, "influxdb", http.StatusNoContent, "", build, output.Delivery{Alert: testAlert(), ID: "x", Text: "x"})
}
