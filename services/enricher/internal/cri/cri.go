// Package cri is a client of the Kubernetes Container Runtime Interface
// (containerd, CRI-O) over its gRPC unix socket, limited to what the
// enricher needs: container and sandbox status, and container events
// (GetContainerEvents, or a ListContainers poll where the runtime lacks it).
package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/image"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/source"
)

// Default sockets.
const (
	ContainerdSocket = "/run/containerd/containerd.sock"
	CRIOSocket       = "/run/crio/crio.sock"
)

// Client talks to one CRI runtime. Safe for concurrent use.
type Client struct {
	socket  string
	conn    *grpc.ClientConn
	rt      runtimeapi.RuntimeServiceClient
	img     runtimeapi.ImageServiceClient
	timeout time.Duration
	// Poll is the ListContainers period used when the runtime has no
	// GetContainerEvents (containerd before 1.7).
	Poll time.Duration
	// typ is "containerd" or "cri-o", from the runtime's Version; a guess
	// from the socket path until it answers.
	typ string
}

// New returns a client of the runtime at the unix socket path. It does not
// connect yet: gRPC dials on first use and redials after a failure.
func New(socket string, timeout time.Duration) (*Client, error) {
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("cri %s: %w", socket, err)
	}
	typ := "containerd"
	if strings.Contains(socket, "crio") {
		typ = "cri-o"
	}
	return &Client{
		socket: socket, conn: conn, timeout: timeout, Poll: time.Second, typ: typ,
		rt:  runtimeapi.NewRuntimeServiceClient(conn),
		img: runtimeapi.NewImageServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Name names the runtime for logs and metrics.
func (c *Client) Name() string { return "cri:" + c.socket }

func (c *Client) wrap(what string, err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.NotFound {
		return fmt.Errorf("cri %s: %s: %v: %w", c.socket, what, err, source.ErrNotFound)
	}
	if st, ok := status.FromError(err); ok && (st.Code() == codes.Internal || st.Code() == codes.Unimplemented) &&
		strings.Contains(st.Message(), "frame") {
		// A server that is not gRPC shows up as framing errors.
		return fmt.Errorf("cri %s: %s: %v: %w", c.socket, what, err, source.ErrProtocol)
	}
	return fmt.Errorf("cri %s: %s: %w", c.socket, what, err)
}

// Ping asks the runtime its version and learns its name from it.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return c.wrap("version", err)
	}
	switch n := strings.ToLower(v.GetRuntimeName()); {
	case strings.Contains(n, "cri-o"):
		c.typ = "cri-o"
	case n != "":
		c.typ = n
	}
	return nil
}

