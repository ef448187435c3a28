package codegen

// runtime is the fixed part of catalog_gen.go: imports, errors, the registry types and the
// small helpers every generated codec calls. It is emitted verbatim so that the generated
// package needs nothing but the standard library, uuid and goka at build time.
const runtime = `package codecs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lovoo/goka"
)

// ErrUnknownType is wrapped by every error about a discriminator (or saga step action, or
// shape_by selector) value that the catalog does not list. The contract tells consumers to
// ignore such messages, so it is kept apart from ErrMalformed: the channel skips them, the
// account service dead-letters them.
var ErrUnknownType = errors.New("unknown discriminator value")

// ErrMalformed is wrapped by every other decoding error: not a JSON object, a missing
// discriminator, wrong JSON types, out-of-range numbers, invalid uuids or times.
var ErrMalformed = errors.New("malformed message")

// CatalogTopic describes one topic of the contract catalog.
type CatalogTopic struct {
	// Name is the topic's env var, which is also its default name.
	Name string
	// Message is the Go type of its messages in this package (e.g. "AccountSessionCommand").
	Message string
	// Discriminator is the JSON key that selects the type ("type", "status"); "" for a flat
	// message.
	Discriminator string
	// Bodyless topics have a discriminator but no body key.
	Bodyless bool
	// Key is the catalog's key text: a JSON path, or a description of another key.
	Key string
	// KeyField is the JSON path of the key ("characterId", "body.characterId") when Key is one;
	// "" when the key is not a field (a random number, a uuid's text, the tenant).
	KeyField string
	// Route, for a flat consumed topic: which sessions are told (see CatalogType.Route).
	Route string
	// Uses lists which services produce and consume the topic, per catalog file.
	Uses []CatalogUse
	// Types lists the discriminator values in catalog order (none for a flat topic).
	Types []CatalogType
	// Era is EraSeed or EraCurrent for a topic of one contract era only, "" for both.
	Era string
	// CurrentKeys, for a flat topic, as CatalogType.CurrentKeys.
	CurrentKeys []string
	// Decode decodes a record value into a pointer to the message type.
	Decode func([]byte) (any, error)
	// Codec is the message type's goka.Codec.
	Codec goka.Codec
}

// CatalogUse says that a service consumes or produces a topic.
type CatalogUse struct {
	Service   string // "account", "channel"
	Direction string // "consumed", "produced", "both"
	File      string // the catalog file that says so
}

// CatalogType describes one discriminator value of a topic.
type CatalogType struct {
	Value string
	// Route: which sessions a channel tells (self, field, field_others, world, party, buddies,
	// guild, account, none); "" where the catalog gives none.
	Route string
	// Key and KeyField are the topic's, or this type's override.
	Key      string
	KeyField string
	// Newer types are written only by later upstream producers: decode them, do not produce
	// them.
	Newer bool
	// Requires lists optional envelope keys this type always carries.
	Requires []string
	// Era is EraSeed or EraCurrent for a type of one contract era only, "" for both.
	Era string
	// CurrentKeys are the key paths ("instance", "body.level") current upstream always writes
	// in this type beyond its seed keys; FillCurrent of the message gives them zero values.
	CurrentKeys []string
	// Body is the Go type of the body ("" for bodyless topics and null bodies). NewBody returns
	// a pointer to a zero one; DecodeBody decodes a body alone (e.g. a client-provided one).
	Body       string
	NewBody    func() any
	DecodeBody func([]byte) (any, error)
}

// The contract eras (contracts/FORMAT.md, "Contract eras"): the formats of the services this
// project was built against, and those of current upstream Atlas.
const (
	EraSeed    = "seed"
	EraCurrent = "current"
)

// InEra reports whether the topic exists in era: a topic of the other era only does not.
func (t *CatalogTopic) InEra(era string) bool { return t.Era == "" || t.Era == era }

// InEra reports whether the type exists in era.
func (t *CatalogType) InEra(era string) bool { return t.Era == "" || t.Era == era }

// Produced reports whether this project's producers write the type in era: a type of the
// other era never, and a newer type (written by later upstream producers) only in the
// current era.
func (t *CatalogType) Produced(era string) bool {
	return t.InEra(era) && !(t.Newer && era != EraCurrent)
}

// LookupCatalogTopic returns the catalog entry of a topic env name.
func LookupCatalogTopic(name string) (*CatalogTopic, bool) {
	t, ok := CatalogTopics[name]
	return t, ok
}

// CatalogTopicList returns every catalog topic, sorted by name.
func CatalogTopicList() []*CatalogTopic {
	out := make([]*CatalogTopic, len(catalogTopicOrder))
	for i, n := range catalogTopicOrder {
		out[i] = CatalogTopics[n]
	}
	return out
}

// Type returns the entry of a discriminator value. Topics have at most a few dozen types, so a
// scan is as fast as a map and keeps the registry a plain literal.
func (t *CatalogTopic) Type(value string) (*CatalogType, bool) {
	for i := range t.Types {
		if t.Types[i].Value == value {
			return &t.Types[i], true
		}
	}
	return nil, false
}

// ConsumedBy reports whether the catalog says service consumes the topic.
func (t *CatalogTopic) ConsumedBy(service string) bool {
	for _, u := range t.Uses {
		if u.Service == service && (u.Direction == "consumed" || u.Direction == "both") {
			return true
		}
	}
	return false
}

// ProducedBy reports whether the catalog says service produces the topic.
func (t *CatalogTopic) ProducedBy(service string) bool {
	for _, u := range t.Uses {
		if u.Service == service && (u.Direction == "produced" || u.Direction == "both") {
			return true
		}
	}
	return false
}

var errCatalogNotObject = errors.New("not a JSON object")

func errCatalogNoDiscriminator(key string) error {
	return fmt.Errorf("no %q key", key)
}

// catalogIsObject reports whether b starts (after white space) with '{'. encoding/json
// accepts "null" for a struct as a no-op; a record value of null is not a message.
func catalogIsObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// catalogIsNull reports whether a raw value is absent or JSON null.
func catalogIsNull(b json.RawMessage) bool {
	return len(b) == 0 || string(b) == "null"
}

// catalogMalformed adds what was being decoded to err, and ErrMalformed unless err already
// carries one of the two sentinels (so an unknown nested type stays ErrUnknownType).
func catalogMalformed(what string, err error) error {
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownType) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("codecs: decode %s: %w: %w", what, ErrMalformed, err)
}

// catalogUnknown reports a discriminator value the catalog does not list. The value comes from
// the input, so it is clipped before it goes into an error (and from there into logs).
func catalogUnknown(what, key, value string) error {
	if len(value) > 64 {
		value = value[:64] + "..."
	}
	return fmt.Errorf("codecs: %s: %s %q: %w", what, key, value, ErrUnknownType)
}

func catalogWrongBody(what, value string, got any, want string) error {
	return fmt.Errorf("codecs: encode %s %s: body is %T, want %s", what, value, got, want)
}

func catalogWrongValue(codec string, got any) error {
	return fmt.Errorf("codecs: %s: cannot encode %T", codec, got)
}

// catalogDecodeBody decodes a raw body into v. An absent body leaves v zero, as JSON null
// does: upstream Go consumers read both as the zero body.
func catalogDecodeBody(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// catalogHasKey reports whether a raw JSON object has key: it tells the two eras' bodies of a
// type apart. Like encoding/json, which decodes the body, it matches keys regardless of case.
// Anything that is not an object has no key.
func catalogHasKey(raw json.RawMessage, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// catalogNew returns a pointer to a zero T (CatalogType.NewBody).
func catalogNew[T any]() any { return new(T) }

// catalogDecodeBodyAs decodes a body alone into a *T (CatalogType.DecodeBody).
func catalogDecodeBodyAs[T any](b []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("codecs: decode %T: %w: %w", v, ErrMalformed, err)
	}
	return v, nil
}

// catalogDecodeAs decodes raw into a new T (shape_by accessors).
func catalogDecodeAs[T any](what string, raw json.RawMessage) (any, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, catalogMalformed(what, err)
	}
	return v, nil
}

// Keep the imports used whatever the catalog holds.
var (
	_ = time.Time{}
	_ = uuid.UUID{}
)
`

