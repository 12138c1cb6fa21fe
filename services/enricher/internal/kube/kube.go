// Package kube keeps the Kubernetes context of containers from the API
// server through shared informers (pods, replica sets, namespaces), so
// that a lookup is a map read and never an API call.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// ErrNoConfig is returned by [LoadConfig] when neither a kubeconfig nor an
// in-cluster service account is available.
var ErrNoConfig = errors.New("no kubeconfig and not running in a cluster")

// LoadConfig returns the API server config from the kubeconfig file path,
// else from $KUBECONFIG, else from the in-cluster service account. The
// error wraps [ErrNoConfig] when there is none of these.
func LoadConfig(path string) (*rest.Config, error) {
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, ErrNoConfig
	}
	if err != nil {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	return cfg, nil
}

const (
	byUID         = "uid"
	byContainerID = "containerID"
)

// Index answers pod lookups from informer caches. Safe for concurrent use
// once [New] returns.
type Index struct {
	factories []informers.SharedInformerFactory
	pods      cache.SharedIndexInformer
	rs        cache.SharedIndexInformer
	ns        cache.SharedIndexInformer
	log       *slog.Logger
	synced    atomic.Bool
	failing   atomic.Bool
}

// New sets up informers on cs. When node is not empty only that node's
// pods are watched. Call [Index.Run] to start them.
func New(cs kubernetes.Interface, node string, resync time.Duration, log *slog.Logger) (*Index, error) {
	f := informers.NewSharedInformerFactory(cs, resync)
	// Only pods are per node; replica sets and namespaces are not.
	pf := f
	if node != "" {
		sel := fields.OneTermEqualSelector("spec.nodeName", node).String()
		pf = informers.NewSharedInformerFactoryWithOptions(cs, resync, informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = sel
		}))
	}
	x := &Index{factories: []informers.SharedInformerFactory{f}, log: log}
	if pf != f {
		x.factories = append(x.factories, pf)
	}
	x.pods = pf.Core().V1().Pods().Informer()
	x.rs = f.Apps().V1().ReplicaSets().Informer()
	x.ns = f.Core().V1().Namespaces().Informer()
	if err := x.pods.AddIndexers(cache.Indexers{
		byUID: func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, nil
			}
			return []string{string(p.UID)}, nil
		},
		byContainerID: func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, nil
			}
			return containerIDs(p), nil
		},
	}); err != nil {
		return nil, fmt.Errorf("pod informer indexers: %w", err)
	}
	for _, inf := range []cache.SharedIndexInformer{x.pods, x.rs, x.ns} {
		// client-go logs every failed list or watch; say it once until
		// the API server answers again.
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			x.unavailable(err)
		})
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { x.recovered() },
			UpdateFunc: func(any, any) { x.recovered() },
		})
	}
	return x, nil
}

// NewForConfig is [New] with a clientset made from cfg, whose transport
// also watches for the API server going away: a reflector whose watch is
// refused retries quietly without reporting to its error handler.
func NewForConfig(cfg *rest.Config, node string, resync time.Duration, log *slog.Logger) (*Index, error) {
	var x *Index
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return watchdog{rt: rt, index: func() *Index { return x }}
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	x, err = New(cs, node, resync, log)
	return x, err
}

// watchdog reports the outcome of every API request to the index.
type watchdog struct {
	rt    http.RoundTripper
	index func() *Index
}

func (w watchdog) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.rt.RoundTrip(r)
	x := w.index()
	switch {
	case x == nil || r.Context().Err() != nil: // not started yet, or shutting down
	case err != nil:
		x.unavailable(err)
	case resp.StatusCode == http.StatusServiceUnavailable:
		x.unavailable(errors.New(resp.Status))
	default:
		x.recovered()
	}
	return resp, err
}

// unavailable logs the first failure of an outage.
func (x *Index) unavailable(err error) {
	if x.failing.CompareAndSwap(false, true) {
		x.log.Warn("kubernetes API server unavailable; pods enriched from the cache and runtime labels", "err", err)
	}
}

func (x *Index) recovered() {
	if x.failing.CompareAndSwap(true, false) {
		x.log.Info("kubernetes API server available again")
	}
}

// containerIDs lists the bare ids of every container status of p.
func containerIDs(p *corev1.Pod) []string {
	var ids []string
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for _, cs := range list {
			if id := TrimRuntime(cs.ContainerID); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// TrimRuntime strips the runtime scheme of a status container id
// ("containerd://<id>", "docker://<id>", "cri-o://<id>").
func TrimRuntime(id string) string {
	if _, rest, ok := strings.Cut(id, "://"); ok {
		return rest
	}
	return id
}

// Run starts the informers and waits for their first sync, then returns
// nil; the informers run until ctx ends. It returns ctx's error if ctx
// ends first.
func (x *Index) Run(ctx context.Context) error {
	for _, f := range x.factories {
		f.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), x.pods.HasSynced, x.rs.HasSynced, x.ns.HasSynced) {
		return ctx.Err()
	}
	x.synced.Store(true)
	return nil
}

// Shutdown waits for the informers to stop after Run's ctx ended.
func (x *Index) Shutdown() {
	for _, f := range x.factories {
		f.Shutdown()
	}
}

// Synced reports whether the informers have listed once.
func (x *Index) Synced() bool { return x.synced.Load() }

// Pod returns the pod of a container, matched by container id, else by
// pod uid (known from the cgroup path or the sandbox before the kubelet
// reports the container's status).
func (x *Index) Pod(containerID, podUID string) (*schema.Pod, bool) {
	var p *corev1.Pod
	if containerID != "" {
		if objs, _ := x.pods.GetIndexer().ByIndex(byContainerID, containerID); len(objs) > 0 {
			p, _ = objs[0].(*corev1.Pod)
		}
	}
	if p == nil && podUID != "" {
		if objs, _ := x.pods.GetIndexer().ByIndex(byUID, podUID); len(objs) > 0 {
			p, _ = objs[0].(*corev1.Pod)
		}
	}
	if p == nil {
		return nil, false
	}
	return x.convert(p), true
}

func (x *Index) convert(p *corev1.Pod) *schema.Pod {
	out := &schema.Pod{
		Name:           p.Name,
		UID:            string(p.UID),
		Namespace:      p.Namespace,
		IP:             p.Status.PodIP,
		Labels:         p.Labels,
		Node:           p.Spec.NodeName,
		ServiceAccount: p.Spec.ServiceAccountName,
	}
	if obj, ok, _ := x.ns.GetIndexer().GetByKey(p.Namespace); ok {
		if ns, ok := obj.(*corev1.Namespace); ok {
			out.NSLabels = ns.Labels
		}
	}
	owner := metav1.GetControllerOf(p)
	if owner == nil {
		return out
	}
	out.OwnerKind, out.OwnerName = owner.Kind, owner.Name
	if owner.Kind != "ReplicaSet" {
		return out
	}
	out.ReplicaSet = owner.Name
	if obj, ok, _ := x.rs.GetIndexer().GetByKey(p.Namespace + "/" + owner.Name); ok {
		if rs, ok := obj.(*appsv1.ReplicaSet); ok {
			if d := metav1.GetControllerOf(rs); d != nil && d.Kind == "Deployment" {
				out.Deployment = d.Name
			}
		}
	}
	return out
}
