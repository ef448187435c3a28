package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
)

// The golden test is driven by the catalog itself, not by a list in this file: every topic,
// type, step action and example of contracts/*.yaml must have a codec and round-trip through it
// byte for byte. A catalog entry the generated code does not cover fails the test.

const contractsDir = "../contracts"

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(contractsDir)
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	return c
}

func TestCatalogGolden(t *testing.T) {
	c := loadCatalog(t)
	var nTopics, nTypes, nExamples, nSteps, nShapeBy int
	for _, tp := range c.Topics {
		ct, ok := CatalogTopics[tp.Name]
		if !ok {
			t.Errorf("%s: no entry in CatalogTopics", tp.Name)
			continue
		}
		nTopics++
		if want := catalog.MessageName(tp.Name); ct.Message != want {
			t.Errorf("%s: registry message %s, want %s", tp.Name, ct.Message, want)
		}
		if ct.Discriminator != tp.Discriminator || ct.Bodyless != tp.Bodyless {
			t.Errorf("%s: registry discriminator/bodyless differ from the catalog", tp.Name)
		}
		if len(ct.Types) != len(tp.Types) {
			t.Errorf("%s: registry has %d types, catalog %d", tp.Name, len(ct.Types), len(tp.Types))
		}
		for _, ex := range tp.Examples {
			nExamples++
			v := roundTrip(t, c, tp, ex)
			nShapeBy += checkStepPayloads(t, c, tp, v, ex.Era)
		}
		for _, ty := range tp.Types {
			nTypes++
			cty, ok := ct.Type(ty.Value)
			if !ok {
				t.Errorf("%s %s: no entry in the registry", tp.Name, ty.Value)
				continue
			}
			if len(ty.Examples) == 0 {
				t.Errorf("%s %s: no example to round-trip", tp.Name, ty.Value)
			}
			if cty.Route != ty.Route || cty.Newer != ty.Newer() {
				t.Errorf("%s %s: registry route/newer differ from the catalog", tp.Name, ty.Value)
			}
			for _, ex := range ty.Examples {
				nExamples++
				v := roundTrip(t, c, tp, ex)
				if v == nil {
					continue
				}
				checkTypedBody(t, tp, ty, cty, v, ex.Era)
				nShapeBy += checkShapeBy(t, c, v)
			}
		}
		for _, sa := range tp.StepActions {
			nSteps++
			for _, ex := range sa.Examples {
				nExamples++
				checkStepExample(t, c, tp, sa, ex)
			}
		}
	}
	for name := range CatalogTopics {
		if c.Topic(name) == nil {
			t.Errorf("registry topic %s is not in the catalog", name)
		}
	}
	if nTopics == 0 || nTypes == 0 || nExamples == 0 {
		t.Fatal("the catalog yielded nothing to test")
	}
	summary := fmt.Sprintf("catalog golden: %d topics, %d types, %d step actions, %d shapes, %d examples round-tripped byte for byte, %d shape_by/step payloads checked",
		nTopics, nTypes, nSteps, len(c.Shapes), nExamples, nShapeBy)
	t.Log(summary)
	fmt.Println(summary)
}

// roundTrip decodes an example with the topic's registry decoder, checks the Go type, and
// re-encodes it three ways (codec with a pointer, codec with a value, json.Marshal), each of
// which must give the example's bytes.
func roundTrip(t *testing.T, c *catalog.Catalog, tp *catalog.Topic, ex catalog.Example) any {
	t.Helper()
	ct := CatalogTopics[tp.Name]
	where := fmt.Sprintf("%s (%s) example %s", tp.Name, ex.File, ex.JSON)
	v, err := ct.Decode([]byte(ex.JSON))
	if err != nil {
		t.Errorf("%s: decode: %v", where, err)
		return nil
	}
	rt := reflect.TypeOf(v)
	if rt.Kind() != reflect.Pointer || rt.Elem().Name() != catalog.MessageName(tp.Name) {
		t.Errorf("%s: decoded %T, want *%s", where, v, catalog.MessageName(tp.Name))
		return nil
	}
	for _, enc := range []struct {
		how string
		f   func() ([]byte, error)
	}{
		{"codec(pointer)", func() ([]byte, error) { return ct.Codec.Encode(v) }},
		{"codec(value)", func() ([]byte, error) { return ct.Codec.Encode(reflect.ValueOf(v).Elem().Interface()) }},
		{"json.Marshal", func() ([]byte, error) { return json.Marshal(v) }},
	} {
		b, err := enc.f()
		if err != nil {
			t.Errorf("%s: %s: %v", where, enc.how, err)
			continue
		}
		if !bytes.Equal(b, []byte(ex.JSON)) {
			t.Errorf("%s: %s re-encodes to\n got %s\nwant %s", tp.Name, enc.how, b, ex.JSON)
		}
	}
	return v
}

