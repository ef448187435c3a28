package codegen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
)

func parse(t *testing.T, y string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]string{"x.yaml"}, map[string][]byte{"x.yaml": []byte(y)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeterministic(t *testing.T) {
	c, err := catalog.Load("../../../contracts")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		b, err := Generate(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Codecs, b.Codecs) || !bytes.Equal(a.Topics, b.Topics) {
			t.Fatal("two runs over the same catalog differ")
		}
	}
}

func TestNameClashesFail(t *testing.T) {
	for name, y := range map[string]string{
		"reserved prefix": `
topics:
  - {name: EVENT_TOPIC_X, direction: consumed, key: a, discriminator: null, fields: [{json: a, type: TenantInfo}], example: '{"a":{}}'}
shapes:
  TenantInfo: [{json: id, type: uuid}]
`,
		"runtime name": `
topics:
  - {name: EVENT_TOPIC_X, direction: consumed, key: a, discriminator: null, fields: [{json: a, type: CatalogTopic}], example: '{"a":{}}'}
shapes:
  CatalogTopic: [{json: id, type: uuid}]
`,
		"key not a field": `
topics:
  - {name: EVENT_TOPIC_X, direction: consumed, key: nope, discriminator: null, fields: [{json: a, type: uint8}], example: '{"a":1}'}
`,
	} {
		_, err := Generate(parse(t, y))
		if err == nil {
			t.Errorf("%s: generated without error", name)
		}
	}
}

func TestSmallCatalog(t *testing.T) {
	out, err := Generate(parse(t, `
topics:
  - name: COMMAND_TOPIC_THING
    direction: produced
    service: channel
    key: body.id
    discriminator: kind
    envelope: [{json: worldId, type: uint8, optional: true}]
    types:
      - {value: MAKE_IT, requires: [worldId], body: [{json: id, type: uint32}], example: '{"worldId":0,"kind":"MAKE_IT","body":{"id":1}}'}
      - {value: NOTHING, body: null, key: worldId, example: '{"kind":"NOTHING","body":null}'}
`))
	if err != nil {
		t.Fatal(err)
	}
	// gofmt aligns struct fields and literal values; compare with runs of blanks collapsed.
	src := strings.Join(strings.Fields(string(out.Codecs)), " ")
	for _, want := range []string{
		"type ThingCommand struct",
		"ThingCommandKindMakeIt = \"MAKE_IT\"",
		"type ThingCommandMakeItBody struct",
		"WorldID *uint8 `json:\"worldId,omitempty\"`",
		"Kind string `json:\"kind\"`",
		"func DecodeThingCommand(b []byte) (*ThingCommand, error)",
		"type ThingCommandCodec struct{}",
		`KeyField: "body.id"`,
		`Value: "NOTHING", Key: "worldId", KeyField: "worldId",`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if strings.Contains(src, "ThingCommandNothingBody") {
		t.Error("a null body got a body type")
	}
	if !strings.Contains(string(out.Topics), `CommandTopicThing = TopicFromEnv("COMMAND_TOPIC_THING")`) {
		t.Error("topic variable missing")
	}
}
