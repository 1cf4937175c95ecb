package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Section is a part of the spec that a component owns (a log source, a
// ticket source, a labeler, a metric source's settings). The spec keeps the
// YAML as written; the component decodes it into its own config type with
// Decode, which is strict at every depth and names file:line. The spec
// itself never knows the keys of a kind.
type Section struct {
	node *yaml.Node
	// common is the type of the keys the spec decodes itself from the same
	// mapping (name, format, ...): they are allowed beside the kind's keys.
	common reflect.Type
	path   string
}

// UnmarshalYAML keeps the node for the component.
func (s *Section) UnmarshalYAML(n *yaml.Node) error {
	s.node = n
	return nil
}

// IsZero reports whether the section was absent from the spec.
func (s Section) IsZero() bool { return s.node == nil }

// Line is the section's line in the spec file (0 when absent).
func (s Section) Line() int {
	if s.node == nil {
		return 0
	}
	return s.node.Line
}

// Where is "file:line" of the section, for messages.
func (s Section) Where() string {
	if s.node == nil {
		return s.path
	}
	return fmt.Sprintf("%s:%d", s.path, s.node.Line)
}

// Keys lists the keys of a mapping section with their lines, in file order.
func (s Section) Keys() []SectionKey {
	n := resolveAlias(s.node)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]SectionKey, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, SectionKey{Name: n.Content[i].Value, Line: n.Content[i].Line})
	}
	return out
}

// SectionKey is one key of a mapping section.
type SectionKey struct {
	Name string
	Line int
}

// Child returns the value of key in a mapping section (zero when absent).
func (s Section) Child(key string) Section {
	n := resolveAlias(s.node)
	if n == nil || n.Kind != yaml.MappingNode {
		return Section{path: s.path}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return Section{node: n.Content[i+1], path: s.path}
		}
	}
	return Section{path: s.path}
}

// Decode decodes the section into into (a pointer to the component's config
// struct, holding its defaults). A key that is neither the component's nor
// one of the spec's common keys of this mapping is an error naming file:line,
// at any depth. An absent section leaves into as it is.
func (s Section) Decode(into any) error {
	if s.node == nil {
		return nil
	}
	t := reflect.TypeOf(into)
	if t.Kind() != reflect.Pointer {
		return fmt.Errorf("spec: Decode needs a pointer, got %s", t)
	}
	var errs []string
	checkKeys(s.path, s.node, t.Elem(), s.common, &errs)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	if err := s.node.Decode(into); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalid, locate(s.path, err.Error()))
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

var (
	sectionType = reflect.TypeOf(Section{})
	timeType    = reflect.TypeOf(time.Time{})
)

// sectionOwner is implemented by the spec's types that hand part of their
// keys to a component (their Section is checked when the component decodes it).
type sectionOwner interface{ ownsSection() }

var ownerType = reflect.TypeOf((*sectionOwner)(nil)).Elem()

// checkKeys reports every mapping key under n that t (and extra, for the top
// mapping) does not declare. yaml.v3's KnownFields stops at types with their
// own UnmarshalYAML; this walk does not, so no depth of the spec is lax.
func checkKeys(path string, n *yaml.Node, t reflect.Type, extra reflect.Type, errs *[]string) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == sectionType || t == timeType {
		return
	}
	if reflect.PointerTo(t).Implements(ownerType) {
		// Only the common keys here; the component checks the rest.
		if n.Kind == yaml.MappingNode {
			fields := structFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				if f, ok := fields[n.Content[i].Value]; ok {
					checkKeys(path, n.Content[i+1], f, nil, errs)
				}
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a scalar for a struct: yaml's own decode error says so
		}
		fields := structFields(t)
		if extra != nil {
			for k, v := range structFields(extra) {
				if _, ok := fields[k]; !ok {
					fields[k] = v
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s:%d: unknown key %q (known here: %s; see docs/spec.md)", path, k.Line, k.Value, strings.Join(sortedFieldNames(fields), ", ")))
				continue
			}
			checkKeys(path, n.Content[i+1], ft, nil, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			checkKeys(path, n.Content[i], t.Elem(), nil, errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			checkKeys(path, c, t.Elem(), nil, errs)
		}
	}
}

// structFields maps a struct's YAML keys to their types (inline structs
// flattened, "-" skipped).
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedFieldNames(m map[string]reflect.Type) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// withPath sets the spec file of every section in s, for messages.
func (s *Spec) withPath() {
	s.Metrics.Config.path = s.Path
	for i := range s.Logs {
		s.Logs[i].Config.path = s.Path
	}
	for i := range s.Tickets {
		s.Tickets[i].Config.path = s.Path
	}
	for i := range s.Labelers {
		s.Labelers[i].Config.path = s.Path
	}
}

// The spec's types that share their mapping with a component: each decodes
// its own keys leniently (the component's keys are checked when it decodes
// Config) and keeps the whole mapping as Config.

func (*Metrics) ownsSection()      {}
func (*LogSource) ownsSection()    {}
func (*TicketSource) ownsSection() {}
func (*Labeler) ownsSection()      {}

// UnmarshalYAML keeps the mapping for the metric source kinds.
func (m *Metrics) UnmarshalYAML(n *yaml.Node) error {
	type plain Metrics
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*m = Metrics(p)
	m.Config = Section{node: n, common: reflect.TypeOf(p)}
	return nil
}

// UnmarshalYAML keeps the mapping for the log source's kind.
func (l *LogSource) UnmarshalYAML(n *yaml.Node) error {
	type plain LogSource
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = LogSource(p)
	l.Config = Section{node: n, common: reflect.TypeOf(p)}
	return nil
}

// UnmarshalYAML keeps the mapping for the ticket source's kind.
func (t *TicketSource) UnmarshalYAML(n *yaml.Node) error {
	type plain TicketSource
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*t = TicketSource(p)
	t.Config = Section{node: n, common: reflect.TypeOf(p)}
	return nil
}

// UnmarshalYAML keeps the mapping for the labeler's kind.
func (l *Labeler) UnmarshalYAML(n *yaml.Node) error {
	type plain Labeler
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = Labeler(p)
	l.Config = Section{node: n, common: reflect.TypeOf(p)}
	return nil
}

// NewSection parses b, a YAML mapping, as a component section read from
// path: tools and tests configure a component the way a spec would.
func NewSection(path string, b []byte) (Section, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Section{}, fmt.Errorf("%w: %s", ErrInvalid, locate(path, err.Error()))
	}
	if len(doc.Content) == 0 {
		return Section{path: path}, nil
	}
	return Section{node: doc.Content[0], path: path}, nil
}