// checkTypedBody checks the discriminator field and the concrete body type against the names the
// catalog implies (message + value + "Body"), independently of the generated registry.
func checkTypedBody(t *testing.T, tp *catalog.Topic, ty *catalog.Type, cty *CatalogType, v any, era string) {
	t.Helper()
	m := reflect.ValueOf(v).Elem()
	disc := m.FieldByName(catalog.GoFieldName(tp.Discriminator))
	if !disc.IsValid() || disc.String() != ty.Value {
		t.Errorf("%s %s: discriminator field %s = %v", tp.Name, ty.Value, catalog.GoFieldName(tp.Discriminator), disc)
	}
	body := m.FieldByName("Body")
	switch ty.Body {
	case catalog.BodyNone:
		if tp.Bodyless && body.IsValid() {
			t.Errorf("%s: bodyless message has a Body field", tp.Name)
		}
		if !tp.Bodyless && !body.IsNil() {
			t.Errorf("%s %s: a type without a body decoded one: %v", tp.Name, ty.Value, body.Interface())
		}
		return
	case catalog.BodyNull:
		if !body.IsNil() || cty.Body != "" || cty.NewBody != nil {
			t.Errorf("%s %s: null body decoded as %v", tp.Name, ty.Value, body.Interface())
		}
		return
	}
	want := catalog.MessageName(tp.Name) + catalog.ValueName(ty.Value) + "Body"
	if era == catalog.EraCurrent && ty.Current != nil {
		// The current era's body of this type is another one: it decodes to its own Go type.
		want = catalog.MessageName(tp.Name) + catalog.ValueName(ty.Value) + "CurrentBody"
	}
	bt := reflect.TypeOf(body.Interface())
	if bt == nil || bt.Kind() != reflect.Pointer || bt.Elem().Name() != want {
		t.Errorf("%s %s: body is %v, want *%s", tp.Name, ty.Value, bt, want)
		return
	}
	if era == catalog.EraCurrent && ty.Current != nil {
		return // the registry's Body names the seed body, which a client may send
	}
	if cty.Body != want || reflect.TypeOf(cty.NewBody()) != bt {
		t.Errorf("%s %s: registry body %s/%T, want %s", tp.Name, ty.Value, cty.Body, cty.NewBody(), want)
	}
	// A body decoded alone (as the channel validates client-provided bodies) must equal the
	// body decoded inside its message.
	raw, err := json.Marshal(body.Interface())
	if err != nil {
		t.Fatal(err)
	}
	alone, err := cty.DecodeBody(raw)
	if err != nil || !reflect.DeepEqual(alone, body.Interface()) {
		t.Errorf("%s %s: DecodeBody(%s) = %#v, %v", tp.Name, ty.Value, raw, alone, err)
	}
}

