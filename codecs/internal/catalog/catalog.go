// Package catalog reads the Kafka contract catalog (contracts/*.yaml, described by
// contracts/FORMAT.md) into a checked model. The code generator and the codec tests both build on
// it, so the generated codecs and the tests that judge them can never read the catalog
// differently.
//
// Load is strict on purpose: an unknown YAML key, a dangling shape name, a duplicate JSON key or a
// topic defined twice in incompatible ways is an error, because a typo in the catalog would
// otherwise turn silently into a wrong wire format.
package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Catalog is the whole catalog: every file, and the distinct topics and shapes across them.
type Catalog struct {
	// Files in the order they were loaded (sorted by file name).
	Files []*File
	// Topics holds each distinct topic once, sorted by name. A topic defined in several files
	// (COMMAND_TOPIC_ACCOUNT_SESSION) or referenced with `see:` is merged into one Topic.
	Topics []*Topic
	// Shapes holds every shape by name. A shape repeated in several files must be identical.
	Shapes map[string]*Shape
}

// File is one catalog file as written.
type File struct {
	Name    string   // base name, e.g. "account.yaml"
	Entries []*Entry // topic entries in file order
	Shapes  []*Shape // shapes in file order
}

// Entry is one topic entry of one file, before merging.
type Entry struct {
	File      string
	Name      string
	Direction string
	Service   string
	Purpose   string
	See       string
	Topic     *Topic // the merged topic this entry belongs to

	def *Topic // this entry's own definition; nil for a `see:` entry
}

// Use records that a service consumes or produces a topic (one per file entry).
type Use struct {
	File      string
	Service   string
	Direction string // consumed, produced or both
}

// Topic is one Kafka topic, merged across files.
type Topic struct {
	Name string // env var and default topic name
	// DefinedIn is the file of the first full definition (not a `see:` reference).
	DefinedIn     string
	Uses          []Use
	Purpose       string
	Key           string // as written: a JSON path or a description of another key
	Discriminator string // JSON key of the discriminator; "" for a flat message
	Bodyless      bool
	Envelope      []*Field
	WireOrder     []string
	Types         []*Type // discriminated topics, in catalog order
	Fields        []*Field
	Route         string
	Examples      []Example // flat topics
	StepActions   []*StepAction
	Note          string
	Origin        string
	Trigger       string
	Era           string // "seed" or "current": the topic exists in that era only; "" both
}

// Contract eras (FORMAT.md, "Contract eras").
const (
	EraSeed    = "seed"
	EraCurrent = "current"
)

// Flat reports whether the topic's messages have no discriminator.
func (t *Topic) Flat() bool { return t.Discriminator == "" }

// Type returns the type with the given discriminator value.
func (t *Topic) Type(value string) *Type {
	for _, ty := range t.Types {
		if ty.Value == value {
			return ty
		}
	}
	return nil
}

// BodyKind says what a type's body is.
type BodyKind int

const (
	// BodyNone: bodyless topics; the message has no body key.
	BodyNone BodyKind = iota
	// BodyFields: an object with the listed fields (possibly none: `body: []`, written `{}`).
	BodyFields
	// BodyNull: the body is JSON null (`body: null`).
	BodyNull
	// BodyShape: the body is a named shape (`body: ShapeName`).
	BodyShape
)

// Type is one discriminator value of a topic.
type Type struct {
	Value    string
	Body     BodyKind
	Fields   []*Field // BodyFields: the body's fields; bodyless topics: top-level fields of this type
	Shape    string   // BodyShape
	Route    string
	Key      string // per-type key override, "" if none
	Requires []string
	Since    string
	Examples []Example
	Note     string
	Origin   string
	Trigger  string
	Era      string // "seed" or "current": the type exists in that era only; "" both
	// Envelope, when set, replaces the topic's envelope for this type (a type with a top-level
	// layout of its own); OwnBodyless says that type has no body key.
	Envelope    []*Field
	OwnBodyless bool
	// Current is the body current upstream writes when it is another one than the seed's (a
	// variant: decoders tell the two apart by their keys); nil when both eras share the body.
	Current *Variant
}

