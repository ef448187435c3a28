// Package commands produces the messages of the channel service: every command topic of
// channel-commands.yaml and the presence events of EVENT_TOPIC_SESSION_STATUS. It is driven by
// the codecs registry, not by one function per topic: the Go type of a message selects its
// catalog topic, the topic's codec writes the catalog's bytes, the catalog's key field (or the
// few keys that are not a field) gives the 8-byte key, and every record carries the tenant and
// trace headers.
package commands

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/metrics"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/sirupsen/logrus"
)

// Producer sends records; goka.Producer is one.
type Producer interface {
	EmitWithHeaders(topic string, key string, value []byte, headers goka.Headers) *goka.Promise
}

// Record is one encoded message, ready to produce.
type Record struct {
	Topic   string // the topic's name (its env var may rename it)
	Catalog string // the catalog's name of the topic
	Type    string // discriminator value; "" for a flat message
	Key     string
	Value   []byte
	Headers goka.Headers
}

// spec is what the registry says about one produced topic.
type spec struct {
	cat   *codecs.CatalogTopic
	topic string
}

// specs maps a message's Go type name (codecs.CatalogTopic.Message) to its topic, for every
// topic the catalog says the channel produces.
var specs = func() map[string]spec {
	out := map[string]spec{}
	for _, t := range codecs.CatalogTopicList() {
		if t.ProducedBy("channel") {
			out[t.Message] = spec{cat: t, topic: string(atlas.TopicFromEnv(t.Name))}
		}
	}
	return out
}()

// keyFuncs are the keys that are not a message field (the catalog describes them in words).
var keyFuncs = map[string]func(tenant codecs.Tenant, top map[string]json.RawMessage) (string, error){
	// Keyed like upstream atlas-world keys it: the tenant id's 36-character text.
	"COMMAND_TOPIC_CHANNEL_STATUS": func(t codecs.Tenant, _ map[string]json.RawMessage) (string, error) {
		return t.ID.String(), nil
	},
	// Current upstream's world service keys channel registrations the same way.
	"EVENT_TOPIC_CHANNEL_STATUS": func(t codecs.Tenant, _ map[string]json.RawMessage) (string, error) {
		return t.ID.String(), nil
	},
	// The transaction id's first four bytes read big-endian, written like every id key.
	"COMMAND_TOPIC_SAGA": func(_ codecs.Tenant, top map[string]json.RawMessage) (string, error) {
		var id uuid.UUID
		if err := json.Unmarshal(top["transactionId"], &id); err != nil {
			return "", fmt.Errorf("transactionId: %w", err)
		}
		return codecs.IDKey(binary.BigEndian.Uint32(id[:4])), nil
	},
}

// ErrNotProduced refuses a message the channel does not produce: a type of another service, or
// a `since: newer` type (decoded, never produced).
var ErrNotProduced = errors.New("not a message the channel produces")

// ErrClosed refuses a message after Close.
var ErrClosed = errors.New("emitter closed")

