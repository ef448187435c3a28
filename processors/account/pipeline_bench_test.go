package account_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// BenchmarkChannelChange is the CPU the stages spend on one session command of the bench's
// burst (atlas bench, figure 1) without a broker: a channel change of a logged-in player, then
// the CHANNEL login of its other session, in turn over 200 players. It runs in Goka's tester,
// whose own cost is in the figure too, so compare runs of it with each other only.
func BenchmarkChannelChange(b *testing.B) {
	h := accounttest.New(b)
	h.SkipTicks()
	type player struct {
		id   uint32
		wire [2][]byte // to state 2 (session cur), to state 1 (the other session)
		cur  int
		sids [2]uuid.UUID
	}
	command := func(id uint32, sid uuid.UUID, state uint8, params string) []byte {
		v, err := json.Marshal(&codecs.AccountSessionCommand{SessionID: sid, AccountID: id, Author: model.IssuerChannel,
			Type: codecs.AccountSessionCommandTypeProgressState,
			Body: &codecs.AccountSessionCommandProgressStateBody{State: state, Params: json.RawMessage(params)}})
		require.NoError(b, err)
		return v
	}
	const players = 200
	ps := make([]*player, players)
	for i := range ps {
		name := fmt.Sprintf("p%04d", i)
		h.Create(name, "pw")
		p := &player{id: uint32(i + 1), sids: [2]uuid.UUID{uuid.New(), uuid.New()}}
		h.Login(p.sids[0], name, "pw")
		h.Progress(p.sids[0], p.id, model.IssuerLogin, 2, `{"ipAddress":"127.0.0.1","port":7576}`)
		h.Progress(p.sids[1], p.id, model.IssuerChannel, 1, `{"characterId":1}`)
		ps[i] = p
	}
	if n := len(h.Events()); n != players*6 {
		b.Fatalf("setup: %d events, want %d (per player created, license, logged in twice, two changes)", n, players*6)
	}
	for _, p := range ps {
		require.EqualValues(b, 1, h.State(p.id))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := ps[(i/2)%players]
		if i%2 == 0 {
			h.Produce(atlas.CommandTopicAccountSession, codecs.IDKey(p.id), command(p.id, p.sids[1], 2, `{"ipAddress":"127.0.0.1","port":7576}`), nil)
		} else {
			h.Produce(atlas.CommandTopicAccountSession, codecs.IDKey(p.id), command(p.id, p.sids[0], 1, `{"characterId":1}`), nil)
			p.sids[0], p.sids[1] = p.sids[1], p.sids[0]
		}
		if i%1000 == 999 {
			b.StopTimer()
			for _, e := range h.Events() {
				if e.Session != nil && e.Session.Type == codecs.AccountSessionStatusEventTypeError {
					b.Fatalf("an ERROR event: %s", e.Raw)
				}
			}
			b.StartTimer()
		}
	}
}