// Variant is the current era's body of a type (or payload of a step action).
type Variant struct {
	Body   BodyKind // BodyFields or BodyShape
	Fields []*Field
	Shape  string
}

// Newer reports whether only later upstream producers write this type.
func (t *Type) Newer() bool { return t.Since != "" }

// StepAction is one saga step `action` value and the shape of its payload.
type StepAction struct {
	Value    string
	Payload  []*Field
	Examples []Example
	Note     string
	Trigger  string
	Era      string
	// CurrentPayload is the payload current upstream writes when it differs (a variant).
	CurrentPayload []*Field
}

// Example is one example message (or step object) as JSON text, and the file it comes from.
type Example struct {
	File string
	JSON string
	// Era is the era whose producers write this example: "seed" for `example` (also valid in
	// the current era unless a current example is given or the entry is seed-only), "current"
	// for `current.example` and for the example of a current-only entry.
	Era string
}

// Shape is a named field list.
type Shape struct {
	Name   string
	File   string
	Fields []*Field
}

// Field is one JSON key of an object, or an include of a shape.
type Field struct {
	JSON        string
	Type        *TypeExpr
	Optional    bool
	Since       string
	Values      []any
	Nullable    bool
	AsString    bool
	AltType     *TypeExpr
	KnownShapes []string
	ShapeBy     *ShapeBy
	Include     string // set for {include: Shape}; then JSON and Type are empty
	Note        string
	// Current is how current upstream differs (nil: not at all); the loader has already folded
	// it into the field: an absent field that is not a superset is optional, a changed type is
	// an alt_type, changed values are added to Values.
	Current *FieldCurrent
	// Superset: writing the field in both eras is safe (the other era's readers ignore it).
	Superset bool
}

// FieldCurrent is a field's `current:` attribute.
type FieldCurrent struct {
	Required bool
	Absent   bool
	Type     *TypeExpr
	Unit     string
	Values   []any
	Note     string
}

// Newer reports whether the field was added after the contract era.
func (f *Field) Newer() bool { return f.Since != "" }

// ShapeBy chooses the shape of an `any` field by the value of a sibling field.
type ShapeBy struct {
	Field string
	Cases map[string]string // sibling value -> shape name
}

// Kind classifies a TypeExpr.
type Kind int

const (
	Scalar   Kind = iota // bool, intN, uintN, float64, string, uuid, time, any, bytes
	List                 // []Elem
	Map                  // map[string]Elem
	Object               // inline {object: [...]}
	ShapeRef             // a shape name
)

// TypeExpr is a parsed field type.
type TypeExpr struct {
	Kind   Kind
	Name   string    // Scalar: the scalar name; ShapeRef: the shape name
	Elem   *TypeExpr // List, Map
	Fields []*Field  // Object
}

// String gives the type back in catalog notation.
func (t *TypeExpr) String() string {
	switch t.Kind {
	case List:
		return "[]" + t.Elem.String()
	case Map:
		return "map[string]" + t.Elem.String()
	case Object:
		keys := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			keys[i] = f.JSON + ":" + f.Type.String()
		}
		return "{object: " + strings.Join(keys, ",") + "}"
	}
	return t.Name
}

// Scalars are the scalar type names of FORMAT.md.
var Scalars = map[string]bool{
	"bool": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint8": true, "uint16": true, "uint32": true, "uint64": true, "float64": true,
	"string": true, "uuid": true, "time": true, "any": true, "bytes": true,
}

// DefaultFiles are the catalog files, in load order.
var DefaultFiles = []string{"account.yaml", "channel-commands.yaml", "channel-events.yaml"}

