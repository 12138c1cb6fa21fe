package output

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is one output's config section, e.g. the "slack:" mapping of a
// Falcosidekick-style config.yaml, with env overrides.
//
// Keys match struct fields case-insensitively, as Falcosidekick's viper
// does: a field tagged `yaml:"webhookurl"` reads "webhookurl" or
// "WebhookURL". Each field can be overridden by the env variable
// KEY_FIELD in upper case (SLACK_WEBHOOKURL; nested structs add their key:
// WEBHOOK_MUTUALTLS_CERTFILE; a dotted Key such as "aws.lambda" gives
// AWS_LAMBDA_FUNCTIONNAME). Env values are parsed by the field's type:
// []string is comma-separated ("a,b"), map[string]string is
// "key:value,key:value" as in Falcosidekick. A []string field also takes a
// comma-separated string in the YAML file, as Falcosidekick's do.
//
// A Config is immutable and safe for concurrent use.
type Config struct {
	key    string
	file   string
	root   *yaml.Node // the whole document's top mapping; may be nil
	node   *yaml.Node // this section's mapping; nil when absent
	getenv func(string) string
}

// NewConfig returns the config of the section named by the dotted key in
// root, the top-level mapping of a YAML document (nil for none). file names
// the document in errors; getenv supplies env overrides (nil for none).
func NewConfig(key, file string, root *yaml.Node, getenv func(string) string) *Config {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root != nil && root.Kind != yaml.MappingNode {
		// An empty document, or one that is not a mapping: no sections.
		root = nil
	}
	return &Config{key: key, file: file, root: root, node: lookup(root, key), getenv: getenv}
}

// ParseConfig parses doc, a YAML document, and returns the config of the
// section named by key. It is a shortcut for tests and single-section
// callers; it returns an error naming file when doc is not valid YAML.
func ParseConfig(key, file, doc string, getenv func(string) string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return NewConfig(key, file, &root, getenv), nil
}

// Key returns the section's dotted key ("slack", "aws.lambda"); "" is the
// document's top level, whose env overrides have no prefix (LISTENPORT).
func (c *Config) Key() string { return c.key }

// Section returns the config of another section of the same document, for
// outputs that share settings with a parent (aws.lambda reads aws).
func (c *Config) Section(key string) *Config {
	return &Config{key: key, file: c.file, root: c.root, node: lookup(c.root, key), getenv: c.getenv}
}

// EnvName is the env variable that overrides sub, a dotted sub-key of this
// section: EnvName("webhookurl") is "SLACK_WEBHOOKURL".
func (c *Config) EnvName(sub string) string {
	if c.key == "" {
		return strings.ToUpper(strings.ReplaceAll(sub, ".", "_"))
	}
	return strings.ToUpper(strings.ReplaceAll(c.key+"."+sub, ".", "_"))
}

// Get returns the scalar value of sub, a dotted sub-key, from the env
// override or the YAML section, and "" when it is absent or not a scalar.
func (c *Config) Get(sub string) string {
	if v := c.getenv(c.EnvName(sub)); v != "" {
		return v
	}
	n := lookup(c.node, sub)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// Present reports whether the section exists in the YAML document. Env
// overrides alone do not make it present: use [Config.Get] on the enabling
// key to decide whether an output is on.
func (c *Config) Present() bool { return c.node != nil }

// Decode fills v, a pointer to a struct, from the section and the env
// overrides, then calls v's Validate() error method if it has one. Fields
// absent from both keep the value v had, so set defaults before calling.
// Errors name the file and line or the env variable, and the section.
func (c *Config) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("output %s: decode: want a pointer to a struct, got %T", c.key, v)
	}
	var node *yaml.Node
	if c.node != nil {
		node = cloneNode(c.node)
	} else {
		node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if node.Kind != yaml.MappingNode {
		if node.Tag == "!!null" {
			node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		} else {
			return fmt.Errorf("%s: line %d: output %s: want a mapping", c.file, c.node.Line, c.key)
		}
	}
	if err := c.prepare(rv.Elem().Type(), node, strings.ToUpper(strings.ReplaceAll(c.key, ".", "_"))); err != nil {
		return fmt.Errorf("output %s: %w", c.key, err)
	}
	if err := node.Decode(v); err != nil {
		return fmt.Errorf("%s: output %s: %w", c.file, c.key, err)
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return fmt.Errorf("output %s: %w", c.key, err)
		}
	}
	return nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
	unmarshaler  = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textUnmarsh  = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// prepare renames node's keys to the exact names of t's fields and sets the
