package model

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNameFold(t *testing.T) {
	for _, same := range [][]string{
		{"bob", "BOB", "Bob", "ｂｏｂ", "ＢＯＢ"},
		{"strasse", "Straße", "STRASSE", "STRAẞE"},
		{"café", "CAFÉ", "cafe\u0301", "CAFE\u0301"},
	} {
		for _, n := range same[1:] {
			require.Equal(t, NameFold(same[0]), NameFold(n), "%q and %q", same[0], n)
		}
	}
	require.NotEqual(t, NameFold("bob"), NameFold("b\u043eb"), "scripts differ")
	for _, ascii := range []string{"player-001", "e2e-bob", "Typical.Player_9"} {
		require.Equal(t, strings.ToLower(ascii), NameFold(ascii), "ASCII keys are unchanged")
	}
}

func TestNameCharset(t *testing.T) {
	for _, ok := range []string{"bob", "player-001", "a.b_c"} {
		require.NoError(t, NameCharsetASCII.Check(ok), ok)
		require.NoError(t, NameCharsetUnicode.Check(ok), ok)
	}
	for _, bad := range []string{"bob!", "b b", "ｂｏｂ", "café", "b\ufffdb", "b\xffb"} {
		require.ErrorIs(t, NameCharsetASCII.Check(bad), ErrBadName, bad)
	}
	require.NoError(t, NameCharsetUnicode.Check("Straße"))
	require.NoError(t, NameCharsetUnicode.Check("cafe\u0301"))
	require.ErrorIs(t, NameCharsetUnicode.Check("b\ufffdb"), ErrBadName)
	require.ErrorIs(t, NameCharsetUnicode.Check("☃"), ErrBadName)
}

// Account keys pad the id to ten digits, which keeps a tenant's keys in id order.
func TestAccountKeyForPadsTheID(t *testing.T) {
	for _, id := range []uint32{0, 7, 1234567, 4294967295} {
		require.Equal(t, fmt.Sprintf("tenant%s%010d", accountInfix, id), AccountKeyFor("tenant/other", id))
	}
}
