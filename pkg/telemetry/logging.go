package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// LogFormatEnv names the variable that picks the log format of every
// stage: "text" (the default, for people at a terminal) or "json" (for log
// collectors; the Kubernetes manifests set it).
const LogFormatEnv = "LOG_FORMAT"

// NewLogger returns a logger writing to w at level in the format
// $LOG_FORMAT names, each record tagged with the service's name.
func NewLogger(w io.Writer, service string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f := strings.ToLower(os.Getenv(LogFormatEnv)); f {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("%s=%q: want text or json", LogFormatEnv, f)
	}
	return slog.New(h).With("service", service), nil
}
