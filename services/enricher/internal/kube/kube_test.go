package kube

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

const cid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func ptr[T any](v T) *T { return &v }

// objects is a deployment's replica set, its pod and namespace.
func objects(node string) (*corev1.Namespace, *appsv1.ReplicaSet, *corev1.Pod) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "payments"}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9c", Namespace: "shop", UID: "rs-uid",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d-uid", Controller: ptr(true)}}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9c-x2x", Namespace: "shop", UID: types.UID("5c3b6a1e-2d4f-4a8b-9c7d-0e1f2a3b4c5d"),
			Labels:          map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9c", UID: "rs-uid", Controller: ptr(true)}}},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "web-sa", Containers: []corev1.Container{{Name: "app", Image: "shop/web:1"}}},
		Status: corev1.PodStatus{PodIP: "10.1.2.3", ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "containerd://" + cid}}},
	}
	return ns, rs, pod
}

func wantPod(node string) *schema.Pod {
	return &schema.Pod{Name: "web-7d9c-x2x", UID: "5c3b6a1e-2d4f-4a8b-9c7d-0e1f2a3b4c5d", Namespace: "shop", IP: "10.1.2.3",
		Labels: map[string]string{"app": "web"}, NSLabels: map[string]string{"team": "payments"},
		ReplicaSet: "web-7d9c", Deployment: "web", Node: node, OwnerKind: "ReplicaSet", OwnerName: "web-7d9c", ServiceAccount: "web-sa"}
}

func startIndex(t *testing.T, cs kubernetes.Interface, node string) *Index {
	t.Helper()
	x, err := New(cs, node, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runIndex(t, x)
	return x
}

// runIndex runs x's informers for the rest of the test, once synced.
func runIndex(t *testing.T, x *Index) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); x.Shutdown() })
	synced := make(chan error, 1)
	go func() { synced <- x.Run(ctx) }()
	select {
	case err := <-synced:
		if err != nil {
			t.Fatalf("informers: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("informers did not sync within 30s")
	}
}

// waitPod polls the index (informer events arrive asynchronously), for a
// bounded time.
func waitPod(t *testing.T, x *Index, id, uid string, want *schema.Pod) {
	t.Helper()
	var got *schema.Pod
	for range 300 {
		got, _ = x.Pod(id, uid)
		if cmp.Equal(want, got) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Pod(%q, %q) (-want +got):\n%s", id, uid, cmp.Diff(want, got))
}

func TestIndex(t *testing.T) {
	ns, rs, pod := objects("node-a")
	x := startIndex(t, fake.NewClientset(ns, rs, pod), "")
	tests := []struct {
		name, id, uid string
		want          *schema.Pod
	}{
		{name: "by container id", id: cid, want: wantPod("node-a")},
		{name: "by pod uid", id: "feed", uid: string(pod.UID), want: wantPod("node-a")},
		{name: "unknown", id: "feed", uid: "00000000-0000-0000-0000-000000000000", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := x.Pod(tt.id, tt.uid)
			if ok != (tt.want != nil) {
				t.Fatalf("found = %v", ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestIndexEvents: informer events keep the index current without a
// lookup per event: a pod created later, its labels changed, then deleted.
func TestIndexEvents(t *testing.T) {
	cs := fake.NewClientset()
	// The fake drops objects created between an informer's list and its
	// watch: wait for the watches to start.
	watching := make(chan string, 8)
	cs.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watching <- a.GetResource().Resource
		return false, nil, nil
	})
	x := startIndex(t, cs, "node-a")
	for range 3 {
		select {
		case <-watching:
		case <-time.After(10 * time.Second):
			t.Fatal("informers did not start watching")
		}
	}
	ns, rs, pod := objects("node-a")
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().ReplicaSets("shop").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, x, cid, "", wantPod("node-a"))

	pod.Labels = map[string]string{"app": "web", "v": "2"}
	if _, err := cs.CoreV1().Pods("shop").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := wantPod("node-a")
	w.Labels = pod.Labels
	waitPod(t, x, cid, "", w)

	if err := cs.CoreV1().Pods("shop").Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, x, cid, "", nil)
}

func TestTrimRuntime(t *testing.T) {
	for in, want := range map[string]string{"containerd://" + cid: cid, "docker://abc": "abc", "cri-o://x": "x", "": "", cid: cid} {
		if got := TrimRuntime(in); got != want {
			t.Errorf("TrimRuntime(%q) = %q, want %q", in, got, want)
		}
	}
}
