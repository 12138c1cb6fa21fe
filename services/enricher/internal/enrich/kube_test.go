package enrich

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/kube"
)

// TestLatePod: a container's first batch arrives before its pod reaches
// the informer; the batch is held until the pod shows up (within Hold)
// and carries the pod, matched by the uid in the cgroup path.
func TestLatePod(t *testing.T) {
	const (
		id  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		uid = "5c3b6a1e-2d4f-4a8b-9c7d-0e1f2a3b4c5d"
	)
	cs := fake.NewClientset()
	watching := make(chan struct{}, 8)
	cs.PrependWatchReactor("*", func(k8stesting.Action) (bool, watch.Interface, error) {
		watching <- struct{}{}
		return false, nil, nil
	})
	x, err := kube.New(cs, "", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); x.Shutdown() })
	if err := x.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		<-watching
	}
	r := newRig(t, nil, x, Config{Hold: 5 * time.Second})

	out := make(chan *schema.Batch, 1)
	p := schema.Process{Pid: 9, Cgroup: "/kubepods/besteffort/pod" + uid + "/" + id}
	if err := r.e.Submit(ctx, batch("n", 1, p, 1), func(b *schema.Batch) { out <- b }); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-out:
		t.Fatalf("batch sent before its pod was known: %+v", b.Containers)
	case <-time.After(100 * time.Millisecond):
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default", UID: uid}, Spec: corev1.PodSpec{NodeName: "n"}}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-out:
		c := b.Container(id)
		if c == nil || c.Pod == nil || c.Pod.Name != "late" || c.Pod.UID != uid {
			t.Fatalf("container %+v, want pod late", c)
		}
		// No runtime knows the container: still incomplete, but with its pod.
		if !c.Incomplete {
			t.Errorf("container not marked incomplete")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("batch not sent")
	}
}