// checkShapeBy finds every struct in v that has shape_by fields (by the catalog's shapes and
// bodies) and checks the typed accessor: the decoded shape is the case's shape and re-encodes
// to the very bytes of the raw field.
func checkShapeBy(t *testing.T, c *catalog.Catalog, v any) int {
	t.Helper()
	// accessors: Go struct name -> shape_by fields.
	accessors := map[string][]*catalog.Field{}
	for _, s := range c.Shapes {
		for _, f := range s.Fields {
			if f.ShapeBy != nil {
				accessors[s.Name] = append(accessors[s.Name], f)
			}
		}
	}
	n := 0
	walk(reflect.ValueOf(v), func(rv reflect.Value) {
		fs := accessors[rv.Type().Name()]
		if len(fs) == 0 || !rv.CanAddr() {
			return
		}
		for _, f := range fs {
			raw := rv.FieldByName(catalog.GoFieldName(f.JSON)).Interface().(json.RawMessage)
			sel := rv.FieldByName(catalog.GoFieldName(f.ShapeBy.Field)).String()
			out := rv.Addr().MethodByName(catalog.GoFieldName(f.JSON) + "Shape").Call(nil)
			if err, _ := out[1].Interface().(error); err != nil {
				t.Errorf("%s.%sShape: %v", rv.Type().Name(), catalog.GoFieldName(f.JSON), err)
				continue
			}
			got := out[0].Interface()
			if want := f.ShapeBy.Cases[sel]; reflect.TypeOf(got).Elem().Name() != want {
				t.Errorf("%s.%sShape with %s=%s gave %T, want *%s", rv.Type().Name(), f.JSON, f.ShapeBy.Field, sel, got, want)
			}
			b, err := json.Marshal(got)
			if err != nil || !bytes.Equal(b, raw) {
				t.Errorf("%s.%s: typed shape re-encodes to %s, raw is %s (%v)", rv.Type().Name(), f.JSON, b, raw, err)
			}
			n++
		}
	})
	return n
}

// walk calls fn for every struct reachable from v.
func walk(v reflect.Value, fn func(reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), fn)
		}
	case reflect.Struct:
		fn(v)
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walk(v.Field(i), fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), fn)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walk(v.MapIndex(k), fn)
		}
	}
}

// stepSlice returns the decoded steps list of a topic with step_actions.
func stepSlice(c *catalog.Catalog, tp *catalog.Topic, v any) reflect.Value {
	for _, f := range c.Flatten(tp.Fields) {
		if f.Type.Kind == catalog.List && f.Type.Elem.Kind == catalog.ShapeRef && f.Type.Elem.Name == c.StepShape(tp).Name {
			return reflect.ValueOf(v).Elem().FieldByName(catalog.GoFieldName(f.JSON))
		}
	}
	return reflect.Value{}
}

// checkStepPayloads checks that each step of a decoded saga message carries the payload type
// its action names.
func checkStepPayloads(t *testing.T, c *catalog.Catalog, tp *catalog.Topic, v any, era string) int {
	t.Helper()
	if len(tp.StepActions) == 0 || v == nil {
		return 0
	}
	steps := stepSlice(c, tp, v)
	shape := c.StepShape(tp).Name
	for i := 0; i < steps.Len(); i++ {
		s := steps.Index(i)
		action := s.FieldByName("Action").String()
		want := stepPayloadName(shape, tp, action, era)
		if pt := reflect.TypeOf(s.FieldByName("Payload").Interface()); pt == nil || pt.Elem().Name() != want {
			t.Errorf("%s step %d (%s): payload %v, want *%s", tp.Name, i, action, pt, want)
		}
	}
	return steps.Len()
}

// checkStepExample round-trips one step object of step_actions through the step shape's type.
func checkStepExample(t *testing.T, c *catalog.Catalog, tp *catalog.Topic, sa *catalog.StepAction, ex catalog.Example) {
	t.Helper()
	flat, err := CatalogTopics[tp.Name].Decode([]byte(tp.Examples[0].JSON))
	if err != nil {
		t.Fatalf("%s: %v", tp.Name, err)
	}
	elem := stepSlice(c, tp, flat).Type().Elem()
	step := reflect.New(elem)
	if err := json.Unmarshal([]byte(ex.JSON), step.Interface()); err != nil {
		t.Errorf("%s step %s: decode %s: %v", tp.Name, sa.Value, ex.JSON, err)
		return
	}
	want := stepPayloadName(elem.Name(), tp, sa.Value, ex.Era)
	if pt := reflect.TypeOf(step.Elem().FieldByName("Payload").Interface()); pt == nil || pt.Elem().Name() != want {
		t.Errorf("%s step %s: payload %v, want *%s", tp.Name, sa.Value, pt, want)
	}
	b, err := json.Marshal(step.Interface())
	if err != nil || string(b) != ex.JSON {
		t.Errorf("%s step %s: re-encodes to\n got %s\nwant %s (%v)", tp.Name, sa.Value, b, ex.JSON, err)
	}
}

