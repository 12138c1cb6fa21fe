package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// KubeVersion is the kube-apiserver version hack/build-kube.sh builds.
const KubeVersion = "v1.37.2"

// KubeBin returns the directory with kube-apiserver and etcd built by
// services/enricher/hack/build-kube.sh ($PEREGRINE_KUBE_BIN, else
// $HOME/.cache/peregrine/k8s-<version>/bin), or skips t.
func KubeBin(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PEREGRINE_KUBE_BIN")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "peregrine", "k8s-"+KubeVersion, "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("needs %s in %s: run services/enricher/hack/build-kube.sh", b, dir)
		}
	}
	return dir
}

// freePort returns a loopback port free at the time of the call.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// APIServer is a kube-apiserver on loopback, backed by its own etcd, for
// one test. Stop and Start take the API server away and bring it back on
// the same address with the same data.
type APIServer struct {
	// Kubeconfig is the path of a kubeconfig with cluster-admin rights.
	Kubeconfig string

	t      testing.TB
	dir    string
	bin    string
	args   []string
	server string
	token  string
	client *http.Client
	d      *daemon // nil while stopped
}

// StartAPIServer starts etcd and kube-apiserver on loopback under a
// temporary directory and returns a kubeconfig path with cluster-admin
// rights. It skips t when the binaries are not built.
func StartAPIServer(t testing.TB) string {
	t.Helper()
	return NewAPIServer(t).Kubeconfig
}

// NewAPIServer is [StartAPIServer] with control over the API server.
func NewAPIServer(t testing.TB) *APIServer {
	t.Helper()
	bin := KubeBin(t)
	dir := t.TempDir()
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	etcd := startDaemon(t, dir, "etcd", filepath.Join(bin, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--unsafe-no-fsync")
	t.Cleanup(func() {
		etcd.stop(15 * time.Second)
		etcd.logIfFailed(t)
	})

	caPEM, certPEM, keyPEM := serverCerts(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o600))
		return p
	}
	ca, cert, key := write("ca.crt", caPEM), write("server.crt", certPEM), write("server.key", keyPEM)
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	saKey := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sa)}))
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	must(t, err)
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	const token = "peregrine-test-token"
	tokens := write("tokens.csv", []byte(token+`,admin,admin-uid,"system:masters"`+"\n"))

	a := &APIServer{t: t, dir: dir, bin: filepath.Join(bin, "kube-apiserver"), token: token,
		server: "https://127.0.0.1:" + strconv.Itoa(apiPort)}
	a.args = []string{
		"--etcd-servers", etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--endpoint-reconciler-type=none",
		"--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", ca,
		"--token-auth-file", tokens,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--cert-dir", filepath.Join(dir, "certs"),
	}
	a.Kubeconfig = write("kubeconfig", []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, a.server, ca, token)))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	a.client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// Registered before etcd's stop runs (cleanups run last first).
	t.Cleanup(a.Stop)
	a.Start()
	return a
}

// Start starts kube-apiserver (again) and waits until it is ready.
func (a *APIServer) Start() {
	a.t.Helper()
	if a.d != nil {
		return
	}
	a.d = startDaemon(a.t, a.dir, "kube-apiserver", a.bin, a.args...)
	a.d.waitReady(a.t, a.server, 120, 500*time.Millisecond, func() bool {
		req, _ := http.NewRequest(http.MethodGet, a.server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := a.client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Stop stops kube-apiserver; etcd and its data stay.
func (a *APIServer) Stop() {
	if a.d == nil {
		return
	}
	a.d.stop(15 * time.Second)
	a.d.logIfFailed(a.t)
	a.d = nil
}

// serverCerts makes a CA and a serving certificate for 127.0.0.1.
func serverCerts(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peregrine-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost", "kubernetes"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
