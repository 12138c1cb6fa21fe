package kube

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/peregrine-rt/peregrine/services/enricher/internal/testenv"
)

// TestAPIServer runs the informers against a real kube-apiserver and
// etcd: a Pod object whose status names a container gives the pod, owner
// chain and namespace labels, found by container id and by pod uid.
func TestAPIServer(t *testing.T) {
	kubeconfig := testenv.StartAPIServer(t)
	t.Setenv("KUBECONFIG", "")
	cfg, err := LoadConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns, rs, pod := objects("node-a")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	rs.Spec.Template.Labels = map[string]string{"app": "web"}
	rs.Spec.Template.Spec.Containers = pod.Spec.Containers
	created, err := cs.AppsV1().ReplicaSets("shop").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The API server gives uids; owner references must carry the real one.
	pod.OwnerReferences[0].UID = created.UID
	status := pod.Status
	pod.UID = ""
	p, err := cs.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = status
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	x := startIndex(t, cs, "node-a")
	want := wantPod("node-a")
	want.UID = string(p.UID)
	// The API server labels every namespace with its name.
	want.NSLabels = map[string]string{"team": "payments", "kubernetes.io/metadata.name": "shop"}
	waitPod(t, x, cid, "", want)
	waitPod(t, x, "", string(p.UID), want)
}
