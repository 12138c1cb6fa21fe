package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
	"gopkg.in/yaml.v3"
)

// The loader reads rule files into a collection the way Falco's
// rule_loader reader and collector do: items are applied in file order,
// a redefinition replaces an item in place, "append: true" and "override"
// modify the earlier definition, and an entry with only "rule" and
// "enabled" toggles an earlier rule.

// EngineVersion is the Falco engine version this package implements for
// required_engine_version checks (the version the upstream
// rule files of December 2026 require).
const EngineVersion = "0.57.0"

type listDef struct {
	name       string
	items      []string
	src        scalarSrc // the item
	index      int
	visibility int // lists with index below this are expanded in items
}

type macroDef struct {
	name       string
	cond       segmented
	src        scalarSrc
	index      int
	visibility int // macros with index below this are visible
}

type exItem struct {
	item   string
	isList bool
	items  []exItem
}

type exceptionDef struct {
	name   string
	fields exItem
	comps  exItem
	values []exItem
	src    scalarSrc
}

type ruleDef struct {
	name        string
	desc        string
	cond        segmented
	output      string
	outputSrc   scalarSrc
	priority    schema.Priority
	source      string
	enabled     bool
	warnEvt     bool
	skipUnknown bool
	tags        []string
	exceptions  []exceptionDef
	src         scalarSrc
}

// collection is every list, macro and rule after loading, in definition
// order.
type collection struct {
	lists      []*listDef
	listIdx    map[string]*listDef
	macros     []*macroDef
	macroIdx   map[string]*macroDef
	rules      []*ruleDef
	ruleIdx    map[string]*ruleDef
	issues     Issues
	warnings   Issues
	fileOrders map[string]int
}

func newCollection() *collection {
	return &collection{listIdx: map[string]*listDef{}, macroIdx: map[string]*macroDef{},
		ruleIdx: map[string]*ruleDef{}, fileOrders: map[string]int{}}
}

