package smtp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
)

// mailServer is a real go-smtp server on 127.0.0.1 offering STARTTLS and
// PLAIN auth (only over TLS).
type mailServer struct {
	addr   string
	caFile string
	mu     sync.Mutex
	mails  []received
}

type received struct {
	User, From string
	To         []string
	TLS        bool
	Data       []byte
}

type session struct {
	srv  *mailServer
	conn *gosmtp.Conn
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "alerts" || pass != "hunter2" {
			// What real servers answer to bad credentials.
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.cur.User = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.cur.User == "" {
		return gosmtp.ErrAuthRequired
	}
	s.cur.From = from
	_, s.cur.TLS = s.conn.TLSConnectionState()
	return nil
}
func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.cur = received{User: s.cur.User} }
func (s *session) Logout() error { return nil }

func startMailServer(t *testing.T) *mailServer {
	t.Helper()
	cert, caFile := selfSigned(t)
	ms := &mailServer{caFile: caFile}
	be := gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) { return &session{srv: ms, conn: c}, nil })
	srv := gosmtp.NewServer(be)
	srv.Domain = "mail.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ms
}

func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, _ := x509.MarshalECPrivateKey(key)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, p
}

func newSMTP(t *testing.T, ms *mailServer, env map[string]string) output.Output {
	t.Helper()
	doc := "smtp:\n  hostport: " + ms.addr + "\n  user: alerts\n  password: hunter2\n  tls: true\n  cacertfile: " + ms.caFile +
		"\n  from: falco@example.com\n  to: sec@example.com, oncall@example.com\n"
	cfg, err := output.ParseConfig("smtp", "test.yaml", doc, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(cfg, output.Env{Hostname: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func alert() *schema.Alert {
	return &schema.Alert{Rule: "Read sensitive file untrusted", Priority: schema.PriorityWarning, Source: "syscall", Hostname: "node-1",
		Time: time.Date(2026, 12, 1, 20, 31, 56, 746609046, time.UTC), Output: "Sensitive file opened (file=/etc/shadow)",
		OutputFields: map[string]any{"fd.name": "/etc/shadow", "proc.name": "cat"}, Tags: []string{"filesystem"}}
}

func TestMultipartOverSTARTTLSWithAuth(t *testing.T) {
	ms := startMailServer(t)
	o := newSMTP(t, ms, nil)
	if err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "alert-42", Text: alert().Output}); err != nil {
		t.Fatal(err)
	}
	ms.mu.Lock()
	mails := append([]received(nil), ms.mails...)
	ms.mu.Unlock()
	if len(mails) != 1 {
		t.Fatalf("server got %d mails, want 1", len(mails))
	}
	m := mails[0]
	if diff := cmp.Diff(received{User: "alerts", From: "falco@example.com", To: []string{"sec@example.com", "oncall@example.com"}, TLS: true},
		received{User: m.User, From: m.From, To: m.To, TLS: m.TLS}); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subj != "[Warning] Read sensitive file untrusted" {
		t.Errorf("Subject %q", subj)
	}
	if got := msg.Header.Get("Message-Id"); got != "<alert-42@peregrine>" {
		t.Errorf("Message-ID %q", got)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		ct := p.Header.Get("Content-Type")
		types = append(types, ct)
		for _, want := range []string{"Sensitive file opened (file=/etc/shadow)", "Read sensitive file untrusted", "/etc/shadow"} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("%s part lacks %q:\n%s", ct, want, body)
			}
		}
		if strings.HasPrefix(ct, "text/html") && !bytes.Contains(body, []byte("<table")) {
			t.Errorf("html part has no table:\n%s", body)
		}
	}
	if diff := cmp.Diff([]string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}, types); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
}

func TestRefusalsArePermanentAndHidePassword(t *testing.T) {
	ms := startMailServer(t)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"unknown recipient", map[string]string{"SMTP_TO": "nobody@example.com"}},
		{"wrong password", map[string]string{"SMTP_PASSWORD": "wrong-hunter3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newSMTP(t, ms, tt.env)
			err := o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "a", Text: "x"})
			if !output.IsPermanent(err) {
				t.Fatalf("Send = %v, want permanent", err)
			}
			if strings.Contains(err.Error(), "hunter") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestServerDownIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := newSMTP(t, &mailServer{addr: addr, caFile: ""}, nil)
	err = o.Send(context.Background(), output.Delivery{Alert: alert(), ID: "a", Text: "x"})
	if err == nil || output.IsPermanent(err) {
		t.Fatalf("Send = %v, want a retryable error", err)
	}
}
