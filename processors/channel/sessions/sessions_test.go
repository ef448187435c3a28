package sessions_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Partition goroutines and connections use the registry at once; run with -race. Whatever
// the interleaving, the indexes agree with the sessions at the end.
func TestRegistryUnderConcurrentUse(t *testing.T) {
	reg := sessions.NewRegistry()
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				char := uint32(w*rounds + i + 1)
				s := sessions.Session{ID: uuid.New(), AccountID: char, CharacterID: char,
					Field: sessions.Field{Channel: 1, Map: uint32(i % 3)}, Conn: &channeltest.Conn{}}
				require.NoError(t, reg.Add(s, 0))
				reg.Transition(s.ID, char, sessions.Pending, sessions.Active)
				reg.EnterField(char, sessions.Field{Channel: 1, Map: 7})
				reg.Read(func(snap sessions.Snapshot) { _ = snap.Field(1, 7, uuid.Nil) })
				if i%2 == 0 {
					reg.LeaveField(char, sessions.Field{Channel: 1, Map: 7})
					_, ok := reg.Remove(s.ID)
					require.True(t, ok)
				}
			}
		}(w)
	}
	wg.Wait()
	left := workers * rounds / 2
	require.Equal(t, uint32(left), reg.Count(1))
	require.Len(t, reg.List(), left)
	reg.Read(func(snap sessions.Snapshot) {
		require.Len(t, snap.Field(1, 7, uuid.Nil), left)
		require.Len(t, snap.All(), left)
	})
}

func TestAddRefusals(t *testing.T) {
	reg := sessions.NewRegistry()
	a := sessions.Session{ID: uuid.New(), AccountID: 1, CharacterID: 42, Field: sessions.Field{Channel: 1}, Conn: &channeltest.Conn{}}
	require.NoError(t, reg.Add(a, 2))
	b := a
	b.CharacterID = 43
	require.ErrorIs(t, reg.Add(b, 2), sessions.ErrSessionHeld)
	b.ID = uuid.New()
	b.CharacterID = 42
	require.ErrorIs(t, reg.Add(b, 2), sessions.ErrCharacterHeld)
	b.CharacterID = 43
	require.NoError(t, reg.Add(b, 2))
	b.ID, b.CharacterID = uuid.New(), 44
	require.ErrorIs(t, reg.Add(b, 2), sessions.ErrFull)
	b.Field.Channel = 2
	require.NoError(t, reg.Add(b, 2), "capacity is per channel")
}

// A character moving between two channels of one instance enters the new one before its old
// connection is gone.
func TestMoveWithinTheInstance(t *testing.T) {
	reg := sessions.NewRegistry()
	old := sessions.Session{ID: uuid.New(), AccountID: 7, CharacterID: 42, Field: sessions.Field{Channel: 1, Map: 5}, Conn: &channeltest.Conn{}}
	require.NoError(t, reg.Add(old, 0))
	reg.Transition(old.ID, 42, sessions.Pending, sessions.Active)
	next := sessions.Session{ID: uuid.New(), AccountID: 7, CharacterID: 42, Field: sessions.Field{Channel: 2}, Conn: &channeltest.Conn{}}
	require.ErrorIs(t, reg.Add(next, 0), sessions.ErrCharacterHeld, "not while the old session is active")
	_, ok := reg.Transition(old.ID, 0, sessions.Active, sessions.Moving)
	require.True(t, ok)
	require.NoError(t, reg.Add(next, 0))
	reg.Transition(next.ID, 42, sessions.Pending, sessions.Active)
	_, ok = reg.Remove(old.ID)
	require.True(t, ok)
	reg.Read(func(snap sessions.Snapshot) {
		s, ok := snap.Character(42)
		require.True(t, ok, "the old session's end leaves the new one")
		require.Equal(t, next.ID, s.ID)
	})
}

// Each step of a session's life produces its messages once, however often it is asked.
func TestLifecycleIsIdempotent(t *testing.T) {
	reg := sessions.NewRegistry()
	emit := &channeltest.Emitter{}
	m := sessions.NewManager(reg, emit)
	conn := &channeltest.Conn{}
	sid := uuid.New()
	require.NoError(t, m.Enter(sessions.Session{ID: sid, AccountID: 7, CharacterID: 42, Field: sessions.Field{Channel: 1}, Conn: conn}, 0, codecs.NewTrace()))
	require.True(t, m.Complete(sid, 42, codecs.NewTrace()))
	require.False(t, m.Complete(sid, 42, codecs.NewTrace()))
	require.True(t, m.Move(sid, "10.0.0.5", 7576))
	require.False(t, m.Move(sid, "10.0.0.5", 7576))
	require.True(t, m.Close(sid, "bye", codecs.NewTrace()))
	require.False(t, m.Close(sid, "bye again", codecs.NewTrace()))
	require.Equal(t, []string{
		"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE", "EVENT_TOPIC_SESSION_STATUS CREATED",
		"COMMAND_TOPIC_ACCOUNT_SESSION LOGOUT", "EVENT_TOPIC_SESSION_STATUS DESTROYED",
	}, channeltest.Summary(emit.Take()))
	require.Equal(t, "bye", conn.Closed())
	var ops []string
	for _, f := range conn.Take() {
		ops = append(ops, f.Op)
	}
	require.Equal(t, []string{"entered", "move"}, ops)
}

// An entry the account service could not be asked about leaves nothing behind.
func TestEnterUndoneWhenTheCommandCannotBeProduced(t *testing.T) {
	reg := sessions.NewRegistry()
	m := sessions.NewManager(reg, failing{})
	err := m.Enter(sessions.Session{ID: uuid.New(), AccountID: 7, CharacterID: 42, Conn: &channeltest.Conn{}}, 0, codecs.NewTrace())
	require.Error(t, err)
	require.Empty(t, reg.List())
}

type failing struct{}

func (failing) Send(any, codecs.Trace) error { return errors.New("broker down") }

// In the current contracts a change to a known channel is announced to the maps service
// before the account service is asked to move the session; in the seed ones it is not.
func TestChannelChangeRequestInTheCurrentEra(t *testing.T) {
	for _, era := range []string{codecs.EraSeed, codecs.EraCurrent} {
		emit := &channeltest.Emitter{Era: era}
		m := sessions.NewManager(sessions.NewRegistry(), emit)
		m.Era = era
		sid := uuid.New()
		require.NoError(t, m.Enter(sessions.Session{ID: sid, AccountID: 7, CharacterID: 42, Field: sessions.Field{World: 0, Channel: 1}, Conn: &channeltest.Conn{}}, 0, codecs.NewTrace()))
		require.True(t, m.Complete(sid, 42, codecs.NewTrace()))
		emit.Take()
		target := uint8(2)
		require.NoError(t, m.RequestChannelChange(sid, "10.0.0.5", 7576, &target, codecs.NewTrace()))
		recs := emit.Take()
		want := []string{"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE"}
		if era == codecs.EraCurrent {
			want = append([]string{"COMMAND_TOPIC_CHARACTER_CHANNEL_CHANGE_REQUEST "}, want...)
			req, err := codecs.DecodeCharacterChannelChangeRequestCommand(recs[0].Value)
			require.NoError(t, err)
			require.Equal(t, uint32(42), req.CharacterID)
			require.Equal(t, uint8(1), req.OldChannelID)
			require.Equal(t, uint8(2), req.TargetChannelID)
			require.NotEqual(t, uuid.Nil, req.TransactionID)
			require.Equal(t, codecs.IDKey(42), recs[0].Key)
		}
		require.Equal(t, want, channeltest.Summary(recs), era)
	}
}
