package kube

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// TestAPIServerAway takes the API server away under running informers:
// lookups keep answering from the cache, the outage is logged once, and
// when the API server is back a pod created meanwhile is found.
func TestAPIServerAway(t *testing.T) {
	api := testenv.NewAPIServer(t)
	t.Setenv("KUBECONFIG", "")
	cfg, err := LoadConfig(api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	x, err := NewForConfig(cfg, "node-a", 0, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, _, pod := objects("node-a")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPod(ctx, t, cs, pod, cid)
	runIndex(t, x)
	waitFor(t, 10*time.Second, "first pod", func() bool { _, ok := x.Pod(cid, ""); return ok })

	api.Stop()
	waitFor(t, 60*time.Second, "outage logged", func() bool { return strings.Contains(logs.String(), "unavailable") })
	if _, ok := x.Pod(cid, ""); !ok {
		t.Error("pod forgotten while the API server is away")
	}

	api.Start()
	const cid2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	_, _, later := objects("node-a")
	later.Name = "web-7d9c-y3y"
	createPod(ctx, t, cs, later, cid2)
	// The reflectors retry with a backoff of up to 30 s.
	waitFor(t, 90*time.Second, "pod created after the outage", func() bool { _, ok := x.Pod(cid2, ""); return ok })
	out := logs.String()
	if n := strings.Count(out, "unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "available again") {
		t.Errorf("no recovery logged:\n%s", out)
	}
}

// createPod creates pod (without owners) and sets a status naming the
// container id, as the kubelet would.
func createPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, pod *corev1.Pod, id string) {
	t.Helper()
	pod.UID, pod.OwnerReferences = "", nil
	status := pod.Status
	status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + id}}
	p, err := cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = status
	if _, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every 100 ms until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, limit)
		}
	}
}

// lockedBuffer is a log sink written by informer goroutines and read by
// the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
