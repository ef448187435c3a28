package catalog

import (
	"errors"
	"fmt"
	"slices"
)

// foldTypeEnvelopes gives a topic whose types bring envelopes of their own (current upstream's
// PORTAL WARP, STORAGE CLOSE_STORAGE) one envelope that is the union of all, so that one Go
// type decodes and writes every type: a key not every type has becomes optional, and each
// type that has it requires it (written, as its zero value when unset, and filled in when a
// producer left it out). A type's own envelope is then cleared.
func (c *Catalog) foldTypeEnvelopes(t *Topic) error {
	own := false
	for _, ty := range t.Types {
		own = own || ty.Envelope != nil || ty.OwnBodyless
	}
	if !own {
		return nil
	}
	if t.Bodyless || len(t.WireOrder) > 0 {
		return errors.New("types with an envelope of their own on a bodyless topic or one with wire_order are not supported")
	}
	base := c.Flatten(t.Envelope)
	if len(base) != len(t.Envelope) {
		return errors.New("types with an envelope of their own on a topic with an included envelope are not supported")
	}
	union := append([]*Field(nil), base...)
	index := func(key string) int {
		for i, f := range union {
			if f.JSON == key {
				return i
			}
		}
		return -1
	}
	// Keys of the types' own envelopes join the union after the key they follow there.
	for _, ty := range t.Types {
		prev := -1
		for _, f := range ty.Envelope {
			if i := index(f.JSON); i >= 0 {
				if union[i].Type.String() != f.Type.String() || union[i].AsString != f.AsString || union[i].Nullable != f.Nullable {
					return fmt.Errorf("type %s: envelope key %s differs from the topic's", ty.Value, f.JSON)
				}
				prev = i
				continue
			}
			union = append(union[:prev+1], append([]*Field{withOptional(f, true)}, union[prev+1:]...)...)
			prev++
		}
	}
	// Each type's own envelope keys (the topic's when it has none of its own).
	keys := make([]map[string]*Field, len(t.Types))
	for i, ty := range t.Types {
		if ty.OwnBodyless {
			if ty.Envelope == nil {
				return fmt.Errorf("type %s: bodyless without an envelope of its own", ty.Value)
			}
			if len(ty.Fields) > 0 {
				return fmt.Errorf("type %s: a bodyless type of a topic with bodies keeps its keys in its envelope", ty.Value)
			}
		}
		src := base
		if ty.Envelope != nil {
			src = ty.Envelope
		}
		keys[i] = map[string]*Field{}
		for _, f := range src {
			keys[i][f.JSON] = f
		}
	}
	// A key some type lacks is optional; the types that have it (required there) require it.
	for i, f := range union {
		everywhere := true
		for j := range t.Types {
			everywhere = everywhere && keys[j][f.JSON] != nil
		}
		if everywhere && !f.Optional {
			continue
		}
		union[i] = withOptional(f, true)
		for j, ty := range t.Types {
			if g := keys[j][f.JSON]; g != nil && !g.Optional && !slices.Contains(ty.Requires, f.JSON) {
				ty.Requires = append(ty.Requires, f.JSON)
			}
		}
	}
	for _, ty := range t.Types {
		if ty.OwnBodyless {
			ty.Body = BodyNone
		}
		ty.Envelope = nil
	}
	t.Envelope = union
	return nil
}

// HasOwnBodyless reports whether some type of a topic with bodies has no body key.
func (t *Topic) HasOwnBodyless() bool {
	for _, ty := range t.Types {
		if ty.OwnBodyless {
			return true
		}
	}
	return false
}

func withOptional(f *Field, opt bool) *Field {
	cp := *f
	cp.Optional = opt
	return &cp
}