// verboseInfo is the part of the runtimes' verbose "info" JSON read here:
// containerd writes the CRI config (snake_case, or camelCase from 2.0's
// protojson) and the OCI spec; CRI-O writes "privileged" itself.
type verboseInfo struct {
	SandboxID  string `json:"sandboxID"`
	Privileged *bool  `json:"privileged"`
	Config     struct {
		Linux struct {
			SecurityContext      *struct{ Privileged bool } `json:"security_context"`
			SecurityContextCamel *struct{ Privileged bool } `json:"securityContext"`
		} `json:"linux"`
	} `json:"config"`
	RuntimeSpec struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"runtimeSpec"`
}

// Inspect returns the metadata of container id with its pod sandbox. The
// error wraps [source.ErrNotFound] when the runtime does not know it.
func (c *Client) Inspect(ctx context.Context, id string) (source.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return source.Info{}, c.wrap("container "+id, err)
	}
	st := resp.GetStatus()
	if st == nil || st.GetId() == "" {
		return source.Info{}, fmt.Errorf("cri %s: container %s: status without id: %w", c.socket, id, source.ErrProtocol)
	}
	var vi verboseInfo
	if raw := resp.GetInfo()["info"]; raw != "" {
		// A runtime whose verbose info does not parse still gave the
		// status; keep that.
		_ = json.Unmarshal([]byte(raw), &vi)
	}
	ct := schema.Container{
		ID:      st.GetId(),
		Type:    c.typ,
		Name:    st.GetMetadata().GetName(),
		Image:   st.GetImage().GetImage(),
		ImageID: st.GetImageId(),
		Labels:  st.GetLabels(),
		StartTs: st.GetStartedAt(),
	}
	if ct.StartTs == 0 {
		ct.StartTs = st.GetCreatedAt()
	}
	switch {
	case vi.Privileged != nil:
		ct.Privileged = *vi.Privileged
	case vi.Config.Linux.SecurityContext != nil:
		ct.Privileged = vi.Config.Linux.SecurityContext.Privileged
	case vi.Config.Linux.SecurityContextCamel != nil:
		ct.Privileged = vi.Config.Linux.SecurityContextCamel.Privileged
	}
	// containerd keeps the name the image was asked by in the OCI spec;
	// the status may hold only the image id.
	if n := vi.RuntimeSpec.Annotations["io.kubernetes.cri.image-name"]; n != "" {
		ct.Image = n
	}
	ref := image.Split(ct.Image)
	if ref.Repo == "" {
		if tags := c.imageTags(ctx, ct.Image); len(tags) > 0 {
			ref = image.Split(tags[0])
		}
	}
	if r := st.GetImageRef(); strings.Contains(r, "@") {
		ref.Digest = image.Split(r).Digest
	} else if ct.ImageID == "" {
		ct.ImageID = r
	}
	if ct.ImageID == "" && strings.HasPrefix(ct.Image, "sha256:") {
		ct.ImageID = ct.Image
	}
	ct.ImageRepo, ct.ImageTag, ct.ImageDigest = ref.Repo, ref.Tag, ref.Digest
	for _, m := range st.GetMounts() {
		mode := "rw"
		if m.GetReadonly() {
			mode = "ro"
		}
		ct.Mounts = append(ct.Mounts, schema.Mount{
			Source: m.GetHostPath(), Dest: m.GetContainerPath(), Mode: mode, RW: !m.GetReadonly(),
			Propagation: propagation(m.GetPropagation()),
		})
	}
	info := source.Info{Container: ct, SandboxID: vi.SandboxID}
	info.PodUID = ct.Labels["io.kubernetes.pod.uid"]
	info.PodName = ct.Labels["io.kubernetes.pod.name"]
	info.PodNamespace = ct.Labels["io.kubernetes.pod.namespace"]
	if info.SandboxID == "" {
		list, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: ct.ID}})
		if err == nil && len(list.GetContainers()) == 1 {
			info.SandboxID = list.GetContainers()[0].GetPodSandboxId()
		}
	}
	if info.SandboxID != "" {
		sb, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: info.SandboxID})
		if err == nil && sb.GetStatus() != nil {
			md := sb.GetStatus().GetMetadata()
			info.PodUID, info.PodName, info.PodNamespace = md.GetUid(), md.GetName(), md.GetNamespace()
			info.Container.IP = sb.GetStatus().GetNetwork().GetIp()
		}
	}
	return info, nil
}

func (c *Client) imageTags(ctx context.Context, ref string) []string {
	if ref == "" {
		return nil
	}
	resp, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return nil
	}
	return resp.GetImage().GetRepoTags()
}

func propagation(p runtimeapi.MountPropagation) string {
	switch p {
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		return "rslave"
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		return "rshared"
	}
	return "private"
}

// Watch reports container events to fn until ctx ends or the runtime
// fails; it returns the reason. It streams GetContainerEvents where the
// runtime has it, else polls ListContainers every Poll and reports the
// differences. fn runs on Watch's goroutine.
func (c *Client) Watch(ctx context.Context, fn func(source.Event)) error {
	stream, err := c.rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err == nil {
		var ev *runtimeapi.ContainerEventResponse
		for ev, err = stream.Recv(); err == nil; ev, err = stream.Recv() {
			var k source.EventKind
			switch ev.GetContainerEventType() {
			case runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT:
				k = source.Created
			case runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT:
				k = source.Started
			case runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT:
				k = source.Deleted
			default:
				continue
			}
			fn(source.Event{ID: ev.GetContainerId(), Kind: k})
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if st, ok := status.FromError(err); !ok || st.Code() != codes.Unimplemented {
		return c.wrap("container events", err)
	}
	return c.poll(ctx, fn)
}

func (c *Client) poll(ctx context.Context, fn func(source.Event)) error {
	known := map[string]bool{}
	first := true
	t := time.NewTicker(c.Poll)
	defer t.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, c.timeout)
		list, err := c.rt.ListContainers(lctx, &runtimeapi.ListContainersRequest{})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return c.wrap("list containers", err)
		}
		seen := make(map[string]bool, len(list.GetContainers()))
		for _, ct := range list.GetContainers() {
			seen[ct.GetId()] = true
			if !known[ct.GetId()] && !first {
				fn(source.Event{ID: ct.GetId(), Kind: source.Created})
			}
		}
		for id := range known {
			if !seen[id] {
				fn(source.Event{ID: id, Kind: source.Deleted})
			}
		}
		known, first = seen, false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
