package output

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDoClassifies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok/tok":
			w.WriteHeader(http.StatusNoContent)
		case "/bad/tok":
			http.Error(w, "invalid payload", http.StatusBadRequest)
		case "/busy/tok":
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		path      string
		wantErr   bool
		permanent bool
		code      int
	}{
		{"/ok/tok", false, false, 0},
		{"/bad/tok", true, true, 400},
		{"/busy/tok", true, false, 429},
		{"/fail/tok", true, false, 500},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			err = Do(srv.Client(), req)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if got := errors.Is(err, ErrPermanent); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			if se, ok := AsStatus(err); !ok || se.Code != tt.code {
				t.Errorf("status = %+v, want %d", se, tt.code)
			}
			if strings.Contains(err.Error(), "tok") {
				t.Errorf("error shows the URL path: %v", err)
			}
		})
	}
}

func TestDoNetworkErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/SECRET"
	srv.Close()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Do(http.DefaultClient, req)
	if err == nil || errors.Is(err, ErrPermanent) {
		t.Fatalf("Do = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error shows the secret: %v", err)
	}
}
