package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Routes are the route values FORMAT.md defines.
var Routes = map[string]bool{
	"self": true, "field": true, "field_others": true, "world": true, "party": true,
	"buddies": true, "guild": true, "account": true, "none": true,
}

func (c *Catalog) mergeShapes() error {
	for _, f := range c.Files {
		for _, s := range f.Shapes {
			prev, ok := c.Shapes[s.Name]
			if !ok {
				c.Shapes[s.Name] = s
				continue
			}
			// The same shape may be repeated in several files (each file is meant to be readable
			// on its own), but one Go type serves both, so the wire forms must agree.
			if sigFields(prev.Fields) != sigFields(s.Fields) {
				return fmt.Errorf("shape %s differs between %s and %s", s.Name, prev.File, s.File)
			}
		}
	}
	return nil
}

func (c *Catalog) mergeTopics() error {
	byName := map[string]*Topic{}
	var sees []*Entry
	for _, f := range c.Files {
		for _, e := range f.Entries {
			if e.def == nil {
				sees = append(sees, e)
				continue
			}
			prev, ok := byName[e.Name]
			if !ok {
				byName[e.Name] = e.def
				e.def.Uses = append(e.def.Uses, Use{File: e.File, Service: e.Service, Direction: e.Direction})
				e.Topic = e.def
				continue
			}
			if err := mergeTopic(prev, e.def); err != nil {
				return fmt.Errorf("topic %s (%s and %s): %w", e.Name, prev.DefinedIn, e.File, err)
			}
			prev.Uses = append(prev.Uses, Use{File: e.File, Service: e.Service, Direction: e.Direction})
			e.Topic = prev
		}
	}
	for _, e := range sees {
		t, ok := byName[e.Name]
		if !ok {
			return fmt.Errorf("%s: topic %s: see %s, but no file defines it", e.File, e.Name, e.See)
		}
		defined := false
		for _, u := range t.Uses {
			defined = defined || u.File == e.See
		}
		if !defined {
			return fmt.Errorf("%s: topic %s: see %s, but that file does not define it", e.File, e.Name, e.See)
		}
		t.Uses = append(t.Uses, Use{File: e.File, Service: e.Service, Direction: e.Direction})
		e.Topic = t
	}
	for _, t := range byName {
		c.Topics = append(c.Topics, t)
	}
	sort.Slice(c.Topics, func(i, j int) bool { return c.Topics[i].Name < c.Topics[j].Name })
	return nil
}

// mergeTopic folds a second definition of a topic into the first. The wire format must be the
// same; types only one file lists are added; examples of both are kept (every one is tested).
func mergeTopic(a, b *Topic) error {
	switch {
	case a.Discriminator != b.Discriminator:
		return fmt.Errorf("discriminator %q vs %q", a.Discriminator, b.Discriminator)
	case a.Bodyless != b.Bodyless:
		return fmt.Errorf("bodyless differs")
	case sigFields(a.Envelope) != sigFields(b.Envelope):
		return fmt.Errorf("envelope differs")
	case strings.Join(a.WireOrder, ",") != strings.Join(b.WireOrder, ","):
		return fmt.Errorf("wire_order differs")
	case sigFields(a.Fields) != sigFields(b.Fields):
		return fmt.Errorf("fields differ")
	case a.Key != b.Key:
		return fmt.Errorf("key %q vs %q", a.Key, b.Key)
	}
	a.Examples = append(a.Examples, b.Examples...)
	for _, tb := range b.Types {
		ta := a.Type(tb.Value)
		if ta == nil {
			a.Types = append(a.Types, tb)
			continue
		}
		if ta.Body != tb.Body || ta.Shape != tb.Shape || sigFields(ta.Fields) != sigFields(tb.Fields) {
			return fmt.Errorf("type %s: body differs", tb.Value)
		}
		if ta.Key != tb.Key {
			return fmt.Errorf("type %s: key differs", tb.Value)
		}
		ta.Examples = append(ta.Examples, tb.Examples...)
	}
	for _, sb := range b.StepActions {
		found := false
		for _, sa := range a.StepActions {
			if sa.Value == sb.Value {
				if sigFields(sa.Payload) != sigFields(sb.Payload) {
					return fmt.Errorf("step action %s differs", sb.Value)
				}
				sa.Examples = append(sa.Examples, sb.Examples...)
				found = true
			}
		}
		if !found {
			a.StepActions = append(a.StepActions, sb)
		}
	}
	return nil
}

// sigFields renders the wire-relevant part of a field list (not notes or value lists, which may
// legitimately differ between the consumer's and the producer's view of the same topic).
func sigFields(fs []*Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(sigField(f))
		b.WriteByte(';')
	}
	return b.String()
}

