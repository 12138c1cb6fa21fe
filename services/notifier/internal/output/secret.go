package output

import (
	"errors"
	"net/url"
	"strings"
)

// Secret is a string that never prints: String, GoString, MarshalJSON and
// MarshalText give "****" (or "" when empty), so a config struct holding it
// can be logged with %v or as JSON. Use string(s) to read the value.
type Secret string

const redacted = "****"

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "****".
func (s Secret) String() string { return s.mask() }

// GoString returns "****", for %#v.
func (s Secret) GoString() string { return `"` + s.mask() + `"` }

// MarshalJSON returns "****" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.mask() + `"`), nil }

// MarshalText returns "****"; slog's text and JSON handlers use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// Redact returns err with every occurrence of each secret in its message
// replaced by "****". A secret that is a URL is also hidden in its
// path-escaped and query-escaped forms, since net/http quotes URLs. The
// result still unwraps to err, so errors.Is(…, ErrPermanent) keeps working;
// Redact(nil, …) is nil.
func Redact(err error, secrets ...Secret) error {
	if err == nil {
		return nil
	}
	msg := RedactString(err.Error(), secrets...)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// RedactString replaces every occurrence of each secret in s by "****".
func RedactString(s string, secrets ...Secret) string {
	for _, sec := range secrets {
		if len(sec) < 1 {
			continue
		}
		for _, form := range secretForms(string(sec)) {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}

// secretForms lists the spellings in which a secret may reach an error
// message, longest first so a URL is hidden whole before its parts.
func secretForms(sec string) []string {
	forms := []string{sec}
	if u, err := url.Parse(sec); err == nil && u.Host != "" {
		forms = append(forms, u.String(), u.Redacted())
		if u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				forms = append(forms, p)
			}
		}
		// The path and query of a webhook URL carry its token; the scheme
		// and host alone are not secret and help the reader.
		if u.Path != "" && u.Path != "/" {
			forms = append(forms, u.Path, u.EscapedPath())
		}
		if u.RawQuery != "" {
			forms = append(forms, u.RawQuery)
		}
	}
	forms = append(forms, url.QueryEscape(sec), url.PathEscape(sec))
	// Longest first, so "https://h/p" goes before "/p".
	for i := 1; i < len(forms); i++ {
		for j := i; j > 0 && len(forms[j]) > len(forms[j-1]); j-- {
			forms[j], forms[j-1] = forms[j-1], forms[j]
		}
	}
	return forms
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// IsPermanent reports whether err wraps [ErrPermanent].
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
