// Package image splits container image references the way Falco's
// container.image.repository and container.image.tag fields do.
package image

import "strings"

// Ref is an image reference split in parts.
type Ref struct {
	Repo   string // "reg:5000/a/b", "docker.io/library/alpine", "alpine"
	Tag    string // "" when the reference has none
	Digest string // "sha256:..." when the reference pins one
}

// Split splits ref: the digest after '@' is removed, then the tag is the
// text after the last ':' that follows the last '/' (so a registry port is
// never taken for a tag). A bare image id ("sha256:<hex>") has no
// repository: it yields the zero Ref with only the digest set.
func Split(ref string) Ref {
	var r Ref
	ref = strings.TrimSpace(ref)
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		ref, r.Digest = name, digest
	}
	if strings.HasPrefix(ref, "sha256:") && !strings.Contains(ref, "/") {
		if r.Digest == "" {
			r.Digest = ref
		}
		return r
	}
	slash := strings.LastIndexByte(ref, '/')
	if colon := strings.LastIndexByte(ref, ':'); colon > slash {
		r.Repo, r.Tag = ref[:colon], ref[colon+1:]
		return r
	}
	r.Repo = ref
	return r
}
