package kube

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestDeployManifests applies deploy/k8s with kubectl, as a user does
// (`kubectl apply -k deploy/k8s`), to a real kube-apiserver, then runs the
// enricher's informers from the in-cluster config, with the token of the
// service account the manifests give it: the RBAC rules must allow every
// list and watch.
func TestDeployManifests(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("needs kubectl on PATH")
	}
	kubeconfig := testenv.StartAPIServer(t)
	_, self, _, _ := runtime.Caller(0)
	manifests := filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "deploy", "k8s")
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := ctl("apply", "-k", manifests)
	for _, want := range []string{
		"namespace/peregrine created",
		"serviceaccount/peregrine-enricher created",
		"clusterrole.rbac.authorization.k8s.io/peregrine-enricher created",
		"statefulset.apps/nats created",
		"daemonset.apps/collector created",
		"daemonset.apps/enricher created",
		"deployment.apps/evaluator created",
		"deployment.apps/notifier created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply -k: no %q in\n%s", want, out)
		}
	}

	token := strings.TrimSpace(ctl("-n", "peregrine", "create", "token", "peregrine-enricher"))
	admin, err := LoadConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Run as the enricher's pod does: no kubeconfig, the service account's
	// files at their in-cluster paths and the service address in the
	// environment.
	u, err := url.Parse(admin.Host)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	inClusterFiles(t, map[string][]byte{"token": []byte(token), "ca.crt": caPEM, "namespace": []byte("peregrine")})
	t.Setenv("KUBERNETES_SERVICE_HOST", u.Hostname())
	t.Setenv("KUBERNETES_SERVICE_PORT", u.Port())
	t.Setenv("KUBECONFIG", "")
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatalf("in-cluster config: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The token really is the service account's (not admin): it may not
	// read secrets.
	if _, err := cs.CoreV1().Secrets("peregrine").List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("the enricher's service account can list secrets")
	}
	startIndex(t, cs, "node-a")
}

// serviceAccountDir is where client-go's in-cluster config reads the pod's
// service account; the path is fixed.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// inClusterFiles writes files into serviceAccountDir for the test and
// removes every directory it created afterwards. It skips t where that
// directory exists already (the test runs in a pod) or cannot be written.
func inClusterFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	if _, err := os.Stat(serviceAccountDir); err == nil {
		t.Skipf("%s exists: not overwriting a real service account", serviceAccountDir)
	}
	// The topmost directory this test creates, removed at the end.
	top := serviceAccountDir
	for d := filepath.Dir(top); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		top = d
	}
	if err := os.MkdirAll(serviceAccountDir, 0o755); err != nil {
		t.Skipf("cannot create %s: %v", serviceAccountDir, err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(top) })
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(serviceAccountDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
