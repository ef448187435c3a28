// Package policy reads the client command policy (contracts/policy/client.yaml), checks it
// against the catalog, and generates codecs/client_policy_gen.go: for every type the channel
// produces, whether a player's client may send it and which keys the gateway fills from the
// session. Unlisted types are server-only (default deny).
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"os"
	"sort"
	"strings"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
	"gopkg.in/yaml.v3"
)

// File is the policy file's path relative to the contracts directory.
const File = "policy/client.yaml"

// OutFile is the generated file, in package codecs.
const OutFile = "client_policy_gen.go"

// DefaultReason is the reason of a type the policy does not list.
const DefaultReason = "not in the client policy (default deny)"

// Fills, the session values a key can take.
var fillKinds = []string{"character", "account", "world", "channel", "map", "instance"}

type doc struct {
	Identity map[string][]string            `yaml:"identity"`
	Topics   map[string]map[string]rawEntry `yaml:"topics"`
}

type rawEntry struct {
	Client      bool              `yaml:"client"`
	Why         string            `yaml:"why"`
	Targets     []string          `yaml:"targets"`
	AsCharacter []string          `yaml:"as_character"`
	Require     map[string]string `yaml:"require"`
}

// Entry is one type's decision.
type Entry struct {
	Topic, Type string
	Allowed     bool
	Reason      string
	// Session maps a key path ("characterId", "body.senderId") to the session value it takes.
	Session map[string]string
	// Require maps a key path to the JSON value it must hold.
	Require map[string]string
	// Optional lists the optional keys of the contract era (not `since: newer`) a client may
	// give; required keys are known from the codecs.
	Optional []string
	// Values maps a key path to the closed set of JSON values the catalog allows there.
	Values map[string][]string
}