// Encode turns a message (a value or pointer of a codecs message type) into its record. A
// topic or type of the other contract era than era is refused (ErrNotProduced).
func Encode(era string, tenant codecs.Tenant, msg any, tr codecs.Trace) (Record, error) {
	t := reflect.TypeOf(msg)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.PkgPath() != reflect.TypeOf(codecs.Tenant{}).PkgPath() {
		return Record{}, fmt.Errorf("%w: %T", ErrNotProduced, msg)
	}
	s, ok := specs[t.Name()]
	if !ok || !s.cat.InEra(era) {
		return Record{}, fmt.Errorf("%w: %s in the %s contracts", ErrNotProduced, t.Name(), era)
	}
	if era == codecs.EraCurrent {
		// Current upstream always writes these keys (a nil uuid, 0): its readers expect them.
		// A value is filled on a copy; FillCurrent has a pointer receiver.
		if rv := reflect.ValueOf(msg); rv.Kind() != reflect.Pointer {
			p := reflect.New(rv.Type())
			p.Elem().Set(rv)
			msg = p.Interface()
		}
		if f, ok := msg.(interface{ FillCurrent() }); ok {
			f.FillCurrent()
		}
	}
	value, err := s.cat.Codec.Encode(msg)
	if err != nil {
		return Record{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(value, &top); err != nil {
		return Record{}, fmt.Errorf("%s: encoded value is not an object: %w", s.cat.Name, err)
	}
	rec := Record{Topic: s.topic, Catalog: s.cat.Name, Value: value}
	keyField := s.cat.KeyField
	if s.cat.Discriminator != "" {
		if err := json.Unmarshal(top[s.cat.Discriminator], &rec.Type); err != nil {
			return Record{}, fmt.Errorf("%s: discriminator: %w", s.cat.Name, err)
		}
		ct, ok := s.cat.Type(rec.Type)
		if !ok || !ct.Produced(era) {
			return Record{}, fmt.Errorf("%w: %s %s in the %s contracts", ErrNotProduced, s.cat.Name, rec.Type, era)
		}
		keyField = ct.KeyField
	}
	if f, ok := keyFuncs[s.cat.Name]; ok {
		rec.Key, err = f(tenant, top)
	} else {
		rec.Key, err = fieldKey(top, keyField)
	}
	if err != nil {
		return Record{}, fmt.Errorf("%s key: %w", s.cat.Name, err)
	}
	rec.Headers = tenant.Headers()
	tr.AddTo(rec.Headers)
	return rec, nil
}

// fieldKey reads the id at a JSON path ("characterId", "body.dropId") of an encoded message.
// A uint64 id (movement object ids) is keyed by its low 32 bits, as upstream does.
func fieldKey(top map[string]json.RawMessage, path string) (string, error) {
	if path == "" {
		return "", errors.New("the catalog names no key field")
	}
	parts := strings.Split(path, ".")
	raw := top[parts[0]]
	for _, p := range parts[1:] {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		raw = obj[p]
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return "", fmt.Errorf("%s is not an id: %q", path, raw)
	}
	return codecs.IDKey(uint32(n)), nil
}

// Emitter produces messages of one tenant.
type Emitter struct {
	p      Producer
	tenant codecs.Tenant
	group  string
	era    string

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// New returns an emitter for tenant writing contract era era (codecs.EraSeed when empty);
// group labels its metrics.
func New(p Producer, tenant codecs.Tenant, group, era string) *Emitter {
	if era == "" {
		era = codecs.EraSeed
	}
	return &Emitter{p: p, tenant: tenant, group: group, era: era}
}

// Send encodes and produces msg without waiting for the broker; a failure after this point is
// logged and counted. Records of one key keep their order (idempotent, ordered producer).
func (e *Emitter) Send(msg any, tr codecs.Trace) error {
	rec, err := Encode(e.era, e.tenant, msg, tr)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		// Producing into a closed goka producer panics; after Close nothing may be sent.
		return ErrClosed
	}
	e.inflight.Add(1)
	e.p.EmitWithHeaders(rec.Topic, rec.Key, rec.Value, rec.Headers).Then(func(err error) {
		defer e.inflight.Done()
		if err != nil {
			logrus.WithError(err).WithFields(logrus.Fields{
				"topic": rec.Topic, "type": rec.Type, "trace": tr.TraceIDString(),
				"tenant": e.tenant.ID.String(),
			}).Error("produce failed")
			return
		}
		metrics.MessagesOut.WithLabelValues(e.group, rec.Catalog).Inc()
	})
	return nil
}

// Close refuses further messages and waits until every message sent was acknowledged or
// failed. The producer itself is the caller's to close afterwards.
func (e *Emitter) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.inflight.Wait()
}

// Typed is an emitter for one message type M, checked against the registry when it is made.
type Typed[M any] struct{ e *Emitter }

// For returns the emitter of message type M (e.g. codecs.CharacterChatCommand), or an error if
// the channel does not produce M.
func For[M any](e *Emitter) (Typed[M], error) {
	name := reflect.TypeOf((*M)(nil)).Elem().Name()
	if _, ok := specs[name]; !ok {
		return Typed[M]{}, fmt.Errorf("%w: %s", ErrNotProduced, name)
	}
	return Typed[M]{e: e}, nil
}

// Send produces m.
func (t Typed[M]) Send(m *M, tr codecs.Trace) error { return t.e.Send(m, tr) }

// Produced lists the catalog names of the topics the channel produces in contract era era,
// sorted.
func Produced(era string) []string {
	out := make([]string, 0, len(specs))
	for _, s := range specs {
		if s.cat.InEra(era) {
			out = append(out, s.cat.Name)
		}
	}
	sort.Strings(out)
	return out
}