func sigField(f *Field) string {
	s := fmt.Sprintf("%s|inc=%s|opt=%v|since=%s|null=%v|str=%v", f.JSON, f.Include, f.Optional, f.Since, f.Nullable, f.AsString)
	if f.Type != nil {
		s += "|" + f.Type.String()
		if f.Type.Kind == Object {
			s += "{" + sigFields(f.Type.Fields) + "}"
		}
	}
	if f.AltType != nil {
		s += "|alt=" + f.AltType.String()
	}
	if f.ShapeBy != nil {
		keys := make([]string, 0, len(f.ShapeBy.Cases))
		for k, v := range f.ShapeBy.Cases {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		s += "|by=" + f.ShapeBy.Field + ":" + strings.Join(keys, ",")
	}
	return s
}

// Flatten expands includes (recursively) into the fields they stand for. An include's
// optional/since apply to every field it brings in.
func (c *Catalog) Flatten(fs []*Field) []*Field {
	var out []*Field
	for _, f := range fs {
		if f.Include == "" {
			out = append(out, f)
			continue
		}
		s := c.Shapes[f.Include]
		if s == nil {
			continue // reported by check
		}
		for _, g := range c.Flatten(s.Fields) {
			if f.Optional || f.Since != "" {
				cp := *g
				cp.Optional = cp.Optional || f.Optional
				if cp.Since == "" {
					cp.Since = f.Since
				}
				g = &cp
			}
			out = append(out, g)
		}
	}
	return out
}

// check verifies what Parse cannot see one file at a time: references, key uniqueness, wire
// order, requires, shape_by and step actions.
func (c *Catalog) check() error {
	for _, s := range sortedShapes(c.Shapes) {
		if err := c.checkIncludeCycle(s.Name, nil); err != nil {
			return err
		}
		if err := c.checkObject("shape "+s.Name, s.Fields, nil); err != nil {
			return err
		}
	}
	for _, t := range c.Topics {
		if err := c.foldTypeEnvelopes(t); err != nil {
			return fmt.Errorf("topic %s: %w", t.Name, err)
		}
		if err := c.checkTopic(t); err != nil {
			return fmt.Errorf("topic %s: %w", t.Name, err)
		}
	}
	return nil
}

func sortedShapes(m map[string]*Shape) []*Shape {
	out := make([]*Shape, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (c *Catalog) checkIncludeCycle(name string, stack []string) error {
	for _, s := range stack {
		if s == name {
			return fmt.Errorf("include cycle: %s", strings.Join(append(stack, name), " -> "))
		}
	}
	s := c.Shapes[name]
	if s == nil {
		return nil
	}
	for _, f := range s.Fields {
		if f.Include != "" {
			if err := c.checkIncludeCycle(f.Include, append(stack, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkObject checks one JSON object's fields; extra are keys that share the object (the
// discriminator and body of an envelope).
func (c *Catalog) checkObject(where string, fs []*Field, extra []string) error {
	for _, f := range fs {
		if f.Include != "" && c.Shapes[f.Include] == nil {
			return fmt.Errorf("%s: include of unknown shape %s", where, f.Include)
		}
	}
	flat := c.Flatten(fs)
	seen := map[string]string{}
	for _, k := range extra {
		seen[strings.ToLower(k)] = k
	}
	for _, f := range flat {
		// encoding/json matches keys case-insensitively, so keys equal but for case would
		// decode into one another.
		if prev, ok := seen[strings.ToLower(f.JSON)]; ok {
			return fmt.Errorf("%s: key %s collides with %s", where, f.JSON, prev)
		}
		seen[strings.ToLower(f.JSON)] = f.JSON
		if err := c.checkType(where+"."+f.JSON, f.Type); err != nil {
			return err
		}
		if f.ShapeBy != nil {
			var sib *Field
			for _, g := range flat {
				if g.JSON == f.ShapeBy.Field {
					sib = g
				}
			}
			if sib == nil || sib.Type.Kind != Scalar || sib.Type.Name != "string" {
				return fmt.Errorf("%s.%s: shape_by field %s is not a string sibling", where, f.JSON, f.ShapeBy.Field)
			}
			for v, sh := range f.ShapeBy.Cases {
				if c.Shapes[sh] == nil {
					return fmt.Errorf("%s.%s: shape_by case %s: unknown shape %s", where, f.JSON, v, sh)
				}
			}
		}
		for _, ks := range f.KnownShapes {
			if c.Shapes[ks] == nil {
				return fmt.Errorf("%s.%s: known shape %s is not defined", where, f.JSON, ks)
			}
		}
	}
	return nil
}

func (c *Catalog) checkType(where string, t *TypeExpr) error {
	switch t.Kind {
	case List, Map:
		return c.checkType(where, t.Elem)
	case Object:
		return c.checkObject(where, t.Fields, nil)
	case ShapeRef:
		if c.Shapes[t.Name] == nil {
			return fmt.Errorf("%s: unknown shape %s", where, t.Name)
		}
	}
	return nil
}

func (c *Catalog) checkTopic(t *Topic) error {
	if t.Flat() {
		if err := c.checkObject("fields", t.Fields, nil); err != nil {
			return err
		}
		if t.Route != "" && !Routes[t.Route] {
			return fmt.Errorf("route %q", t.Route)
		}
		return c.checkStepActions(t)
	}
	extra := []string{t.Discriminator}
	if !t.Bodyless {
		extra = append(extra, "body")
	}
	if err := c.checkObject("envelope", t.Envelope, extra); err != nil {
		return err
	}
	if len(t.WireOrder) > 0 {
		want := map[string]bool{}
		for _, f := range c.Flatten(t.Envelope) {
			want[f.JSON] = true
		}
		for _, k := range extra {
			want[k] = true
		}
		if len(want) != len(t.WireOrder) {
			return fmt.Errorf("wire_order lists %d keys, the envelope has %d", len(t.WireOrder), len(want))
		}
		for _, k := range t.WireOrder {
			if !want[k] {
				return fmt.Errorf("wire_order: %s is not an envelope key (or listed twice)", k)
			}
			delete(want, k)
		}
		for _, ty := range t.Types {
			if t.Bodyless && len(ty.Fields) > 0 {
				return fmt.Errorf("wire_order on a bodyless topic whose types have fields of their own is not supported")
			}
		}
	}
	envelope := map[string]*Field{}
	for _, f := range c.Flatten(t.Envelope) {
		envelope[f.JSON] = f
	}
	union := map[string]string{}
	seenValues := map[string]bool{}
	for _, ty := range t.Types {
		if seenValues[ty.Value] {
			return fmt.Errorf("type %s listed twice", ty.Value)
		}
		seenValues[ty.Value] = true
		if ty.Route != "" && !Routes[ty.Route] {
			return fmt.Errorf("type %s: route %q", ty.Value, ty.Route)
		}
		if ty.Since != "" && ty.Since != "newer" {
			return fmt.Errorf("type %s: since %q", ty.Value, ty.Since)
		}
		for _, r := range ty.Requires {
			if f := envelope[r]; f == nil || !f.Optional {
				return fmt.Errorf("type %s: requires %s, which is not an optional envelope field", ty.Value, r)
			}
		}
		switch ty.Body {
		case BodyShape:
			if c.Shapes[ty.Shape] == nil {
				return fmt.Errorf("type %s: body shape %s unknown", ty.Value, ty.Shape)
			}
		case BodyFields:
			if err := c.checkObject("type "+ty.Value+" body", ty.Fields, nil); err != nil {
				return err
			}
		case BodyNone:
			// A bodyless type's own fields sit next to the envelope; one struct holds the union,
			// so a key shared by two types must mean the same thing in both.
			all := append(append([]*Field{}, t.Envelope...), ty.Fields...)
			if err := c.checkObject("type "+ty.Value, all, extra); err != nil {
				return err
			}
			for _, f := range c.Flatten(ty.Fields) {
				s := sigField(f)
				if prev, ok := union[f.JSON]; ok && prev != s {
					return fmt.Errorf("type %s: field %s differs from another type's", ty.Value, f.JSON)
				}
				union[f.JSON] = s
			}
		}
	}
	return c.checkStepActions(t)
}

func (c *Catalog) checkStepActions(t *Topic) error {
	if len(t.StepActions) == 0 {
		return nil
	}
	if c.StepShape(t) == nil {
		return fmt.Errorf("step_actions: no field of the topic is a list of a shape with action and payload")
	}
	seen := map[string]bool{}
	for _, sa := range t.StepActions {
		if seen[sa.Value] {
			return fmt.Errorf("step action %s listed twice", sa.Value)
		}
		seen[sa.Value] = true
		if err := c.checkObject("step action "+sa.Value, sa.Payload, nil); err != nil {
			return err
		}
	}
	return nil
}

// StepShape returns the shape whose `payload` the topic's step_actions type: the element shape of
// a list field of the topic that has an `action` string and a `payload` of type any.
func (c *Catalog) StepShape(t *Topic) *Shape {
	for _, f := range c.Flatten(t.Fields) {
		ty := f.Type
		if ty.Kind == List {
			ty = ty.Elem
		}
		if ty.Kind != ShapeRef {
			continue
		}
		s := c.Shapes[ty.Name]
		var action, payload bool
		for _, g := range c.Flatten(s.Fields) {
			action = action || g.JSON == "action" && g.Type.Kind == Scalar && g.Type.Name == "string"
			payload = payload || g.JSON == "payload" && g.Type.Kind == Scalar && g.Type.Name == "any"
		}
		if action && payload {
			return s
		}
	}
	return nil
}
