package codecs

import (
	"fmt"
	"testing"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

type ownedAccount = OwnedProto[accountpb.Account, *accountpb.Account]

// The value written last comes back itself, once; then and for other bytes Decode unmarshals.
func TestOwnedProtoHandsBackTheWrittenValueOnce(t *testing.T) {
	c := new(ownedAccount)
	acc := &accountpb.Account{Id: 7, Name: "bob", Sessions: []*accountpb.Session{{Issuer: "CHANNEL", State: 1}}}
	data, err := c.Encode(acc)
	require.NoError(t, err)

	got, err := c.Decode(data)
	require.NoError(t, err)
	require.Same(t, acc, got, "the written value itself")

	again, err := c.Decode(data)
	require.NoError(t, err)
	require.NotSame(t, acc, again, "handed out once: the caller owns it")
	require.True(t, proto.Equal(acc, again.(*accountpb.Account)))

	other, _ := proto.Marshal(&accountpb.Account{Id: 8})
	o, err := c.Decode(other)
	require.NoError(t, err)
	require.EqualValues(t, 8, o.(*accountpb.Account).GetId())

	_, err = c.Decode([]byte{0xff})
	require.Error(t, err)
	_, err = c.Encode("not an account")
	require.Error(t, err)
}

// It remembers a bounded number of values, the newest; a value written twice is kept by its
// newer write when the older one ages out.
func TestOwnedProtoIsBounded(t *testing.T) {
	c := new(ownedAccount)
	row := func(i int) *accountpb.Account { return &accountpb.Account{Id: uint32(i), Name: fmt.Sprint("p", i)} }
	first, _ := c.Encode(row(0))
	for i := 1; i < ownedProtoKeep-1; i++ {
		_, _ = c.Encode(row(i))
	}
	rewritten := row(0)
	_, _ = c.Encode(rewritten) // the same bytes again: the ring is full, with row 0 in it twice
	require.Equal(t, ownedProtoKeep-1, len(c.byHash), "one entry per distinct bytes")
	for i := 0; i < 10; i++ { // ages out the first write of row 0, and rows 1 to 9
		_, _ = c.Encode(row(ownedProtoKeep + i))
	}
	require.Equal(t, ownedProtoKeep, len(c.byHash), "at most one entry per slot of the ring")
	got, err := c.Decode(first)
	require.NoError(t, err)
	require.Same(t, rewritten, got, "the newer write of the same bytes survived the older's eviction")
	gone, _ := proto.Marshal(row(1))
	got, err = c.Decode(gone)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.(*accountpb.Account).GetId(), "an evicted value is unmarshalled")
	require.Equal(t, ownedProtoKeep-1, len(c.byHash), "a value taken is forgotten")
}

// A value over the size bound is not remembered: it is unmarshalled on the next Decode.
func TestOwnedProtoSkipsLargeValues(t *testing.T) {
	c := new(ownedAccount)
	big := &accountpb.Account{Id: 1, Name: string(make([]byte, ownedProtoMaxBytes))}
	data, err := c.Encode(big)
	require.NoError(t, err)
	require.Empty(t, c.byHash)
	got, err := c.Decode(data)
	require.NoError(t, err)
	require.NotSame(t, big, got)
	require.True(t, proto.Equal(big, got.(*accountpb.Account)))
}
