package azuread

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/outputtest"
)

// TestTokenRefresh checks when a cached token is replaced: 5 minutes
// before expires_in for a long-lived token, after half its life for a
// short one.
func TestTokenRefresh(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		steps     []time.Duration // clock offsets of successive Token calls
		want      []string        // the token each call returns
	}{
		{"hour", 3600, []time.Duration{0, 54 * time.Minute, 55 * time.Minute, 56 * time.Minute}, []string{"t-1", "t-1", "t-2", "t-2"}},
		{"minute", 60, []time.Duration{0, 29 * time.Second, 30 * time.Second}, []string{"t-1", "t-1", "t-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ad := outputtest.NewAuthority(t, outputtest.AuthorityConfig{
				Tenant: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "s3cr3t", Scope: "https://eventhubs.azure.net/.default",
				Token: "t", ExpiresIn: tt.expiresIn,
			})
			start := time.Now()
			var clock time.Time
			src := NewTokenSource(Credentials{TenantID: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "s3cr3t", AuthorityHost: ad.URL},
				"https://eventhubs.azure.net/.default", &http.Client{Timeout: 10 * time.Second}, func() time.Time { return clock })
			for i, at := range tt.steps {
				clock = start.Add(at)
				tok, err := src.Token(context.Background())
				if err != nil {
					t.Fatalf("Token at %s: %v", at, err)
				}
				if tok != tt.want[i] {
					t.Errorf("Token at %s = %q, want %q", at, tok, tt.want[i])
				}
			}
		})
	}
}