// TestCatalogTruncated decodes every strict prefix of every example: none is a JSON object, so
// each must fail (and none may panic).
func TestCatalogTruncated(t *testing.T) {
	c := loadCatalog(t)
	n := 0
	forEachExample(c, func(tp *catalog.Topic, ex string) {
		dec := CatalogTopics[tp.Name].Decode
		for i := 0; i < len(ex); i++ {
			n++
			if v, err := dec([]byte(ex[:i])); err == nil {
				t.Fatalf("%s: prefix %q decoded to %+v", tp.Name, ex[:i], v)
			} else if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: prefix %q: error %v does not wrap ErrMalformed", tp.Name, ex[:i], err)
			}
		}
	})
	t.Logf("%d truncated inputs rejected", n)
}

func forEachExample(c *catalog.Catalog, fn func(*catalog.Topic, string)) {
	for _, tp := range c.Topics {
		for _, ex := range tp.Examples {
			fn(tp, ex.JSON)
		}
		for _, ty := range tp.Types {
			for _, ex := range ty.Examples {
				fn(tp, ex.JSON)
			}
		}
	}
}

// TestCatalogUnknownKeys: unknown keys anywhere are ignored, and the message re-encodes to the
// example without them.
func TestCatalogUnknownKeys(t *testing.T) {
	c := loadCatalog(t)
	forEachExample(c, func(tp *catalog.Topic, ex string) {
		in := `{"zz_unknown":[1,{"a":null}],` + ex[1:]
		in = strings.Replace(in, `"body":{`, `"body":{"zz_new":"x",`, 1)
		in = strings.Replace(in, `"body":{"zz_new":"x",}`, `"body":{"zz_new":"x"}`, 1)
		ct := CatalogTopics[tp.Name]
		v, err := ct.Decode([]byte(in))
		if err != nil {
			t.Errorf("%s: %s: %v", tp.Name, in, err)
			return
		}
		b, err := ct.Codec.Encode(v)
		if err != nil || string(b) != ex {
			t.Errorf("%s: unknown keys not dropped:\n got %s\nwant %s (%v)", tp.Name, b, ex, err)
		}
	})
}