// altTemplate is the helper type of one (type, alt_type) pair; $NAME$ etc. are replaced.
const altTemplate = `
// $NAME$ is a value the catalog types $PRIM$ and that newer upstream producers write as
// $ALT$ (alt_type). Decoding accepts both and records which one came, so a decoded value is
// written back as it was; a value built by this project's producers ($ALTGO$ unset, Is$ALTGO$
// false) is written as $PRIM$, as the contract requires.
type $NAME$ struct {
	$PRIMGO$ $PRIMTYPE$
	$ALTGO$ $ALTTYPE$
	Is$ALTGO$ bool
}

// MarshalJSON writes $PRIMGO$, or $ALTGO$ when Is$ALTGO$ is set.
func (v $NAME$) MarshalJSON() ([]byte, error) {
	if v.Is$ALTGO$ {
		return json.Marshal(v.$ALTGO$)
	}
	return json.Marshal(v.$PRIMGO$)
}

// UnmarshalJSON accepts a $PRIM$ or a $ALT$; null leaves v unchanged, as encoding/json does.
func (v *$NAME$) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var p $PRIMTYPE$
	errPrim := json.Unmarshal(b, &p)
	if errPrim == nil {
		*v = $NAME${$PRIMGO$: p}
		return nil
	}
	var a $ALTTYPE$
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("want $PRIM$ or $ALT$: %w", errPrim)
	}
	*v = $NAME${$ALTGO$: a, Is$ALTGO$: true}
	return nil
}
`
