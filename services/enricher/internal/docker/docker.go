// Package docker is a client of the Docker Engine API over its unix
// socket, limited to what the enricher needs: container inspect, image
// inspect and the event stream. Plain HTTP keeps the moby module tree out
// of the build; the API is the real one.
package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/image"
	"github.com/peregrine-rt/peregrine/services/enricher/internal/source"
)

// DefaultSocket is where dockerd listens unless told otherwise.
const DefaultSocket = "/var/run/docker.sock"

// PodmanSocket is where `podman system service` (podman.socket) listens
// for root.
const PodmanSocket = "/run/podman/podman.sock"

// maxBody bounds what is read of one answer: an inspect is a few KiB, so
// more is a broken or hostile server.
const maxBody = 4 << 20

// Client talks to one dockerd. Safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
	// Type is the container type reported ("docker"; "podman" for
	// podman's compatible socket).
	Type string
}

// New returns a client of the daemon listening on the unix socket path.
// Each request is bounded by timeout.
func New(socket string, timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost:   4,
		ResponseHeaderTimeout: timeout,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}, Type: "docker"}
}

// NewPodman is [New] for podman's Docker-compatible API: the same calls,
// containers of type "podman".
func NewPodman(socket string, timeout time.Duration) *Client {
	c := New(socket, timeout)
	c.Type = "podman"
	return c
}

// Name names the runtime for logs and metrics.
func (c *Client) Name() string { return c.Type + ":" + c.socket }

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker %s: GET %s: %w", c.socket, path, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxBody)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("docker %s: GET %s: %w", c.socket, path, source.ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(body, 512))
		return fmt.Errorf("docker %s: GET %s: status %d: %q: %w", c.socket, path, resp.StatusCode, msg, source.ErrProtocol)
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("docker %s: GET %s: decoding answer: %v: %w", c.socket, path, err, source.ErrProtocol)
	}
	return nil
}

// Ping checks the daemon answers its API.
func (c *Client) Ping(ctx context.Context) error {
	var v struct{ APIVersion string }
	if err := c.get(ctx, "/version", &v); err != nil {
		return err
	}
	if v.APIVersion == "" {
		return fmt.Errorf("docker %s: /version has no ApiVersion: %w", c.socket, source.ErrProtocol)
	}
	return nil
}

// inspect is the part of /containers/<id>/json the enricher reads.
type inspect struct {
	ID      string `json:"Id"`
	Name    string
	Image   string // image id, sha256:...
	Created string
	State   struct {
		Running   bool
		Pid       int
		StartedAt string
	}
	Config struct {
		Image       string
		Labels      map[string]string
		Healthcheck *struct{ Test []string }
	}
	HostConfig struct {
		Privileged bool
	}
	Mounts []struct {
		Source      string
		Destination string
		Mode        string
		RW          bool
		Propagation string
	}
	NetworkSettings struct {
		IPAddress string
		Networks  map[string]struct{ IPAddress string }
	}
}

type imageInspect struct {
	RepoTags    []string
	RepoDigests []string
}

// Inspect returns the metadata of container id. The error wraps
// [source.ErrNotFound] when dockerd does not know it and
// [source.ErrProtocol] when the answer is not the API's.
func (c *Client) Inspect(ctx context.Context, id string) (source.Info, error) {
	var in inspect
	if err := c.get(ctx, "/containers/"+url.PathEscape(id)+"/json", &in); err != nil {
		return source.Info{}, err
	}
	if in.ID == "" {
		return source.Info{}, fmt.Errorf("docker %s: container %s: answer has no Id: %w", c.socket, id, source.ErrProtocol)
	}
	ct := schema.Container{
		ID:         in.ID,
		Type:       c.Type,
		Name:       strings.TrimPrefix(in.Name, "/"),
		Image:      in.Config.Image,
		ImageID:    in.Image,
		Privileged: in.HostConfig.Privileged,
		Labels:     in.Config.Labels,
		IP:         in.NetworkSettings.IPAddress,
	}
	if ct.IP == "" {
		for _, n := range in.NetworkSettings.Networks {
			if n.IPAddress != "" {
				ct.IP = n.IPAddress
				break
			}
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, in.State.StartedAt); err == nil && ts.Year() > 1 {
		ct.StartTs = ts.UnixNano()
	}
	if hc := in.Config.Healthcheck; hc != nil && len(hc.Test) > 1 && hc.Test[0] != "NONE" {
		ct.Healthcheck = strings.Join(hc.Test[1:], " ")
	}
	for _, m := range in.Mounts {
		ct.Mounts = append(ct.Mounts, schema.Mount{Source: m.Source, Dest: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation})
	}
	ref := image.Split(ct.Image)
	// A container started by image id names no repository; the image's
	// own tags do, as Falco shows them.
	if ref.Repo == "" || ref.Digest == "" {
		var im imageInspect
		if err := c.get(ctx, "/images/"+url.PathEscape(in.Image)+"/json", &im); err == nil {
			if ref.Repo == "" && len(im.RepoTags) > 0 {
				ref = image.Split(im.RepoTags[0])
			}
			if ref.Digest == "" {
				for _, d := range im.RepoDigests {
					if r := image.Split(d); r.Repo == ref.Repo {
						ref.Digest = r.Digest
					}
				}
			}
		}
	}
	ct.ImageRepo, ct.ImageTag, ct.ImageDigest = ref.Repo, ref.Tag, ref.Digest
	if ct.ImageTag == "" && ct.ImageRepo != "" && !strings.Contains(ct.Image, "@") {
		ct.ImageTag = "latest" // what docker pulled for a bare name
	}
	info := source.Info{Container: ct}
	// cri-dockerd and dockershim label containers with their pod.
	info.PodUID = in.Config.Labels["io.kubernetes.pod.uid"]
	info.PodName = in.Config.Labels["io.kubernetes.pod.name"]
	info.PodNamespace = in.Config.Labels["io.kubernetes.pod.namespace"]
	if n := in.Config.Labels["io.kubernetes.container.name"]; n != "" {
		info.Container.Name = n
	}
	return info, nil
}

type event struct {
	Type   string
	Action string
	Actor  struct{ ID string }
}

// Watch streams container events to fn until ctx ends or the stream
// breaks; it returns the reason. fn runs on Watch's goroutine.
func (c *Client) Watch(ctx context.Context, fn func(source.Event)) error {
	q := url.Values{"filters": {`{"type":["container"]}`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	// The stream lasts: no timeout but ctx.
	hc := &http.Client{Transport: c.hc.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("docker %s: events: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("docker %s: events: status %d: %w", c.socket, resp.StatusCode, source.ErrProtocol)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("docker %s: events: %v: %w", c.socket, err, source.ErrProtocol)
		}
		if ev.Type != "container" || ev.Actor.ID == "" {
			continue
		}
		var k source.EventKind
		switch ev.Action {
		case "create":
			k = source.Created
		case "start":
			k = source.Started
		case "rename", "update":
			k = source.Changed
		case "destroy":
			k = source.Deleted
		default:
			continue
		}
		fn(source.Event{ID: ev.Actor.ID, Kind: k})
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("docker %s: events: %w", c.socket, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("docker %s: events: stream ended", c.socket)
}
