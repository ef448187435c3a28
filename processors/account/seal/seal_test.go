package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpenRoundTrip(t *testing.T) {
	s, err := New(RandomKey())
	require.NoError(t, err)
	sealed := s.Seal([]byte("hunter2"), []byte("ctx"))
	require.False(t, bytes.Contains(sealed, []byte("hunter2")), "sealed value holds the plaintext")
	pt, err := s.Open(sealed, []byte("ctx"))
	require.NoError(t, err)
	require.Equal(t, "hunter2", string(pt))
}

func TestOpenRefusesOtherContextTamperingAndUnknownKeys(t *testing.T) {
	s, _ := New(RandomKey())
	other, _ := New(RandomKey())
	sealed := s.Seal([]byte("pw"), []byte("cmd-1"))

	_, err := s.Open(sealed, []byte("cmd-2"))
	require.True(t, errors.Is(err, ErrOpen), "opened with another context: %v", err)

	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	_, err = s.Open(tampered, []byte("cmd-1"))
	require.True(t, errors.Is(err, ErrOpen))

	_, err = other.Open(sealed, []byte("cmd-1"))
	require.True(t, errors.Is(err, ErrOpen))

	for _, short := range [][]byte{nil, {1}, sealed[:headerLen-1]} {
		_, err = s.Open(short, []byte("cmd-1"))
		require.True(t, errors.Is(err, ErrOpen))
	}
}

func TestRotationOpensWithOldKey(t *testing.T) {
	oldKey, newKey := RandomKey(), RandomKey()
	before, _ := New(oldKey)
	after, err := New(newKey, oldKey)
	require.NoError(t, err)
	pt, err := after.Open(before.Seal([]byte("pw"), nil), nil)
	require.NoError(t, err)
	require.Equal(t, "pw", string(pt))
}

func TestParseKeys(t *testing.T) {
	k1, k2 := RandomKey(), RandomKey()
	keys, err := ParseKeys(base64.StdEncoding.EncodeToString(k1) + ", " + base64.StdEncoding.EncodeToString(k2))
	require.NoError(t, err)
	require.Equal(t, [][]byte{k1, k2}, keys)
	_, err = ParseKeys("")
	require.Error(t, err)
	_, err = ParseKeys("not base64!")
	require.Error(t, err)
	_, err = New([]byte("short"))
	require.Error(t, err)
}
