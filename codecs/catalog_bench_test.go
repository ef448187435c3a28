package codecs

import (
	"bytes"
	"testing"
)

// Benchmarks of the generated codecs against a pass-through (copying the bytes), for a small
// command, an event with a large shape body, and a flat saga with typed step payloads.
var benchInputs = []struct{ name, topic, in string }{
	{"AccountSession", "COMMAND_TOPIC_ACCOUNT_SESSION", `{"sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":1,"params":{"characterId":12}}}`},
	{"AssetUpdated", "EVENT_TOPIC_ASSET_STATUS", `{"transactionId":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","characterId":42,"compartmentId":"c0ffee00-1111-4222-8333-444455556666","assetId":9002,"templateId":1302000,"slot":-11,"type":"UPDATED","body":{"referenceId":78,"referenceType":"equipable","referenceData":{"ownerId":0,"strength":0,"dexterity":0,"intelligence":0,"luck":0,"hp":0,"mp":0,"weaponAttack":17,"magicAttack":0,"weaponDefense":0,"magicDefense":0,"accuracy":0,"avoidability":0,"hands":0,"speed":0,"jump":0,"slots":7,"locked":false,"spikes":false,"karmaUsed":false,"cold":false,"canBeTraded":true,"levelType":0,"level":0,"experience":0,"hammersApplied":0,"expiration":"0001-01-01T00:00:00Z"},"expiration":"0001-01-01T00:00:00Z"}}`},
	{"Saga", "COMMAND_TOPIC_SAGA", `{"transactionId":"9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b","sagaType":"inventory_transaction","initiatedBy":"STORAGE","steps":[{"stepId":"deduct_character_mesos","status":"pending","action":"award_mesos","payload":{"characterId":42,"worldId":0,"channelId":1,"actorId":42,"actorType":"STORAGE","amount":-10000},"createdAt":"2026-01-15T12:00:00Z","updatedAt":"2026-01-15T12:00:00Z"},{"stepId":"add_storage_mesos","status":"pending","action":"update_storage_mesos","payload":{"characterId":42,"accountId":7,"worldId":0,"operation":"ADD","mesos":10000},"createdAt":"2026-01-15T12:00:00Z","updatedAt":"2026-01-15T12:00:00Z"}]}`},
}

func BenchmarkCatalogPassThrough(b *testing.B) {
	for _, bi := range benchInputs {
		in := []byte(bi.in)
		b.Run(bi.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				_ = bytes.Clone(in)
			}
		})
	}
}

func BenchmarkCatalogDecode(b *testing.B) {
	for _, bi := range benchInputs {
		in, ct := []byte(bi.in), CatalogTopics[bi.topic]
		b.Run(bi.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ct.Decode(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCatalogEncode(b *testing.B) {
	for _, bi := range benchInputs {
		ct := CatalogTopics[bi.topic]
		v, err := ct.Decode([]byte(bi.in))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bi.name, func(b *testing.B) {
			b.SetBytes(int64(len(bi.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ct.Codec.Encode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