// Build joins the policy text with the catalog. It refuses entries for types the catalog does
// not have or the channel does not produce, and paths that are not fields of their type.
func Build(c *catalog.Catalog, text []byte) ([]Entry, error) {
	var d doc
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	kindOf := map[string]string{}
	for kind, keys := range d.Identity {
		if !contains(fillKinds, kind) {
			return nil, fmt.Errorf("policy: identity kind %q is not one of %v", kind, fillKinds)
		}
		for _, k := range keys {
			kindOf[k] = kind
		}
	}
	listed := map[string]bool{}
	var out []Entry
	for _, t := range c.Topics {
		if !producedByChannel(t) {
			continue
		}
		types := []string{""}
		if !t.Flat() {
			types = nil
			for _, ty := range t.Types {
				if !ty.Newer() {
					types = append(types, ty.Value)
				}
			}
		}
		for _, typ := range types {
			top, body, optional, values := fieldsOf(c, t, typ)
			e := Entry{Topic: t.Name, Type: typ, Reason: DefaultReason}
			raw, ok := d.Topics[t.Name][typ]
			if ok {
				listed[t.Name+" "+typ] = true
				if err := e.fill(raw, top, body, kindOf); err != nil {
					return nil, fmt.Errorf("policy: %s %s: %w", t.Name, typ, err)
				}
				if e.Allowed {
					e.Optional, e.Values = optional, values
				}
			}
			out = append(out, e)
		}
	}
	for topic, types := range d.Topics {
		for typ := range types {
			if !listed[topic+" "+typ] {
				return nil, fmt.Errorf("policy: %s %q is not a type the channel produces in the catalog", topic, typ)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Type < out[j].Type
	})
	return out, nil
}

func (e *Entry) fill(raw rawEntry, top, body map[string]bool, kindOf map[string]string) error {
	has := func(path string) bool {
		if k, ok := strings.CutPrefix(path, "body."); ok {
			return body[k]
		}
		return top[path]
	}
	for _, p := range append(append(append([]string{}, raw.Targets...), raw.AsCharacter...), keysOf(raw.Require)...) {
		if !has(p) {
			return fmt.Errorf("%q is not a field of this type", p)
		}
	}
	if !raw.Client {
		if raw.Why == "" {
			return fmt.Errorf("a server-only type needs a why")
		}
		if len(raw.Targets)+len(raw.AsCharacter)+len(raw.Require) > 0 {
			return fmt.Errorf("targets, as_character and require apply to client types only")
		}
		e.Reason = raw.Why
		return nil
	}
	if raw.Why != "" {
		return fmt.Errorf("why is for server-only types")
	}
	e.Allowed, e.Reason = true, ""
	e.Session = map[string]string{}
	for k := range top {
		if kind, ok := kindOf[k]; ok {
			e.Session[k] = kind
		}
	}
	for k := range body {
		if kind, ok := kindOf[k]; ok {
			e.Session["body."+k] = kind
		}
	}
	for _, p := range raw.Targets {
		if _, ok := e.Session[p]; !ok {
			return fmt.Errorf("target %q is not an identity key; list only those", p)
		}
		delete(e.Session, p)
	}
	for _, p := range raw.AsCharacter {
		e.Session[p] = "character"
	}
	for p, v := range raw.Require {
		if !json.Valid([]byte(v)) {
			return fmt.Errorf("require %s: %q is not JSON", p, v)
		}
	}
	e.Require = raw.Require
	return nil
}

func producedByChannel(t *catalog.Topic) bool {
	for _, u := range t.Uses {
		if u.Service == "channel" && (u.Direction == "produced" || u.Direction == "both") {
			return true
		}
	}
	return false
}

// fieldsOf gives the top-level and body keys a type may carry (optional ones included), the
// paths of its optional keys of the contract era, and the closed value sets of its keys.
func fieldsOf(c *catalog.Catalog, t *catalog.Topic, typ string) (top, body map[string]bool, optional []string, values map[string][]string) {
	top, body, values = map[string]bool{}, map[string]bool{}, map[string][]string{}
	add := func(dst map[string]bool, prefix string, fs []*catalog.Field) {
		for _, f := range c.Flatten(fs) {
			dst[f.JSON] = true
			if f.Optional && !f.Newer() {
				optional = append(optional, prefix+f.JSON)
			}
			for _, v := range f.Values {
				b, err := json.Marshal(v)
				if err == nil && !f.Newer() {
					values[prefix+f.JSON] = append(values[prefix+f.JSON], string(b))
				}
			}
		}
	}
	add(top, "", t.Envelope)
	add(top, "", t.Fields)
	if ty := t.Type(typ); ty != nil {
		fs := ty.Fields
		if ty.Body == catalog.BodyShape {
			if s := c.Shapes[ty.Shape]; s != nil {
				fs = s.Fields
			}
		}
		if ty.Body == catalog.BodyNone {
			add(top, "", fs) // bodyless topics: a type's fields sit at the top level
		} else {
			add(body, "body.", fs)
		}
	}
	sort.Strings(optional)
	return top, body, optional, values
}

// Generate writes the Go source of the table.
func Generate(entries []Entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by codecs/internal/gen from contracts/policy/client.yaml and contracts/*.yaml. DO NOT EDIT.\n\n")
	b.WriteString("package codecs\n\n")
	b.WriteString("// clientPolicies holds a decision for every type the channel produces, keyed \"TOPIC TYPE\"\n")
	b.WriteString("// (TYPE empty for a flat topic).\n")
	b.WriteString("var clientPolicies = map[string]ClientPolicy{\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "\t%q: {", e.Topic+" "+e.Type)
		if !e.Allowed {
			fmt.Fprintf(&b, "Reason: %q},\n", e.Reason)
			continue
		}
		b.WriteString("Allowed: true")
		if len(e.Session) > 0 {
			b.WriteString(", Session: map[string]SessionValue{")
			for _, k := range keysOf(e.Session) {
				fmt.Fprintf(&b, "%q: Session%s, ", k, title(e.Session[k]))
			}
			b.WriteString("}")
		}
		if len(e.Require) > 0 {
			b.WriteString(", Require: map[string]string{")
			for _, k := range keysOf(e.Require) {
				fmt.Fprintf(&b, "%q: %q, ", k, e.Require[k])
			}
			b.WriteString("}")
		}
		if len(e.Optional) > 0 {
			fmt.Fprintf(&b, ", Optional: %#v", e.Optional)
		}
		if len(e.Values) > 0 {
			b.WriteString(", Values: map[string][]string{")
			for _, k := range keysOf(e.Values) {
				fmt.Fprintf(&b, "%q: %#v, ", k, e.Values[k])
			}
			b.WriteString("}")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// Load reads the policy from the contracts directory and builds it.
func Load(c *catalog.Catalog, contractsDir string) ([]Entry, error) {
	text, err := os.ReadFile(contractsDir + "/" + File)
	if err != nil {
		return nil, err
	}
	return Build(c, text)
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
