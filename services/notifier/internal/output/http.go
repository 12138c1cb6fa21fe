package output

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// StatusError is the error [Do] returns for a response outside 2xx.
type StatusError struct {
	Method string
	URL    string // redacted
	Code   int
	Body   string // the first bytes of the response body, redacted
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: status %d", e.Method, e.URL, e.Code)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// maxErrorBody bounds how much of a failed response goes into an error.
const maxErrorBody = 512

// Do sends req with client and classifies the answer: nil for 2xx; a
// [*StatusError] wrapping [ErrPermanent] for 4xx other than 408, 425 and 429,
// which cannot succeed on retry; a plain *StatusError for the rest
// (5xx, throttling) and a network error otherwise, both retried by the core.
// Every secret, and the request URL's path and query, are redacted from the
// error. The response body is drained and closed.
func Do(client *http.Client, req *http.Request, secrets ...Secret) error {
	if client == nil {
		client = http.DefaultClient
	}
	secrets = append(secrets, urlSecrets(req)...)
	resp, err := client.Do(req)
	if err != nil {
		return Redact(fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err), secrets...)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return Status(req, resp.StatusCode, body, secrets...)
}

// Status is the error [Do] returns for a response with status code and
// (the first bytes of) body to req, for callers that send with another
// client: a [*StatusError], wrapping [ErrPermanent] for 4xx other than 408,
// 425 and 429; nil for 2xx. Secrets and the URL's path and query are
// redacted.
func Status(req *http.Request, code int, body []byte, secrets ...Secret) error {
	if code >= 200 && code < 300 {
		return nil
	}
	secrets = append(secrets, urlSecrets(req)...)
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	se := &StatusError{
		Method: req.Method,
		URL:    RedactString(req.URL.Redacted(), secrets...),
		Code:   code,
		Body:   RedactString(strings.TrimSpace(string(body)), secrets...),
	}
	if code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooEarly &&
		code != http.StatusTooManyRequests {
		return Permanent(se)
	}
	return se
}

// urlSecrets treats the path and query of a request URL as secret: webhook
// URLs (Slack, Teams, Discord) carry their token there.
func urlSecrets(req *http.Request) []Secret {
	var s []Secret
	if req.URL == nil {
		return nil
	}
	if p := req.URL.EscapedPath(); p != "" && p != "/" {
		s = append(s, Secret(p))
		if rp := req.URL.Path; rp != p {
			s = append(s, Secret(rp))
		}
	}
	if req.URL.RawQuery != "" {
		s = append(s, Secret(req.URL.RawQuery))
	}
	return s
}

// AsStatus returns the *StatusError in err's chain, if any.
func AsStatus(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}
