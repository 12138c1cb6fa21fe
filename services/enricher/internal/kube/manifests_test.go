package kube

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestDeployManifests applies deploy/k8s with kubectl, as a user does
// (`kubectl apply -k deploy/k8s`), to a real kube-apiserver, then runs the
// enricher's informers with the token of the service account the
// manifests give it: the RBAC rules must allow every list and watch.
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
	sa := &rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: admin.CAFile}}
	cs, err := kubernetes.NewForConfig(sa)
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
