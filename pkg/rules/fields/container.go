package fields

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// ctState says what is known of the event's container (FIELDS.md section 5).
type ctState uint8

const (
	ctUnknown ctState = iota // no thread info: every container field is none
	ctHost                   // a host process
	ctNoMeta                 // in a container whose metadata has not arrived
	ctMeta                   // c.Container holds the metadata
)

func ctOf(c *Ctx) ctState {
	switch {
	case c.Proc == nil:
		return ctUnknown
	case c.host():
		return ctHost
	case c.Container == nil || c.Container.Incomplete:
		return ctNoMeta
	}
	return ctMeta
}

// ctField builds a container field from its host value (ok=false: none on
// host) and its metadata value.
func ctField(typ Type, host func() (Value, bool), meta func(ct *schema.Container) (Value, bool)) *def {
	return &def{typ: typ, build: fixed(func(c *Ctx) (Value, bool) {
		switch ctOf(c) {
		case ctHost:
			return host()
		case ctMeta:
			return meta(c.Container)
		}
		return Value{}, false
	})}
}

func hostStr(s string) func() (Value, bool) { return func() (Value, bool) { return str(s), true } }
func hostNone() (Value, bool)               { return Value{}, false }
func hostFalse() (Value, bool)              { return boolean(false), true }

// splitImage splits an image reference into repository and tag: strip
// "@digest", then split at the last ':' after the last '/'
// ("reg:5000/a/b:1" is "reg:5000/a/b" and "1").
func splitImage(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		return image[:i], image[i+1:]
	}
	return image, ""
}

func imageRepo(ct *schema.Container) string {
	if ct.ImageRepo != "" {
		return ct.ImageRepo
	}
	repo, _ := splitImage(ct.Image)
	return repo
}

func imageTag(ct *schema.Container) string {
	if ct.ImageTag != "" || ct.ImageRepo != "" {
		return ct.ImageTag
	}
	_, tag := splitImage(ct.Image)
	return tag
}

func mountText(m *schema.Mount) string {
	return m.Source + ":" + m.Dest + ":" + m.Mode + ":" + strconv.FormatBool(m.RW) + ":" + m.Propagation
}

// mountSelector finds a mount by the field's argument: a number is an
// index, anything else an unanchored regular expression searched in the
// mount's source (for container.mount.source[K]: its destination), as the
// container plugin does.
func mountSelector(f *Field, bySource bool) (func(ct *schema.Container) *schema.Mount, error) {
	if n, err := strconv.Atoi(f.Arg); err == nil && n >= 0 {
		return func(ct *schema.Container) *schema.Mount {
			if n < len(ct.Mounts) {
				return &ct.Mounts[n]
			}
			return nil
		}, nil
	}
	re, err := regexp.Compile(f.Arg)
	if err != nil {
		return nil, badArg("not a regular expression: " + err.Error())
	}
	// Most keys are paths, possibly with a trailing "x*" meant as a glob;
	// their search is a substring test and needs no regexp engine.
	lit, complete := searchLiteral(f.Arg)
	return func(ct *schema.Container) *schema.Mount {
		for i := range ct.Mounts {
			m := &ct.Mounts[i]
			s := m.Source
			if !bySource {
				s = m.Dest
			}
			if complete {
				if strings.Contains(s, lit) {
					return m
				}
			} else if re.MatchString(s) {
				return m
			}
		}
		return nil
	}, nil
}

// searchLiteral reports whether an unanchored search for the regular
// expression expr is the same as a substring search for lit: expr is a
// literal followed only by parts that can match the empty string
// ("/proc*" searches for "/pro").
func searchLiteral(expr string) (lit string, ok bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) == 0 || subs[0].Op != syntax.OpLiteral || subs[0].Flags&syntax.FoldCase != 0 {
		return "", false
	}
	for _, r := range subs[1:] {
		switch r.Op {
		case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch:
		case syntax.OpRepeat:
			if r.Min != 0 {
				return "", false
			}
		default:
			return "", false
		}
	}
	return string(subs[0].Rune), true
}

func mountField(bySource bool, get func(m *schema.Mount) Value) *def {
	return &def{typ: TString, arg: argRequired, build: func(f *Field) error {
		sel, err := mountSelector(f, bySource)
		if err != nil {
			return err
		}
		f.ext = func(c *Ctx) (Value, bool) {
			if ctOf(c) != ctMeta {
				return Value{}, false
			}
			m := sel(c.Container)
			if m == nil {
				return Value{}, false
			}
			return get(m), true
		}
		return nil
	}}
}

// joinLabels renders a label map as "k1:v1, k2:v2", sorted by key so the
// text is stable.
func joinLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(m[k])
	}
	return b.String()
}

// containerID is container.id: the short id, "host", or none without
// thread info.
func containerID(c *Ctx) (Value, bool) {
	switch ctOf(c) {
	case ctUnknown:
		return Value{}, false
	case ctHost:
		return str(schema.HostContainerID), true
	}
	id := c.Proc.ContainerID
	if len(id) > 12 {
		id = id[:12]
	}
	return str(id), true
}

