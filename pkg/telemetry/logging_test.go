package telemetry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"", func(t *testing.T, out string) {
			if !strings.Contains(out, `level=INFO msg=hello service=collector n=1`) {
				t.Errorf("text log %q", out)
			}
		}},
		{"JSON", func(t *testing.T, out string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil || rec["service"] != "collector" || rec["msg"] != "hello" {
				t.Errorf("json log %q: %v", out, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run("format="+tt.format, func(t *testing.T) {
			t.Setenv(LogFormatEnv, tt.format)
			var buf bytes.Buffer
			log, err := NewLogger(&buf, "collector", slog.LevelInfo)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("hidden")
			log.Info("hello", "n", 1)
			tt.check(t, buf.String())
		})
	}
}

func TestNewLoggerBadFormat(t *testing.T) {
	t.Setenv(LogFormatEnv, "yaml")
	_, err := NewLogger(&bytes.Buffer{}, "x", slog.LevelInfo)
	if err == nil || !strings.Contains(err.Error(), `LOG_FORMAT="yaml"`) {
		t.Fatalf("err = %v, want one naming LOG_FORMAT", err)
	}
}
