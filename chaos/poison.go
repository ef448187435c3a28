package chaos

import (
	"strings"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// poisonCase is a message no consumer may accept.
type poisonCase struct {
	name    string
	topic   goka.Stream
	value   string
	headers func(h map[string][]byte)
}

func poisonCases() []poisonCase {
	sess := func(body string) string {
		return `{"sessionId":"` + uuid.NewString() + `","accountId":0,"author":"LOGIN","type":"CREATE","body":` + body + `}`
	}
	return []poisonCase{
		{name: "malformed JSON", topic: atlas.CommandTopicCreateAccount, value: `{"name":"x","password":`},
		{name: "wrong field types", topic: atlas.CommandTopicCreateAccount, value: `{"name":["x"],"password":7}`},
		{name: "unknown type", topic: atlas.CommandTopicAccountSession, value: `{"sessionId":"` + uuid.NewString() + `","accountId":1,"author":"LOGIN","type":"TELEPORT","body":{}}`},
		{name: "missing tenant", topic: atlas.CommandTopicCreateAccount, value: `{"name":"x","password":"y"}`,
			headers: func(h map[string][]byte) { delete(h, codecs.HeaderTenantID) }},
		{name: "malformed tenant", topic: atlas.CommandTopicCreateAccount, value: `{"name":"x","password":"y"}`,
			headers: func(h map[string][]byte) {
				h[codecs.HeaderMajorVersion] = []byte("83")
				h[codecs.HeaderTenantID] = h[codecs.HeaderTenantID][:35]
			}},
		{name: "oversized", topic: atlas.CommandTopicCreateAccount, value: `{"name":"` + strings.Repeat("n", 300_000) + `","password":"y"}`},
		{name: "bad uuid", topic: atlas.CommandTopicAccountSession, value: `{"sessionId":"not-a-uuid","accountId":1,"author":"CHANNEL","type":"LOGOUT","body":{}}`},
		{name: "73-byte password", topic: atlas.CommandTopicAccountSession, value: sess(`{"accountName":"x","password":"` + strings.Repeat("p", 73) + `","ipAddress":"1.2.3.4"}`)},
		{name: "empty name", topic: atlas.CommandTopicCreateAccount, value: `{"name":"","password":"y"}`},
		{name: "bad operator command", topic: atlas.AccountAdminTopic, value: `{"type":"BAN","accountId":1,"body":{"reason":"x"}}`},
	}
}

// poison sends every poison case twice, spread over the load, each with a trace of its own
// so its dead-letter record can be found. It returns how many it sent.
func (r *run) poison() (int, error) {
	n := 0
	cases := poisonCases()
	for round := 0; round < 2; round++ {
		for i, pc := range cases {
			r.at(0.1 + 0.8*float64(round*len(cases)+i)/float64(2*len(cases)))
			tenant := r.tenants[0]
			h := map[string][]byte(tenant.Headers())
			if pc.headers != nil {
				pc.headers(h)
			}
			tr := codecs.NewTrace()
			rec := &kgo.Record{Topic: string(pc.topic), Key: []byte(codecs.IDKey(0)), Value: []byte(pc.value)}
			for k, v := range h {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
			}
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: codecs.HeaderTraceParent, Value: []byte(tr.ParentString())})
			if err := r.d.produce(rec); err != nil {
				return n, err
			}
			r.d.mu.Lock()
			r.poisons[tr.TraceIDString()] = pc.name
			r.d.mu.Unlock()
			n++
		}
	}
	return n, nil
}