func containerFields() map[string]*def {
	return map[string]*def{
		"container.id": {typ: TString, build: fixed(containerID)},
		"container.full_id": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			switch ctOf(c) {
			case ctUnknown:
				return Value{}, false
			case ctHost:
				return str(schema.HostContainerID), true
			}
			return str(c.Proc.ContainerID), true
		})},
		"container.name":  ctField(TString, hostStr("host"), func(ct *schema.Container) (Value, bool) { return str(ct.Name), true }),
		"container.type":  ctField(TString, hostStr("host"), func(ct *schema.Container) (Value, bool) { return str(ct.Type), true }),
		"container.image": ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) { return str(ct.Image), true }),
		"container.image.repository": ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) {
			return str(imageRepo(ct)), true
		}),
		"container.image.tag":    ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) { return str(imageTag(ct)), true }),
		"container.image.digest": ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) { return str(ct.ImageDigest), true }),
		"container.image.id":     ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) { return str(ct.ImageID), true }),
		"container.privileged":   ctField(TBool, hostFalse, func(ct *schema.Container) (Value, bool) { return boolean(ct.Privileged), true }),
		"container.mounts": {typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
			switch ctOf(c) {
			case ctHost:
				return str(""), true
			case ctMeta:
				parts := make([]string, len(c.Container.Mounts))
				for i := range c.Container.Mounts {
					parts[i] = mountText(&c.Container.Mounts[i])
				}
				return str(strings.Join(parts, ",")), true
			}
			return Value{}, false
		})},
		"container.mount":             mountField(true, func(m *schema.Mount) Value { return str(mountText(m)) }),
		"container.mount.dest":        mountField(true, func(m *schema.Mount) Value { return str(m.Dest) }),
		"container.mount.mode":        mountField(true, func(m *schema.Mount) Value { return str(m.Mode) }),
		"container.mount.rdwr":        mountField(true, func(m *schema.Mount) Value { return str(strconv.FormatBool(m.RW)) }),
		"container.mount.propagation": mountField(true, func(m *schema.Mount) Value { return str(m.Propagation) }),
		"container.mount.source":      mountField(false, func(m *schema.Mount) Value { return str(m.Source) }),
		"container.start_ts": {typ: TAbsTime, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Proc == nil || c.Proc.PidNSInitStartTs == 0 {
				return Value{}, false
			}
			return num(c.Proc.PidNSInitStartTs), true
		})},
		"container.duration": {typ: TRelTime, build: fixed(func(c *Ctx) (Value, bool) {
			if c.Proc == nil || c.Proc.PidNSInitStartTs == 0 {
				return Value{}, false
			}
			return num(c.Event.Ts - c.Proc.PidNSInitStartTs), true
		})},
		"container.healthcheck": ctField(TString, hostNone, func(ct *schema.Container) (Value, bool) {
			return str(ct.Healthcheck), ct.Healthcheck != ""
		}),
		"container.ip": ctField(TString, hostNone, func(ct *schema.Container) (Value, bool) {
			return str(ct.IP), ct.IP != ""
		}),
		"container.label": {typ: TString, arg: argRequired, build: func(f *Field) error {
			key := f.Arg
			f.ext = func(c *Ctx) (Value, bool) {
				if ctOf(c) != ctMeta {
					return Value{}, false
				}
				v, ok := c.Container.Labels[key]
				return str(v), ok
			}
			return nil
		}},
		"container.labels": ctField(TString, hostStr(""), func(ct *schema.Container) (Value, bool) {
			return str(joinLabels(ct.Labels)), true
		}),
	}
}

// CRI labels kubelet sets on every pod container; they stand in for the
// pod metadata when the enricher has no Pod object.
const (
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelPodUID       = "io.kubernetes.pod.uid"
)

// k8sField reads pod metadata; none on host, outside Kubernetes and
// before metadata. label is the CRI label to fall back on ("" for none).
func k8sField(label string, get func(p *schema.Pod) (string, bool)) *def {
	return &def{typ: TString, build: fixed(func(c *Ctx) (Value, bool) {
		if ctOf(c) != ctMeta {
			return Value{}, false
		}
		if p := c.Container.Pod; p != nil {
			s, ok := get(p)
			return str(s), ok
		}
		if label != "" {
			s, ok := c.Container.Labels[label]
			return str(s), ok
		}
		return Value{}, false
	})}
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

func k8sLabelField(nsLabels bool) *def {
	return &def{typ: TString, arg: argRequired, build: func(f *Field) error {
		key := f.Arg
		f.ext = func(c *Ctx) (Value, bool) {
			if ctOf(c) != ctMeta || c.Container.Pod == nil {
				return Value{}, false
			}
			m := c.Container.Pod.Labels
			if nsLabels {
				m = c.Container.Pod.NSLabels
			}
			v, ok := m[key]
			return str(v), ok
		}
		return nil
	}}
}

func k8sFields() map[string]*def {
	return map[string]*def{
		"k8s.ns.name":  k8sField(labelPodNamespace, func(p *schema.Pod) (string, bool) { return nonEmpty(p.Namespace) }),
		"k8s.pod.name": k8sField(labelPodName, func(p *schema.Pod) (string, bool) { return nonEmpty(p.Name) }),
		"k8s.pod.uid":  k8sField(labelPodUID, func(p *schema.Pod) (string, bool) { return nonEmpty(p.UID) }),
		"k8s.pod.ip":   k8sField("", func(p *schema.Pod) (string, bool) { return nonEmpty(p.IP) }),
		"k8s.pod.labels": k8sField("", func(p *schema.Pod) (string, bool) {
			return joinLabels(p.Labels), true
		}),
		"k8s.ns.labels": k8sField("", func(p *schema.Pod) (string, bool) {
			return joinLabels(p.NSLabels), true
		}),
		"k8s.pod.label":       k8sLabelField(false),
		"k8s.ns.label":        k8sLabelField(true),
		"k8s.rs.name":         k8sField("", func(p *schema.Pod) (string, bool) { return nonEmpty(p.ReplicaSet) }),
		"k8s.deployment.name": k8sField("", func(p *schema.Pod) (string, bool) { return nonEmpty(p.Deployment) }),
		"k8s.node.name":       k8sField("", func(p *schema.Pod) (string, bool) { return nonEmpty(p.Node) }),
	}
}
