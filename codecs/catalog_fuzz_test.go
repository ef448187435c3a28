package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
)

// FuzzDecodeCatalog fuzzes every catalog decoder at once: the first byte picks the topic (in
// CatalogTopicList order), the rest is the record value. Seeds are every catalog example.
//
// Properties: no decoder panics; every error wraps ErrMalformed or ErrUnknownType; whatever
// decodes re-encodes, and decoding that again gives an equal value whose encoding is the same
// bytes (encoding is a fixed point after one round).
func FuzzDecodeCatalog(f *testing.F) {
	topics := CatalogTopicList()
	index := map[string]byte{}
	for i, ct := range topics {
		index[ct.Name] = byte(i)
	}
	c, err := catalog.Load(contractsDir)
	if err != nil {
		f.Fatal(err)
	}
	forEachExample(c, func(tp *catalog.Topic, ex string) {
		f.Add(append([]byte{index[tp.Name]}, ex...))
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		ct := topics[int(data[0])%len(topics)]
		checkDecodeProperty(t, ct, data[1:])
	})
}

func checkDecodeProperty(t *testing.T, ct *CatalogTopic, in []byte) {
	v1, err := ct.Decode(in)
	if err != nil {
		if v1 != nil {
			t.Fatalf("%s: error %v with value %#v", ct.Name, err, v1)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownType) {
			t.Fatalf("%s: unclassified error %v", ct.Name, err)
		}
		return
	}
	e1, err := ct.Codec.Encode(v1)
	if err != nil {
		t.Fatalf("%s: %q decoded but does not encode: %v", ct.Name, in, err)
	}
	v2, err := ct.Decode(e1)
	if err != nil {
		t.Fatalf("%s: own encoding %s does not decode: %v", ct.Name, e1, err)
	}
	if !sameValue(reflect.ValueOf(v1), reflect.ValueOf(v2)) {
		t.Fatalf("%s: %q\n decodes to %#v\n re-decodes to %#v", ct.Name, in, v1, v2)
	}
	e2, err := ct.Codec.Encode(v2)
	if err != nil || !bytes.Equal(e1, e2) {
		t.Fatalf("%s: encoding not stable:\n%s\n%s (%v)", ct.Name, e1, e2, err)
	}
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	timeType       = reflect.TypeOf(time.Time{})
)

// sameValue is reflect.DeepEqual except where a value legitimately changes form on the wire
// without changing meaning: a json.RawMessage is compared as encoding/json writes it (compact,
// HTML-escaped; absent equals null), a time.Time by instant and UTC offset (not by *Location).
func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Type() {
	case rawMessageType:
		ja, errA := json.Marshal(json.RawMessage(a.Bytes()))
		jb, errB := json.Marshal(json.RawMessage(b.Bytes()))
		return errA == nil && errB == nil && bytes.Equal(ja, jb)
	case timeType:
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		_, oa := ta.Zone()
		_, ob := tb.Zone()
		return ta.Equal(tb) && oa == ob
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		fallthrough
	case reflect.Array:
		for i := 0; i < a.Len(); i++ {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			vb := b.MapIndex(k)
			if !vb.IsValid() || !sameValue(a.MapIndex(k), vb) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// TestCatalogDecodePropertyOnExamples runs the fuzz property over the seeds and some hand-made
// edge cases in the normal test run (go test without -fuzz only runs the seed corpus of the fuzz
// target, which is the same; the extra inputs here cover forms no example has).
func TestCatalogDecodePropertyOnExamples(t *testing.T) {
	for name, in := range map[string]string{
		"EVENT_TOPIC_NOTE_STATUS":            `{"characterId":42,"type":"CREATED","body":{"noteId":12,"senderId":43,"message":"<b>&","flag":0,"time":"2026-01-15T10:00:00.000+02:00"}}`,
		"COMMAND_TOPIC_ACCOUNT_SESSION":      `{"sessionId":"3F2A1C9E-7B1D-4C2A-9E55-0A1B2C3D4E5F","type":"PROGRESS_STATE","body":{"params":{ "b" : [1, 2.50], "a":"\u003c"}}}`,
		"EVENT_TOPIC_ACCOUNT_SESSION_STATUS": `{"type":"ERROR","body":{"until":null}}`,
		"EVENT_TOPIC_CASH_SHOP_STATUS":       `{"type":"CHARACTER_EXIT"}`,
		"EVENT_TOPIC_ASSET_STATUS":           `{"type":"CREATED","body":{"referenceType":"pet","createdAt":"2026-01-15T10:00:00Z","equippedSince":null,"cashId":"null"}}`,
		"EVENT_TOPIC_CHARACTER_STATUS":       `{"type":"STAT_CHANGED","body":{"updates":null,"values":{"b":1,"a":{}}}}`,
		"COMMAND_TOPIC_MONSTER":              `{"type":"DAMAGE","body":{"damages":[]}}`,
		"COMMAND_TOPIC_SAGA":                 `{"steps":[{"action":"award_asset","payload":null}]}`,
	} {
		checkDecodeProperty(t, CatalogTopics[name], []byte(in))
	}
}