func TestCatalogNegative(t *testing.T) {
	cases := []struct {
		name, topic, in string
		unknown         bool // want ErrUnknownType instead of ErrMalformed
	}{
		{"malformed", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f",`, false},
		{"trailing garbage", "COMMAND_TOPIC_CREATE_ACCOUNT", `{"name":"bob","password":"x"} x`, false},
		{"empty", "COMMAND_TOPIC_CREATE_ACCOUNT", ``, false},
		{"null", "COMMAND_TOPIC_CREATE_ACCOUNT", `null`, false},
		{"array", "EVENT_TOPIC_ACCOUNT_STATUS", `[]`, false},
		{"string for uint32", "EVENT_TOPIC_ACCOUNT_STATUS", `{"account_id":"7","name":"bob","status":"CREATED"}`, false},
		{"negative uint32", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":-1,"author":"LOGIN","type":"LOGOUT","body":{}}`, false},
		{"fraction for uint32", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":1.5,"author":"LOGIN","type":"LOGOUT","body":{}}`, false},
		{"uint8 300", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":300,"params":{}}}`, false},
		{"uint32 overflow", "EVENT_TOPIC_CHARACTER_STATUS", `{"transactionId":"5b0e2b8c-1c2d-4e3f-8a9b-0c1d2e3f4a5b","worldId":0,"characterId":4294967296,"type":"DELETED","body":{}}`, false},
		{"int16 overflow", "COMMAND_TOPIC_CHARACTER", `{"worldId":0,"characterId":42,"type":"CHANGE_HP","body":{"channelId":1,"amount":40000}}`, false},
		{"bad uuid", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"not-a-uuid","accountId":7,"author":"CHANNEL","type":"LOGOUT","body":{}}`, false},
		{"number for uuid", "EVENT_TOPIC_TRANSPORT_STATUS", `{"routeId":5,"type":"ARRIVED","body":{"mapId":1}}`, false},
		{"bad time", "EVENT_TOPIC_NOTE_STATUS", `{"characterId":42,"type":"CREATED","body":{"noteId":12,"senderId":43,"message":"m","flag":0,"time":"yesterday"}}`, false},
		{"unquoted as_string", "EVENT_TOPIC_ASSET_STATUS", `{"transactionId":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","characterId":42,"compartmentId":"c0ffee00-1111-4222-8333-444455556666","assetId":9003,"templateId":4000000,"slot":1,"type":"RELEASED","body":{"cashId":5}}`, false},
		{"body is a number", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","type":"LOGOUT","body":5}`, false},
		{"body is a list", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","type":"LOGOUT","body":[]}`, false},
		{"missing discriminator", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","body":{}}`, false},
		{"number discriminator", "EVENT_TOPIC_ACCOUNT_STATUS", `{"account_id":7,"name":"bob","status":1}`, false},
		{"list of wrong type", "EVENT_TOPIC_CHARACTER_CHAT", `{"worldId":0,"channelId":1,"mapId":1,"actorId":42,"message":"m","type":"BUDDY","body":{"recipients":["a"]}}`, false},
		{"null step", "COMMAND_TOPIC_SAGA", `{"transactionId":"9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b","sagaType":"inventory_transaction","initiatedBy":"STORAGE","steps":[null]}`, false},
		{"alt type of neither", "EVENT_TOPIC_ACCOUNT_SESSION_STATUS", `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":7,"type":"ERROR","body":{"code":"X","reason":0,"until":true}}`, false},
		{"unknown type", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","type":"FLY","body":{}}`, true},
		{"empty type", "EVENT_TOPIC_MAP_STATUS", `{"transactionId":"0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f","worldId":0,"channelId":1,"mapId":1,"type":"","body":{}}`, true},
		{"unknown bodyless status", "EVENT_TOPIC_ACCOUNT_STATUS", `{"account_id":7,"name":"bob","status":"BANNED"}`, true},
		{"unknown step action", "COMMAND_TOPIC_SAGA", `{"transactionId":"9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b","sagaType":"inventory_transaction","initiatedBy":"STORAGE","steps":[{"stepId":"x","status":"pending","action":"warp_to_portal","payload":{},"createdAt":"2026-01-15T12:00:00Z","updatedAt":"2026-01-15T12:00:00Z"}]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := CatalogTopics[tc.topic]
			v, err := ct.Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("decoded %+v", v)
			}
			if v != nil {
				t.Errorf("error with a non-nil value %#v", v)
			}
			if got := errors.Is(err, ErrUnknownType); got != tc.unknown {
				t.Errorf("errors.Is(%v, ErrUnknownType) = %v", err, got)
			}
			if got := errors.Is(err, ErrMalformed); got == tc.unknown {
				t.Errorf("errors.Is(%v, ErrMalformed) = %v", err, got)
			}
		})
	}
}

func TestCatalogNewerFieldsAccepted(t *testing.T) {
	in := `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":0,"author":"LOGIN","type":"CREATE","body":{"accountName":"bob","password":"secret","ipAddress":"10.0.0.7","hwid":"ab12"}}`
	m, err := DecodeAccountSessionCommand([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	body := m.Body.(*AccountSessionCommandCreateBody)
	if body.Hwid == nil || *body.Hwid != "ab12" {
		t.Fatalf("hwid = %v", body.Hwid)
	}
	if b, _ := m.Encode(); string(b) != in {
		t.Errorf("a decoded newer field is kept: got %s", b)
	}
	// The project's producers leave it nil, so it is not written.
	body.Hwid = nil
	if b, _ := m.Encode(); strings.Contains(string(b), "hwid") {
		t.Errorf("nil optional field written: %s", b)
	}

	// alt_type: newer account services write `until` as a time.
	in = `{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":7,"type":"ERROR","body":{"code":"DELETED_OR_BLOCKED","reason":2,"until":"2026-02-01T00:00:00Z"}}`
	ev, err := DecodeAccountSessionStatusEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	until := ev.Body.(*AccountSessionStatusEventErrorBody).Until
	if !until.IsTime || until.Time.Year() != 2026 {
		t.Fatalf("until = %+v", until)
	}
	if b, _ := ev.Encode(); string(b) != in {
		t.Errorf("alt-typed value not written back as it came: %s", b)
	}
	// This project writes Unix milliseconds.
	ev.Body = &AccountSessionStatusEventErrorBody{Code: "DELETED_OR_BLOCKED", Reason: 2, Until: Uint64OrTime{Uint64: 1769904000000}}
	if b, _ := ev.Encode(); !strings.Contains(string(b), `"until":1769904000000}`) {
		t.Errorf("until written as %s", b)
	}

	// alt_type the other way round: newer cash shops write assetId as a uint32.
	in = `{"characterId":42,"type":"PURCHASE","body":{"templateId":5000017,"price":4200,"compartmentId":"c0ffee00-1111-4222-8333-444455556666","assetId":9001,"itemId":31}}`
	cs, err := DecodeCashShopStatusEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if a := cs.Body.(*CashShopStatusEventPurchaseBody).AssetID; !a.IsUint32 || a.Uint32 != 9001 {
		t.Fatalf("assetId = %+v", a)
	}
}

func TestCatalogEncodeChecks(t *testing.T) {
	codec := AccountSessionCommandCodec{}
	for _, v := range []any{nil, "x", (*AccountSessionCommand)(nil), &AccountSessionStatusEvent{}} {
		if _, err := codec.Encode(v); err == nil {
			t.Errorf("Encode(%#v) did not fail", v)
		}
	}
	m := AccountSessionCommand{AccountID: 7, Author: "CHANNEL", Type: AccountSessionCommandTypeLogout}
	b, err := codec.Encode(m)
	if err != nil || !strings.HasSuffix(string(b), `"type":"LOGOUT","body":{}}`) {
		t.Errorf("nil body of an empty-body type: %s, %v", b, err)
	}
	m.Body = &AccountSessionCommandCreateBody{}
	if _, err := codec.Encode(m); err == nil {
		t.Error("body of another type accepted")
	}
	m.Type = "FLY"
	if _, err := codec.Encode(&m); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
	ev := AccountSessionStatusEvent{Type: AccountSessionStatusEventTypeRequestLicenseAgreement, Body: &AccountSessionStatusEventCreatedBody{}}
	if _, err := ev.Encode(); err == nil {
		t.Error("non-nil body of a null-body type accepted")
	}
	ev.Body = nil
	if b, _ := ev.Encode(); !strings.HasSuffix(string(b), `"body":null}`) {
		t.Errorf("null body: %s", b)
	}

	// requires: CHARACTER_ENTER always writes worldId, even when the producer left it nil.
	cs := CashShopStatusEvent{Type: CashShopStatusEventTypeCharacterEnter, Body: &CashShopStatusEventCharacterEnterBody{CharacterID: 42}}
	if b, _ := cs.Encode(); !strings.HasPrefix(string(b), `{"worldId":0,"characterId":0,`) {
		t.Errorf("required optional field not written: %s", b)
	}
	cs = CashShopStatusEvent{CharacterID: 42, Type: CashShopStatusEventTypeError, Body: &CashShopStatusEventErrorBody{Error: "NOT_ENOUGH_CASH"}}
	if b, _ := cs.Encode(); string(b) != `{"characterId":42,"type":"ERROR","body":{"error":"NOT_ENOUGH_CASH"}}` {
		t.Errorf("optional envelope field written: %s", b)
	}

	// Bodyless: a type writes only its own fields.
	st := ChannelStatusCommand{WorldID: 1, Port: 7575, Type: ChannelStatusCommandTypeStatusRequest}
	if b, _ := st.Encode(); string(b) != `{"type":"STATUS_REQUEST"}` {
		t.Errorf("STATUS_REQUEST: %s", b)
	}
	d, err := DecodeChannelStatusCommand([]byte(`{"worldId":3,"type":"STATUS_REQUEST"}`))
	if err != nil || d.WorldID != 0 {
		t.Errorf("a key of another type was kept: %+v, %v", d, err)
	}

	// Saga steps: the payload must match the action.
	step := SagaStep{Action: SagaStepActionAwardMesos, Payload: &SagaStepDestroyAssetPayload{}}
	if _, err := json.Marshal(step); err == nil {
		t.Error("step payload of another action accepted")
	}
}

func TestCatalogShapeBy(t *testing.T) {
	var b AssetReferenceBody
	if v, err := b.ReferenceDataShape(); v != nil || err != nil {
		t.Errorf("absent referenceData: %v, %v", v, err)
	}
	b.ReferenceType = "consumable"
	if err := b.SetReferenceDataShape(AssetRefConsumable{Quantity: 5}); err != nil {
		t.Fatal(err)
	}
	v, err := b.ReferenceDataShape()
	if err != nil || v.(*AssetRefConsumable).Quantity != 5 {
		t.Errorf("typed referenceData: %v, %v", v, err)
	}
	if err := b.SetReferenceDataShape(&AssetRefPet{}); err == nil {
		t.Error("a pet shape accepted for consumable")
	}
	b.ReferenceType = "furniture"
	if _, err := b.ReferenceDataShape(); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown referenceType: %v", err)
	}
	b.ReferenceType = "pet"
	b.ReferenceData = json.RawMessage(`{"slot":500}`)
	if _, err := b.ReferenceDataShape(); !errors.Is(err, ErrMalformed) {
		t.Errorf("out of range in referenceData: %v", err)
	}
}

// TestCatalogRegistry checks the registry's derived data against the catalog: topic lists, keys.
func TestCatalogRegistry(t *testing.T) {
	c := loadCatalog(t)
	var consumed []string
	for _, ct := range CatalogTopicList() {
		if ct.ConsumedBy("channel") && ct.InEra(EraSeed) {
			for _, u := range ct.Uses {
				if u.File == "channel-events.yaml" && u.Service == "channel" {
					consumed = append(consumed, ct.Name)
				}
			}
		}
	}
	if len(consumed) != 20 {
		t.Errorf("channel consumes %d catalog topics, want 20: %v", len(consumed), consumed)
	}
	if !sort.StringsAreSorted(catalogTopicOrder) || len(catalogTopicOrder) != len(c.Topics) {
		t.Error("catalogTopicOrder is not the sorted topic list")
	}
	chair := CatalogTopics["EVENT_TOPIC_CHAIR_STATUS"]
	if ty, _ := chair.Type("USED"); ty.KeyField != "body.characterId" || ty.Route != "field_others" {
		t.Errorf("chair USED: %+v", ty)
	}
	cash := CatalogTopics["EVENT_TOPIC_CASH_SHOP_STATUS"]
	if ty, _ := cash.Type("CHARACTER_ENTER"); ty.KeyField != "body.characterId" {
		t.Errorf("per-type key override lost: %+v", ty)
	}
	if ty, _ := cash.Type("PURCHASE"); ty.KeyField != "characterId" {
		t.Errorf("topic key: %+v", ty)
	}
	if ct := CatalogTopics["EVENT_TOPIC_TRANSPORT_STATUS"]; ct.KeyField != "" {
		t.Errorf("a described key became a field: %q", ct.KeyField)
	}
	if ct := CatalogTopics["EVENT_TOPIC_ACCOUNT_STATUS"]; !ct.ConsumedBy("channel") || !ct.ProducedBy("account") || ct.KeyField != "account_id" {
		t.Errorf("account status uses: %+v", ct)
	}
}

// stepPayloadName is the Go type a step's payload decodes to: the action's payload, or its
// current-era variant for a current example of an action whose payload changed.
func stepPayloadName(shape string, tp *catalog.Topic, action, era string) string {
	for _, sa := range tp.StepActions {
		if sa.Value == action && era == catalog.EraCurrent && sa.CurrentPayload != nil {
			return shape + catalog.ValueName(action) + "CurrentPayload"
		}
	}
	return shape + catalog.ValueName(action) + "Payload"
}