// env overrides, recursing into nested structs.
func (c *Config) prepare(t reflect.Type, node *yaml.Node, prefix string) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if isInline(f) {
			ft := f.Type
			if ft.Kind() == reflect.Struct {
				if err := c.prepare(ft, node, prefix); err != nil {
					return err
				}
			}
			continue
		}
		name := fieldName(f)
		if name == "" {
			continue
		}
		env := strings.ToUpper(name)
		if prefix != "" {
			env = prefix + "_" + env
		}
		val := findKey(node, name)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != timeType && !reflect.PointerTo(ft).Implements(unmarshaler) && !reflect.PointerTo(ft).Implements(textUnmarsh) {
			if val == nil {
				val = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				before := len(node.Content)
				if err := c.prepare(ft, val, env); err != nil {
					return err
				}
				// Only add the nested mapping when an env override filled it,
				// so an absent section leaves a nil pointer nil.
				if len(val.Content) > 0 {
					node.Content = append(node.Content[:before], &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, val)
				}
				continue
			}
			if val.Kind == yaml.MappingNode {
				if err := c.prepare(ft, val, env); err != nil {
					return err
				}
			}
			continue
		}
		s := c.getenv(env)
		if s == "" {
			// Falcosidekick writes lists as one comma-separated string
			// ("to: a@x, b@x"): accept that for a list field.
			if val != nil && val.Kind == yaml.ScalarNode && ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && val.Tag != "!!null" {
				n, _ := envNode(ft, val.Value)
				line, col := val.Line, val.Column
				*val = *n
				val.Line, val.Column = line, col
			}
			continue
		}
		n, err := envNode(ft, s)
		if err != nil {
			return fmt.Errorf("env %s: %w", env, err)
		}
		if val != nil {
			*val = *n
		} else {
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, n)
		}
	}
	return nil
}

func isInline(f reflect.StructField) bool {
	tag := f.Tag.Get("yaml")
	_, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			return true
		}
	}
	return false
}

func fieldName(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("yaml")
	if !ok {
		return strings.ToLower(f.Name)
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// findKey returns the value of the key matching name case-insensitively,
// after renaming that key to name so yaml.v3's exact match finds it.
func findKey(node *yaml.Node, name string) *yaml.Node {
	var found *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		if strings.EqualFold(k.Value, name) {
			k.Value = name
			found = node.Content[i+1]
		}
	}
	return found
}

// envNode builds the YAML node for an env value s of type t, checking
// scalars here so the error names the variable rather than "line 0".
func envNode(t reflect.Type, s string) (*yaml.Node, error) {
	scalar := func(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
	if reflect.PointerTo(t).Implements(unmarshaler) || reflect.PointerTo(t).Implements(textUnmarsh) {
		return scalar("!!str", s), nil
	}
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(s); err != nil {
			return nil, err
		}
		return scalar("!!str", s), nil
	case t.Kind() == reflect.String:
		return scalar("!!str", s), nil
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, err
		}
		return scalar("!!bool", strconv.FormatBool(b)), nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64, t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		if _, err := strconv.ParseInt(s, 0, 64); err != nil {
			return nil, err
		}
		return scalar("!!int", s), nil
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, err
		}
		return scalar("!!float", s), nil
	case t.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				e, err := envNode(t.Elem(), part)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, e)
			}
		}
		return n, nil
	case t.Kind() == reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			k, v, ok := strings.Cut(part, ":")
			if !ok {
				return nil, fmt.Errorf("%q: want key:value", part)
			}
			e, err := envNode(t.Elem(), strings.TrimSpace(v))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalar("!!str", strings.TrimSpace(k)), e)
		}
		return n, nil
	}
	return nil, errors.New("cannot be set from the environment: type " + t.String())
}

// lookup walks a dotted key through nested mappings, case-insensitively.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if key == "" {
		return n
	}
	for _, part := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.EqualFold(n.Content[i].Value, part) {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	if n.Content != nil {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			c.Content[i] = cloneNode(e)
		}
	}
	return &c
}

// Missing returns the error a Validate method gives for a required field
// left empty: "field webhookurl: missing".
func Missing(field string) error { return fmt.Errorf("field %s: missing", field) }

// Invalid returns the error a Validate method gives for a bad field value.
// The value is not quoted: it may be a secret.
func Invalid(field string, err error) error { return fmt.Errorf("field %s: %w", field, err) }
