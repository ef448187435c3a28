package catalog

import (
	"strings"
	"testing"
)

func TestLoadRealCatalog(t *testing.T) {
	c, err := Load("../../../contracts")
	if err != nil {
		t.Fatal(err)
	}
	var types, examples int
	for _, tp := range c.Topics {
		examples += len(tp.Examples)
		for _, ty := range tp.Types {
			types++
			examples += len(ty.Examples)
		}
		for _, sa := range tp.StepActions {
			examples += len(sa.Examples)
		}
	}
	t.Logf("%d topics, %d types, %d shapes, %d examples", len(c.Topics), types, len(c.Shapes), examples)
	for i := 1; i < len(c.Topics); i++ {
		if c.Topics[i-1].Name >= c.Topics[i].Name {
			t.Errorf("topics not sorted and distinct at %s", c.Topics[i].Name)
		}
	}
	as := c.Topic("COMMAND_TOPIC_ACCOUNT_SESSION")
	if as == nil || len(as.Types) != 3 || len(as.Uses) != 2 {
		t.Fatalf("COMMAND_TOPIC_ACCOUNT_SESSION not merged: %+v", as)
	}
	if n := len(as.Type("PROGRESS_STATE").Examples); n != 2 {
		t.Errorf("PROGRESS_STATE examples = %d, want 2 (one per file)", n)
	}
	st := c.Topic("EVENT_TOPIC_ACCOUNT_STATUS")
	if len(st.Uses) != 2 || st.DefinedIn != "account.yaml" {
		t.Errorf("EVENT_TOPIC_ACCOUNT_STATUS uses: %+v", st.Uses)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"accountId": "AccountID", "account_id": "AccountID", "ipAddress": "IPAddress", "skilId": "SkilID",
		"hwid": "Hwid", "skillId1": "SkillID1", "reflectLtX": "ReflectLtX", "x": "X", "attr1": "Attr1",
	} {
		if got := GoFieldName(in); got != want {
			t.Errorf("GoFieldName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MessageName("COMMAND_TOPIC_CREATE_ACCOUNT"); got != "CreateAccountCommand" {
		t.Error(got)
	}
	if got := MessageName("EVENT_TOPIC_ACCOUNT_SESSION_STATUS"); got != "AccountSessionStatusEvent" {
		t.Error(got)
	}
	if got := TopicVarName("EVENT_TOPIC_ACCOUNT_SESSION_STATUS"); got != "EventTopicAccountSessionStatus" {
		t.Error(got)
	}
	if got := ValueName("LOGGED_IN"); got != "LoggedIn" {
		t.Error(got)
	}
}

func TestStrictness(t *testing.T) {
	bad := map[string]string{
		"unknown key":   "topics:\n  - name: T\n    direction: consumed\n    discriminator: null\n    fields: [{json: a, type: uint8}]\n    example: '{\"a\":1}'\n    colour: red\n",
		"unknown shape": "topics:\n  - name: T\n    direction: consumed\n    discriminator: null\n    fields: [{json: a, type: Nope}]\n    example: '{\"a\":1}'\n",
		"dup key":       "topics:\n  - name: T\n    direction: consumed\n    discriminator: null\n    fields: [{json: a, type: uint8}, {json: A, type: uint8}]\n    example: '{\"a\":1}'\n",
		"bad type":      "topics:\n  - name: T\n    direction: consumed\n    discriminator: null\n    fields: [{json: a, type: 'map[int]x'}]\n    example: '{\"a\":1}'\n",
	}
	for name, y := range bad {
		_, err := Parse([]string{"x.yaml"}, map[string][]byte{"x.yaml": []byte(y)})
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "x.yaml") && !strings.Contains(err.Error(), "topic T") {
			t.Errorf("%s: error does not say where: %v", name, err)
		}
	}
}
