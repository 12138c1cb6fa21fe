// Package source declares what a container runtime client gives the
// enricher: a lookup of one container and a stream of lifecycle events.
// The clients live in sibling packages (docker, cri).
package source

import (
	"errors"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// Errors wrapped by runtime clients, to branch on with errors.Is.
var (
	// ErrNotFound: the runtime answered and does not know the container.
	ErrNotFound = errors.New("container not found")
	// ErrProtocol: the runtime answered something that is not its API.
	ErrProtocol = errors.New("unexpected runtime answer")
)

// Info is what one runtime knows about one container.
type Info struct {
	Container schema.Container
	// PodUID and SandboxID tie a CRI container to its pod; PodName and
	// PodNamespace come from the sandbox or kubelet labels, for when the
	// API server cannot be asked.
	PodUID       string
	PodName      string
	PodNamespace string
	SandboxID    string
}

// EventKind is a container lifecycle change.
type EventKind int

// Lifecycle changes a runtime reports.
const (
	Created EventKind = iota + 1
	Started
	Changed // renamed, updated: cached metadata is stale
	Deleted
)

// Event is one lifecycle change of container ID.
type Event struct {
	ID   string
	Kind EventKind
}