var (
	identRE   = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*$`)
	yamlErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// loadError aborts the rest of a file, as Falco stops reading a file at its
// first structural error.
type loadError struct{ issue Issue }

// load reads one file into the collection.
func (c *collection) load(f File) {
	sf := newSrcFile(f)
	if _, ok := c.fileOrders[f.Name]; !ok {
		c.fileOrders[f.Name] = len(c.fileOrders)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(f.Data)))
	for {
		doc = yaml.Node{}
		err := dec.Decode(&doc)
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			c.issues = append(c.issues, yamlIssue(f.Name, err))
			return
		}
		if !c.loadDoc(sf, &doc) {
			return
		}
	}
}

func yamlIssue(file string, err error) Issue {
	msg := err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Issue{File: file, Line: line, Col: 1, Message: "invalid YAML: " + m[2]}
	}
	return Issue{File: file, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (c *collection) loadDoc(sf *srcFile, doc *yaml.Node) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			le, isLoad := r.(loadError)
			if !isLoad {
				panic(r)
			}
			c.issues = append(c.issues, le.issue)
			ok = false
		}
	}()
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return true
	}
	if root.Kind != yaml.SequenceNode {
		c.fail(scalarSrc{file: sf, node: root}, "rules content is not a YAML array of objects", "")
	}
	for _, item := range root.Content {
		if item.Kind == yaml.ScalarNode && item.Tag == "!!null" {
			continue
		}
		c.item(sf, item)
	}
	return true
}

func (c *collection) fail(src scalarSrc, msg, item string) {
	panic(loadError{src.issue(msg, item)})
}

func (c *collection) warn(src scalarSrc, msg, item string) {
	c.warnings = append(c.warnings, src.issue(msg, item))
}

// mapping is a YAML mapping with its keys' value nodes.
type mapping struct {
	sf   *srcFile
	node *yaml.Node
	keys map[string]*yaml.Node
	knod map[string]*yaml.Node
}

func (c *collection) asMapping(sf *srcFile, n *yaml.Node, what string) mapping {
	if n.Kind != yaml.MappingNode {
		c.fail(scalarSrc{file: sf, node: n}, what+" is not a YAML object", "")
	}
	m := mapping{sf: sf, node: n, keys: map[string]*yaml.Node{}, knod: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		m.keys[k.Value] = n.Content[i+1]
		m.knod[k.Value] = k
	}
	return m
}

func (m mapping) has(k string) bool { _, ok := m.keys[k]; return ok }

func (m mapping) src(k string) scalarSrc {
	if n, ok := m.keys[k]; ok {
		return scalarSrc{file: m.sf, node: n}
	}
	return scalarSrc{file: m.sf, node: m.node}
}

func (c *collection) str(m mapping, k string) string {
	n := m.keys[k]
	if n.Kind != yaml.ScalarNode {
		c.fail(m.src(k), fmt.Sprintf("value of %q must be a string", k), k)
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func (c *collection) reqStr(m mapping, k, kind, name string) string {
	if !m.has(k) {
		c.fail(scalarSrc{file: m.sf, node: m.node}, fmt.Sprintf("%s %q: missing required key %q", kind, name, k), k)
	}
	return c.str(m, k)
}

func (c *collection) boolean(m mapping, k string) bool {
	n := m.keys[k]
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		c.fail(m.src(k), fmt.Sprintf("value of %q must be true or false", k), n.Value)
	}
	return b
}

func (c *collection) strList(m mapping, k string) []string {
	n := m.keys[k]
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		c.fail(m.src(k), fmt.Sprintf("value of %q must be a list of strings", k), k)
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		if it.Kind != yaml.ScalarNode {
			c.fail(scalarSrc{file: m.sf, node: it}, fmt.Sprintf("items of %q must be strings", k), k)
		}
		out = append(out, it.Value)
	}
	return out
}

func (c *collection) item(sf *srcFile, n *yaml.Node) {
	m := c.asMapping(sf, n, "rules item")
	switch {
	case m.has("required_engine_version"):
		c.engineVersion(m)
	case m.has("required_plugin_versions"):
		c.pluginVersions(m)
	case m.has("list"):
		c.list(m)
	case m.has("macro"):
		c.macro(m)
	case m.has("rule"):
		c.rule(m)
	default:
		c.warn(scalarSrc{file: sf, node: n}, "unknown top level item", "")
	}
}

func (c *collection) engineVersion(m mapping) {
	n := m.keys["required_engine_version"]
	if n.Kind != yaml.ScalarNode {
		c.fail(m.src("required_engine_version"), "required_engine_version must be a version string", "")
	}
	want, err := parseVersion(n.Value)
	if err != nil {
		c.fail(m.src("required_engine_version"), "invalid required_engine_version: "+err.Error(), n.Value)
	}
	have, _ := parseVersion(EngineVersion)
	if compareVersions(have, want) < 0 {
		c.fail(m.src("required_engine_version"),
			fmt.Sprintf("rules require engine version %s, but engine version is %s", n.Value, EngineVersion), n.Value)
	}
}

// pluginVersions validates the item's shape only: Peregrine has no
// plugins; the fields the container plugin provides are built in.
func (c *collection) pluginVersions(m mapping) {
	n := m.keys["required_plugin_versions"]
	if n.Kind != yaml.SequenceNode {
		c.fail(m.src("required_plugin_versions"), "required_plugin_versions must be a list", "")
	}
	for _, p := range n.Content {
		pm := c.asMapping(m.sf, p, "required_plugin_versions entry")
		for _, k := range []string{"name", "version"} {
			if !pm.has(k) {
				c.fail(scalarSrc{file: m.sf, node: p}, fmt.Sprintf("required_plugin_versions entry: missing required key %q", k), k)
			}
		}
		if _, err := parseVersion(c.str(pm, "version")); err != nil {
			c.fail(pm.src("version"), "invalid plugin version: "+err.Error(), c.str(pm, "version"))
		}
	}
}

func parseVersion(s string) ([3]int, error) {
	var v [3]int
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) == 0 || len(parts) > 3 {
		return v, fmt.Errorf("%q is not a version", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("%q is not a version", s)
		}
		v[i] = n
	}
	return v, nil
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// overrides decodes "override: {key: append|replace}".
func (c *collection) overrides(m mapping, appendable, replaceable []string) (app, rep []string) {
	if !m.has("override") {
		return nil, nil
	}
	om := c.asMapping(m.sf, m.keys["override"], "override")
	for i := 0; i+1 < len(om.node.Content); i += 2 {
		k, v := om.node.Content[i].Value, om.node.Content[i+1]
		src := scalarSrc{file: m.sf, node: v}
		switch v.Value {
		case "append":
			if !slices.Contains(appendable, k) {
				c.fail(src, fmt.Sprintf("key %q cannot be appended to", k), k)
			}
			app = append(app, k)
		case "replace":
			if !slices.Contains(replaceable, k) {
				c.fail(src, fmt.Sprintf("key %q cannot be replaced", k), k)
			}
			rep = append(rep, k)
		default:
			c.fail(src, fmt.Sprintf("invalid override operation for key %q: %q (want append or replace)", k, v.Value), v.Value)
		}
		if !m.has(k) {
			c.fail(src, fmt.Sprintf("an override of %q is given but the key is not defined", k), k)
		}
	}
	return app, rep
}

func (c *collection) appendFlag(m mapping) bool {
	if !m.has("append") {
		return false
	}
	b := c.boolean(m, "append")
	if b {
		c.warn(m.src("append"), "'append' key is deprecated: use 'override' instead", "append")
	}
	return b
}

func (c *collection) list(m mapping) {
	name := c.str(m, "list")
	src := scalarSrc{file: m.sf, node: m.node}
	if !identRE.MatchString(name) {
		c.fail(m.src("list"), fmt.Sprintf("list name %q is invalid: it must match %s", name, identRE), name)
	}
	if !m.has("items") {
		c.fail(src, fmt.Sprintf("list %q: missing required key \"items\"", name), "items")
	}
	items := c.strList(m, "items")
	app, _ := c.overrides(m, []string{"items"}, []string{"items"})
	appendFlag := c.appendFlag(m)
	if appendFlag && m.has("override") {
		c.fail(src, "keys 'override' and 'append: true' cannot be used together", name)
	}
	prev := c.listIdx[name]
	if appendFlag || len(app) > 0 {
		if prev == nil {
			c.fail(src, fmt.Sprintf("list %q has 'append' key or an append override but no list by that name already exists", name), name)
		}
		prev.items = append(prev.items, items...)
		prev.visibility = len(c.lists)
		return
	}
	if prev != nil {
		prev.items, prev.src, prev.visibility = items, src, len(c.lists)
		return
	}
	l := &listDef{name: name, items: items, src: src, index: len(c.lists), visibility: len(c.lists)}
	c.lists = append(c.lists, l)
	c.listIdx[name] = l
}

func (c *collection) macro(m mapping) {
	name := c.str(m, "macro")
	src := scalarSrc{file: m.sf, node: m.node}
	if !identRE.MatchString(name) {
		c.fail(m.src("macro"), fmt.Sprintf("macro name %q is invalid: it must match %s", name, identRE), name)
	}
	cond := c.reqStr(m, "condition", "macro", name)
	seg := segment{text: cond, src: m.src("condition")}
	app, _ := c.overrides(m, []string{"condition"}, []string{"condition"})
	appendFlag := c.appendFlag(m)
	if appendFlag && m.has("override") {
		c.fail(src, "keys 'override' and 'append: true' cannot be used together", name)
	}
	prev := c.macroIdx[name]
	if appendFlag || len(app) > 0 {
		if prev == nil {
			c.fail(src, fmt.Sprintf("macro %q has 'append' key or an append override but no macro by that name already exists", name), name)
		}
		prev.cond = append(prev.cond, seg)
		prev.visibility = len(c.macros)
		return
	}
	if prev != nil {
		prev.cond, prev.src, prev.visibility = segmented{seg}, src, len(c.macros)
		return
	}
	md := &macroDef{name: name, cond: segmented{seg}, src: src, index: len(c.macros), visibility: len(c.macros)}
	c.macros = append(c.macros, md)
	c.macroIdx[name] = md
}

var (
	ruleAppendable  = []string{"condition", "output", "desc", "tags", "exceptions"}
	ruleReplaceable = []string{"condition", "output", "desc", "priority", "tags", "exceptions",
		"enabled", "warn_evttypes", "skip-if-unknown-filter"}
)

func (c *collection) rule(m mapping) {
	name := c.str(m, "rule")
	src := scalarSrc{file: m.sf, node: m.node}
	appendFlag := c.appendFlag(m)
	app, rep := c.overrides(m, ruleAppendable, ruleReplaceable)
	if appendFlag && (len(app) > 0 || len(rep) > 0) {
		c.fail(src, "keys 'override' and 'append: true' cannot be used together", name)
	}
	prev := c.ruleIdx[name]
	switch {
	case len(app) > 0 || len(rep) > 0:
		for _, k := range ruleReplaceable {
			if m.has(k) && !slices.Contains(app, k) && !slices.Contains(rep, k) {
				c.fail(m.src(k), fmt.Sprintf("unexpected key %q: no corresponding entry under 'override' is defined", k), k)
			}
		}
		if prev == nil {
			c.fail(src, fmt.Sprintf("rule %q has an override but no rule by that name already exists", name), name)
		}
		for _, k := range app {
			c.appendRuleKey(prev, m, k)
		}
		for _, k := range rep {
			c.replaceRuleKey(prev, m, k)
		}
	case appendFlag:
		if prev == nil {
			c.fail(src, fmt.Sprintf("rule %q has 'append' key but no rule by that name already exists", name), name)
		}
		if m.has("condition") {
			c.appendRuleKey(prev, m, "condition")
		}
		if m.has("exceptions") {
			c.appendRuleKey(prev, m, "exceptions")
		}
	case !m.has("condition") && !m.has("output") && !m.has("desc") && !m.has("priority"):
		if !m.has("enabled") {
			c.fail(src, fmt.Sprintf("rule %q: missing required key \"condition\"", name), "condition")
		}
		if prev == nil {
			c.fail(src, fmt.Sprintf("rule %q has 'enabled' key but no rule by that name already exists", name), name)
		}
		prev.enabled = c.boolean(m, "enabled")
	default:
		r := &ruleDef{name: name, enabled: true, warnEvt: true, source: "syscall", src: src}
		r.cond = segmented{{text: c.reqStr(m, "condition", "rule", name), src: m.src("condition")}}
		r.output = strings.TrimSpace(c.reqStr(m, "output", "rule", name))
		r.outputSrc = m.src("output")
		r.desc = c.reqStr(m, "desc", "rule", name)
		r.priority = c.priority(m, c.reqStr(m, "priority", "rule", name))
		if m.has("source") {
			r.source = c.str(m, "source")
		}
		if m.has("enabled") {
			r.enabled = c.boolean(m, "enabled")
		}
		if m.has("warn_evttypes") {
			r.warnEvt = c.boolean(m, "warn_evttypes")
		}
		if m.has("skip-if-unknown-filter") {
			r.skipUnknown = c.boolean(m, "skip-if-unknown-filter")
		}
		if m.has("tags") {
			r.tags = dedupe(c.strList(m, "tags"))
		}
		if m.has("exceptions") {
			r.exceptions = c.exceptions(m, false)
		}
		if prev != nil {
			*prev = *r
			return
		}
		c.rules = append(c.rules, r)
		c.ruleIdx[name] = r
	}
}

func (c *collection) priority(m mapping, s string) schema.Priority {
	p, err := schema.ParsePriority(s)
	if err != nil {
		c.fail(m.src("priority"), fmt.Sprintf("invalid priority %q", s), s)
	}
	return p
}

func dedupe(tags []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (c *collection) appendRuleKey(r *ruleDef, m mapping, k string) {
	switch k {
	case "condition":
		r.cond = append(r.cond, segment{text: c.str(m, k), src: m.src(k)})
	case "output":
		r.output = r.output + " " + strings.TrimSpace(c.str(m, k))
	case "desc":
		r.desc = r.desc + " " + c.str(m, k)
	case "tags":
		r.tags = dedupe(append(r.tags, c.strList(m, k)...))
	case "exceptions":
		for _, e := range c.exceptions(m, true) {
			i := slices.IndexFunc(r.exceptions, func(x exceptionDef) bool { return x.name == e.name })
			if i < 0 {
				if e.fields.item == "" && !e.fields.isList {
					c.fail(e.src, fmt.Sprintf("exception %q: missing required key \"fields\"", e.name), e.name)
				}
				r.exceptions = append(r.exceptions, e)
				continue
			}
			if e.fields.item != "" || e.fields.isList || e.comps.item != "" || e.comps.isList {
				c.fail(e.src, fmt.Sprintf("exception %q: an appended exception may only add values, not fields or comps", e.name), e.name)
			}
			r.exceptions[i].values = append(r.exceptions[i].values, e.values...)
		}
	}
}

func (c *collection) replaceRuleKey(r *ruleDef, m mapping, k string) {
	switch k {
	case "condition":
		r.cond = segmented{{text: c.str(m, k), src: m.src(k)}}
	case "output":
		r.output, r.outputSrc = strings.TrimSpace(c.str(m, k)), m.src(k)
	case "desc":
		r.desc = c.str(m, k)
	case "priority":
		r.priority = c.priority(m, c.str(m, k))
	case "tags":
		r.tags = dedupe(c.strList(m, k))
	case "exceptions":
		r.exceptions = c.exceptions(m, false)
	case "enabled":
		r.enabled = c.boolean(m, k)
	case "warn_evttypes":
		r.warnEvt = c.boolean(m, k)
	case "skip-if-unknown-filter":
		r.skipUnknown = c.boolean(m, k)
	}
}

// exceptions decodes a rule's exceptions list. When appending, an
// exception may name an existing one and carry values only.
func (c *collection) exceptions(m mapping, appending bool) []exceptionDef {
	n := m.keys["exceptions"]
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		c.fail(m.src("exceptions"), "exceptions must be a list", "exceptions")
	}
	var out []exceptionDef
	for _, en := range n.Content {
		em := c.asMapping(m.sf, en, "exception")
		src := scalarSrc{file: m.sf, node: en}
		if !em.has("name") {
			c.fail(src, "exception: missing required key \"name\"", "name")
		}
		e := exceptionDef{name: c.str(em, "name"), src: src}
		if em.has("fields") {
			e.fields = c.exItem(em, em.keys["fields"], false)
		} else if !appending {
			c.fail(src, fmt.Sprintf("exception %q: missing required key \"fields\"", e.name), "fields")
		}
		if em.has("comps") {
			e.comps = c.exItem(em, em.keys["comps"], false)
		} else if e.fields.isList {
			e.comps = exItem{isList: true}
			for range e.fields.items {
				e.comps.items = append(e.comps.items, exItem{item: "="})
			}
		} else if e.fields.item != "" {
			e.comps = exItem{item: "in"}
		}
		if e.fields.isList != e.comps.isList && (e.fields.item != "" || e.fields.isList) {
			c.fail(em.src("comps"), fmt.Sprintf("exception %q: fields and comps must both be lists or both be strings", e.name), e.name)
		}
		if e.fields.isList && len(e.fields.items) != len(e.comps.items) {
			c.fail(em.src("comps"), fmt.Sprintf("exception %q: fields and comps lists must have equal length", e.name), e.name)
		}
		for _, cp := range append([]exItem{e.comps}, e.comps.items...) {
			if cp.item != "" && !isOperator(cp.item) {
				c.fail(em.src("comps"), fmt.Sprintf("exception %q: invalid comparison operator %q", e.name, cp.item), cp.item)
			}
		}
		if em.has("values") {
			v := c.exItem(em, em.keys["values"], true)
			if !v.isList {
				c.fail(em.src("values"), fmt.Sprintf("exception %q: values must be a list", e.name), e.name)
			}
			e.values = v.items
		}
		out = append(out, e)
	}
	return out
}

func (c *collection) exItem(m mapping, n *yaml.Node, nested bool) exItem {
	switch n.Kind {
	case yaml.ScalarNode:
		return exItem{item: n.Value}
	case yaml.SequenceNode:
		it := exItem{isList: true}
		for _, k := range n.Content {
			if !nested && k.Kind != yaml.ScalarNode {
				c.fail(scalarSrc{file: m.sf, node: k}, "expected a string", "")
			}
			it.items = append(it.items, c.exItem(m, k, nested))
		}
		return it
	}
	c.fail(scalarSrc{file: m.sf, node: n}, "expected a string or a list", "")
	return exItem{}
}

func isOperator(op string) bool {
	for _, l := range [][]string{unaryOps, numOps, strOps, listOps} {
		for _, o := range l {
			if strings.TrimSpace(o) == op {
				return true
			}
		}
	}
	return false
}
