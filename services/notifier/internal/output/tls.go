package output

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// TLSFiles are the TLS settings of a client output, with Falcosidekick's
// key names. All are optional.
type TLSFiles struct {
	CertFile   string `yaml:"certfile"`   // client certificate, for mTLS
	KeyFile    string `yaml:"keyfile"`    // its key
	CACertFile string `yaml:"cacertfile"` // CA that signs the server's certificate
	// CheckCert false skips verifying the server's certificate.
	CheckCert *bool `yaml:"checkcert"`
}

// Config loads the files into a client tls.Config; nil when nothing is set
// (use the system defaults). Errors name the file.
func (f TLSFiles) Config() (*tls.Config, error) {
	if f.CertFile == "" && f.KeyFile == "" && f.CACertFile == "" && (f.CheckCert == nil || *f.CheckCert) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CheckCert != nil && !*f.CheckCert {
		c.InsecureSkipVerify = true
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("field certfile and keyfile: set both or neither")
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("field certfile %s: %w", f.CertFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if f.CACertFile != "" {
		pem, err := os.ReadFile(f.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("field cacertfile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("field cacertfile %s: no PEM certificate", f.CACertFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// HTTPClient returns env's shared client when f sets nothing, else a new
// client with f's TLS settings and the given timeout (0: none beyond the
// Send context).
func (f TLSFiles) HTTPClient(env Env, timeout time.Duration) (*http.Client, error) {
	tc, err := f.Config()
	if err != nil {
		return nil, err
	}
	if tc == nil && env.HTTPClient != nil {
		return env.HTTPClient, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// ClientWithMutualTLS is [TLSFiles.HTTPClient] for outputs with
// Falcosidekick's "mutualtls" key: when mutual is true, the client
// certificate and CA the section leaves empty come from the document's
// global "mutualtlsclient" section (certfile, keyfile, cacertfile), as
// Falcosidekick does. Errors name the field.
func ClientWithMutualTLS(cfg *Config, env Env, files TLSFiles, mutual bool) (*http.Client, error) {
	if mutual {
		var global TLSFiles
		if err := cfg.Section("mutualtlsclient").Decode(&global); err != nil {
			return nil, err
		}
		if files.CertFile == "" {
			files.CertFile, files.KeyFile = global.CertFile, global.KeyFile
		}
		if files.CACertFile == "" {
			files.CACertFile = global.CACertFile
		}
	}
	return files.HTTPClient(env, 0)
}