// Load reads every *.yaml file of dir and checks it.
func Load(dir string) (*Catalog, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("catalog: no *.yaml in %s", dir)
	}
	sort.Strings(paths)
	files := make(map[string][]byte, len(paths))
	var names []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(p)] = b
		names = append(names, filepath.Base(p))
	}
	return Parse(names, files)
}

// Parse builds a catalog from file contents; names gives the load order.
func Parse(names []string, contents map[string][]byte) (*Catalog, error) {
	c := &Catalog{Shapes: map[string]*Shape{}}
	for _, name := range names {
		f, err := parseFile(name, contents[name])
		if err != nil {
			return nil, err
		}
		c.Files = append(c.Files, f)
	}
	if err := c.mergeShapes(); err != nil {
		return nil, err
	}
	if err := c.mergeTopics(); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Topic returns the topic with the given env name.
func (c *Catalog) Topic(name string) *Topic {
	for _, t := range c.Topics {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ---- YAML input ----

type rawTopic struct {
	Name          string          `yaml:"name"`
	Direction     string          `yaml:"direction"`
	Service       string          `yaml:"service"`
	Purpose       string          `yaml:"purpose"`
	Key           string          `yaml:"key"`
	Discriminator yaml.Node       `yaml:"discriminator"`
	Envelope      []rawField      `yaml:"envelope"`
	Types         []rawType       `yaml:"types"`
	Fields        []rawField      `yaml:"fields"`
	Route         string          `yaml:"route"`
	Example       string          `yaml:"example"`
	Bodyless      bool            `yaml:"bodyless"`
	WireOrder     []string        `yaml:"wire_order"`
	See           string          `yaml:"see"`
	StepActions   []rawStepAction `yaml:"step_actions"`
	Era           string          `yaml:"era"`
	Current       *rawFlatCurrent `yaml:"current"`
	Note          string          `yaml:"note"`
	Origin        string          `yaml:"origin"`
	Trigger       string          `yaml:"trigger"`
}

type rawType struct {
	Value     string          `yaml:"value"`
	Body      yaml.Node       `yaml:"body"`
	Fields    []rawField      `yaml:"fields"`
	Era       string          `yaml:"era"`
	Envelope  []rawField      `yaml:"envelope"`
	Bodyless  bool            `yaml:"bodyless"`
	WireOrder []string        `yaml:"wire_order"`
	Current   *rawTypeCurrent `yaml:"current"`
	Route     string          `yaml:"route"`
	Key       string          `yaml:"key"`
	Requires  []string        `yaml:"requires"`
	Since     string          `yaml:"since"`
	Note      string          `yaml:"note"`
	Origin    string          `yaml:"origin"`
	Trigger   string          `yaml:"trigger"`
	Example   string          `yaml:"example"`
}

type rawStepAction struct {
	Value   string          `yaml:"value"`
	Payload []rawField      `yaml:"payload"`
	Era     string          `yaml:"era"`
	Current *rawStepCurrent `yaml:"current"`
	Trigger string          `yaml:"trigger"`
	Note    string          `yaml:"note"`
	Example string          `yaml:"example"`
}

type rawField struct {
	JSON        string           `yaml:"json"`
	Type        yaml.Node        `yaml:"type"`
	Optional    bool             `yaml:"optional"`
	Since       string           `yaml:"since"`
	Values      []any            `yaml:"values"`
	Nullable    bool             `yaml:"nullable"`
	AsString    bool             `yaml:"as_string"`
	AltType     string           `yaml:"alt_type"`
	KnownShapes []string         `yaml:"known_shapes"`
	ShapeBy     *rawShapeBy      `yaml:"shape_by"`
	Include     string           `yaml:"include"`
	Note        string           `yaml:"note"`
	Current     *rawFieldCurrent `yaml:"current"`
	Superset    bool             `yaml:"superset"`
}

// The current era's view of an entry (FORMAT.md, "Contract eras").
type rawFlatCurrent struct {
	Fields  []rawField `yaml:"fields"`
	Example string     `yaml:"example"`
}

type rawTypeCurrent struct {
	Body     yaml.Node  `yaml:"body"`
	Fields   []rawField `yaml:"fields"`
	Requires []string   `yaml:"requires"`
	Example  string     `yaml:"example"`
	Note     string     `yaml:"note"`
}

type rawStepCurrent struct {
	Payload []rawField `yaml:"payload"`
	Example string     `yaml:"example"`
}

type rawFieldCurrent struct {
	Required bool   `yaml:"required"`
	Absent   bool   `yaml:"absent"`
	Type     string `yaml:"type"`
	Unit     string `yaml:"unit"`
	Values   []any  `yaml:"values"`
	Note     string `yaml:"note"`
}

type rawShapeBy struct {
	Field string            `yaml:"field"`
	Cases map[string]string `yaml:"cases"`
}

type rawObject struct {
	Object []rawField `yaml:"object"`
}

func strictDecode(n *yaml.Node, v any) error {
	// yaml.Node.Decode has no KnownFields switch, so re-encode the node and decode it strictly.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	return d.Decode(v)
}

func parseFile(name string, b []byte) (*File, error) {
	var raw struct {
		Topics []rawTopic `yaml:"topics"`
		Shapes yaml.Node  `yaml:"shapes"`
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &File{Name: name}
	for i := range raw.Topics {
		e, err := parseEntry(name, &raw.Topics[i])
		if err != nil {
			return nil, fmt.Errorf("%s: topic %s: %w", name, raw.Topics[i].Name, err)
		}
		f.Entries = append(f.Entries, e)
	}
	if raw.Shapes.Kind != 0 {
		if raw.Shapes.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: shapes must be a mapping", name)
		}
		// Walk the mapping node to keep the file's shape order.
		for i := 0; i+1 < len(raw.Shapes.Content); i += 2 {
			sname := raw.Shapes.Content[i].Value
			var rf []rawField
			if err := strictDecode(raw.Shapes.Content[i+1], &rf); err != nil {
				return nil, fmt.Errorf("%s: shape %s: %w", name, sname, err)
			}
			fields, err := convFields(rf)
			if err != nil {
				return nil, fmt.Errorf("%s: shape %s: %w", name, sname, err)
			}
			f.Shapes = append(f.Shapes, &Shape{Name: sname, File: name, Fields: fields})
		}
	}
	return f, nil
}

func parseEntry(file string, r *rawTopic) (*Entry, error) {
	e := &Entry{File: file, Name: r.Name, Direction: r.Direction, Service: r.Service, Purpose: r.Purpose, See: r.See}
	if r.Name == "" {
		return nil, errors.New("no name")
	}
	switch r.Direction {
	case "consumed", "produced", "both":
	default:
		return nil, fmt.Errorf("direction %q", r.Direction)
	}
	if r.See != "" {
		if r.Discriminator.Kind != 0 || len(r.Types) > 0 || len(r.Fields) > 0 || len(r.Envelope) > 0 || r.Example != "" {
			return nil, errors.New("a `see:` entry must not define the message")
		}
		return e, nil
	}
	// `discriminator: null` (a flat message) and a missing discriminator differ: the latter is
	// an omission in the catalog.
	if r.Discriminator.Kind != yaml.ScalarNode {
		return nil, errors.New("discriminator missing (write `discriminator: null` for a flat message)")
	}
	disc := r.Discriminator.Value
	if r.Discriminator.Tag == "!!null" {
		disc = ""
	} else if disc == "" {
		return nil, errors.New("empty discriminator")
	}
	t := &Topic{
		Name: r.Name, DefinedIn: file, Purpose: r.Purpose, Key: r.Key, Discriminator: disc,
		Bodyless: r.Bodyless, WireOrder: r.WireOrder, Route: r.Route,
		Note: r.Note, Origin: r.Origin, Trigger: r.Trigger, Era: r.Era,
	}
	if err := checkEra(r.Era); err != nil {
		return nil, err
	}
	var err error
	if t.Envelope, err = convFields(r.Envelope); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if t.Fields, err = convFields(r.Fields); err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	if r.Example != "" {
		t.Examples = []Example{{File: file, JSON: r.Example, Era: exampleEra(r.Era)}}
	}
	if r.Current != nil {
		if len(r.Current.Fields) > 0 {
			return nil, errors.New("current.fields on a flat topic is not supported by this loader")
		}
		if r.Current.Example == "" || !t.Flat() || r.Era != "" {
			return nil, errors.New("topic-level current needs an example, a flat topic of both eras")
		}
		t.Examples = append(t.Examples, Example{File: file, JSON: r.Current.Example, Era: EraCurrent})
	}
	if t.Flat() {
		if len(r.Types) > 0 || len(r.Envelope) > 0 || r.Bodyless {
			return nil, errors.New("a flat message has fields, not types/envelope/bodyless")
		}
		if len(t.Fields) == 0 || r.Example == "" {
			return nil, errors.New("a flat message needs fields and an example")
		}
	} else {
		if len(r.Fields) > 0 || r.Example != "" {
			return nil, errors.New("a discriminated message has types, not topic-level fields/example")
		}
		if len(r.Types) == 0 {
			return nil, errors.New("no types")
		}
	}
	for i := range r.Types {
		ty, err := convType(file, t, &r.Types[i])
		if err != nil {
			return nil, fmt.Errorf("type %s: %w", r.Types[i].Value, err)
		}
		t.Types = append(t.Types, ty)
	}
	for _, sa := range r.StepActions {
		p, err := convFields(sa.Payload)
		if err != nil {
			return nil, fmt.Errorf("step action %s: %w", sa.Value, err)
		}
		if sa.Value == "" || sa.Example == "" {
			return nil, errors.New("a step action needs a value and an example")
		}
		if err := checkEra(sa.Era); err != nil {
			return nil, fmt.Errorf("step action %s: %w", sa.Value, err)
		}
		step := &StepAction{
			Value: sa.Value, Payload: p, Examples: []Example{{File: file, JSON: sa.Example, Era: exampleEra(sa.Era)}},
			Note: sa.Note, Trigger: sa.Trigger, Era: sa.Era,
		}
		if c := sa.Current; c != nil {
			if c.Example == "" || sa.Era != "" {
				return nil, fmt.Errorf("step action %s: current needs an example, on an action of both eras", sa.Value)
			}
			step.Examples = append(step.Examples, Example{File: file, JSON: c.Example, Era: EraCurrent})
			if len(c.Payload) > 0 {
				if step.CurrentPayload, err = convFields(c.Payload); err != nil {
					return nil, fmt.Errorf("step action %s current payload: %w", sa.Value, err)
				}
			}
		}
		t.StepActions = append(t.StepActions, step)
	}
	e.def = t
	return e, nil
}

func convType(file string, t *Topic, r *rawType) (*Type, error) {
	ty := &Type{
		Value: r.Value, Route: r.Route, Key: r.Key, Requires: r.Requires, Since: r.Since,
		Note: r.Note, Origin: r.Origin, Trigger: r.Trigger, Era: r.Era, OwnBodyless: r.Bodyless,
	}
	if r.Value == "" {
		return nil, errors.New("no value")
	}
	if r.Example == "" {
		return nil, errors.New("no example")
	}
	if err := checkEra(r.Era); err != nil {
		return nil, err
	}
	ty.Examples = []Example{{File: file, JSON: r.Example, Era: exampleEra(r.Era)}}
	var err error
	if len(r.WireOrder) > 0 {
		return nil, errors.New("a type's own wire_order is not supported by this loader")
	}
	if len(r.Envelope) > 0 {
		if ty.Envelope, err = convFields(r.Envelope); err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
	}
	if c := r.Current; c != nil {
		if c.Example == "" || r.Era != "" {
			return nil, errors.New("current needs an example, on a type of both eras")
		}
		if len(c.Fields) > 0 || len(c.Requires) > 0 {
			return nil, errors.New("current.fields and current.requires are not supported by this loader")
		}
		ty.Examples = append(ty.Examples, Example{File: file, JSON: c.Example, Era: EraCurrent})
		switch {
		case c.Body.Kind == 0:
		case c.Body.Kind == yaml.ScalarNode && c.Body.Tag != "!!null":
			ty.Current = &Variant{Body: BodyShape, Shape: c.Body.Value}
		case c.Body.Kind == yaml.SequenceNode:
			var rf []rawField
			if err := strictDecode(&c.Body, &rf); err != nil {
				return nil, err
			}
			fs, err := convFields(rf)
			if err != nil {
				return nil, fmt.Errorf("current body: %w", err)
			}
			ty.Current = &Variant{Body: BodyFields, Fields: fs}
		default:
			return nil, errors.New("current.body must be a field list or a shape name")
		}
	}
	// A type of a bodyless topic, or a bodyless type of a topic with bodies: its fields are
	// top-level, like its envelope.
	if t.Bodyless || r.Bodyless {
		if r.Body.Kind != 0 {
			return nil, errors.New("a bodyless type has no body")
		}
		ty.Body = BodyNone
		if ty.Fields, err = convFields(r.Fields); err != nil {
			return nil, err
		}
		return ty, nil
	}
	if len(r.Fields) > 0 {
		return nil, errors.New("`fields` is for bodyless topics; use `body`")
	}
	switch {
	case r.Body.Kind == 0:
		return nil, errors.New("body missing")
	case r.Body.Kind == yaml.ScalarNode && r.Body.Tag == "!!null":
		ty.Body = BodyNull
	case r.Body.Kind == yaml.ScalarNode:
		ty.Body = BodyShape
		ty.Shape = r.Body.Value
	case r.Body.Kind == yaml.SequenceNode:
		ty.Body = BodyFields
		var rf []rawField
		if err := strictDecode(&r.Body, &rf); err != nil {
			return nil, err
		}
		if ty.Fields, err = convFields(rf); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("body must be a field list, null or a shape name")
	}
	return ty, nil
}

func convFields(rs []rawField) ([]*Field, error) {
	out := make([]*Field, 0, len(rs))
	for i := range rs {
		f, err := convField(&rs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func convField(r *rawField) (*Field, error) {
	f := &Field{
		JSON: r.JSON, Optional: r.Optional, Since: r.Since, Values: r.Values, Nullable: r.Nullable,
		AsString: r.AsString, KnownShapes: r.KnownShapes, Include: r.Include, Note: r.Note,
		Superset: r.Superset,
	}
	if f.Since != "" && f.Since != "newer" {
		return nil, fmt.Errorf("field %s: since %q (only `newer` is defined)", r.JSON, f.Since)
	}
	if r.Include != "" {
		if r.JSON != "" || r.Type.Kind != 0 || r.AltType != "" || r.ShapeBy != nil || r.AsString || r.Nullable {
			return nil, fmt.Errorf("include %s: only optional/since/note may accompany an include", r.Include)
		}
		return f, nil
	}
	if r.JSON == "" {
		return nil, errors.New("field without json key")
	}
	var err error
	if f.Type, err = parseTypeNode(&r.Type); err != nil {
		return nil, fmt.Errorf("field %s: %w", r.JSON, err)
	}
	if r.AltType != "" {
		if f.AltType, err = ParseType(r.AltType); err != nil {
			return nil, fmt.Errorf("field %s alt_type: %w", r.JSON, err)
		}
		if f.Type.Kind != Scalar || f.AltType.Kind != Scalar {
			return nil, fmt.Errorf("field %s: alt_type is supported between scalars only", r.JSON)
		}
	}
	if r.ShapeBy != nil {
		if f.Type.Kind != Scalar || f.Type.Name != "any" {
			return nil, fmt.Errorf("field %s: shape_by needs type any", r.JSON)
		}
		f.ShapeBy = &ShapeBy{Field: r.ShapeBy.Field, Cases: r.ShapeBy.Cases}
	}
	if f.AsString && !(f.Type.Kind == Scalar && isInteger(f.Type.Name)) {
		return nil, fmt.Errorf("field %s: as_string needs an integer type", r.JSON)
	}
	if r.Current != nil {
		if err := foldCurrent(f, r.Current); err != nil {
			return nil, fmt.Errorf("field %s: %w", r.JSON, err)
		}
	}
	return f, nil
}

// foldCurrent records a field's current-era difference and folds it into the field, so that
// one Go type decodes both eras: a field current producers leave out is optional, a field whose type changed
// takes the current type as its alt_type, and the current values join the seed's.
func foldCurrent(f *Field, r *rawFieldCurrent) error {
	c := &FieldCurrent{Required: r.Required, Absent: r.Absent, Unit: r.Unit, Values: r.Values, Note: r.Note}
	if r.Required && r.Absent {
		return errors.New("current: required and absent")
	}
	if r.Type != "" {
		t, err := ParseType(r.Type)
		if err != nil {
			return fmt.Errorf("current type: %w", err)
		}
		if t.Kind != Scalar || f.Type.Kind != Scalar {
			return errors.New("current type: scalars only")
		}
		c.Type = t
		switch {
		case f.AltType == nil:
			f.AltType = t
		case f.AltType.Name != t.Name:
			return fmt.Errorf("current type %s and alt_type %s differ", t.Name, f.AltType.Name)
		}
	}
	if r.Absent {
		// Optional even for a superset field: its producers write it in both eras, but current
		// messages from elsewhere do not carry it.
		f.Optional = true
	}
	if len(f.Values) > 0 {
		for _, v := range r.Values {
			if !containsValue(f.Values, v) {
				f.Values = append(f.Values, v)
			}
		}
	}
	f.Current = c
	return nil
}

func containsValue(vs []any, v any) bool {
	for _, x := range vs {
		if fmt.Sprint(x) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func checkEra(e string) error {
	switch e {
	case "", EraSeed, EraCurrent:
		return nil
	}
	return fmt.Errorf("era %q (seed or current)", e)
}

// exampleEra is the era of an entry's own `example`: a current-only entry's is current.
func exampleEra(entryEra string) string {
	if entryEra == EraCurrent {
		return EraCurrent
	}
	return EraSeed
}

func isInteger(s string) bool {
	return strings.HasPrefix(s, "int") || strings.HasPrefix(s, "uint")
}

func parseTypeNode(n *yaml.Node) (*TypeExpr, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return ParseType(n.Value)
	case yaml.MappingNode:
		var o rawObject
		if err := strictDecode(n, &o); err != nil {
			return nil, err
		}
		fs, err := convFields(o.Object)
		if err != nil {
			return nil, err
		}
		return &TypeExpr{Kind: Object, Fields: fs}, nil
	case 0:
		return nil, errors.New("type missing")
	}
	return nil, errors.New("type must be a name or {object: [...]}")
}

// ParseType parses the catalog's type notation: a scalar, []T, map[string]T or a shape name.
func ParseType(s string) (*TypeExpr, error) {
	switch {
	case strings.HasPrefix(s, "[]"):
		e, err := ParseType(s[2:])
		if err != nil {
			return nil, err
		}
		return &TypeExpr{Kind: List, Elem: e}, nil
	case strings.HasPrefix(s, "map[string]"):
		e, err := ParseType(s[len("map[string]"):])
		if err != nil {
			return nil, err
		}
		return &TypeExpr{Kind: Map, Elem: e}, nil
	case Scalars[s]:
		return &TypeExpr{Kind: Scalar, Name: s}, nil
	case isIdent(s):
		return &TypeExpr{Kind: ShapeRef, Name: s}, nil
	}
	return nil, fmt.Errorf("unknown type %q", s)
}

func isIdent(s string) bool {
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
