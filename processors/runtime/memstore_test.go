package runtime

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func keysOf(t *testing.T, it interface {
	Next() bool
	Key() []byte
}) []string {
	var out []string
	for it.Next() {
		out = append(out, string(it.Key()))
	}
	return out
}

func TestMemStoreIteratesInKeyOrderAndSeesChanges(t *testing.T) {
	m := newMemStore()
	for _, k := range []string{"b/2", "a/1", "b/1", "c/1", "b/3"} {
		require.NoError(t, m.Set(k, []byte("v-"+k)))
	}
	it, _ := m.Iterator()
	require.Equal(t, []string{"a/1", "b/1", "b/2", "b/3", "c/1"}, keysOf(t, it))

	r, _ := m.IteratorWithRange([]byte("b/"), nil)
	require.Equal(t, []string{"b/1", "b/2", "b/3"}, keysOf(t, r), "no limit: the prefix")
	r, _ = m.IteratorWithRange([]byte("b/2"), []byte("c"))
	require.Equal(t, []string{"b/2", "b/3"}, keysOf(t, r), "start inclusive, limit exclusive")

	require.NoError(t, m.Delete("b/2"))
	require.NoError(t, m.Set("a/0", []byte("x")))
	it, _ = m.Iterator()
	require.Equal(t, []string{"a/0", "a/1", "b/1", "b/3", "c/1"}, keysOf(t, it))

	it, _ = m.Iterator()
	require.True(t, it.Seek([]byte("b")))
	require.Equal(t, "b/1", string(it.Key()))
	v, _ := it.Value()
	require.Equal(t, "v-b/1", string(v))

	require.Error(t, m.Set("k", nil))
	off, _ := m.GetOffset(-2)
	require.EqualValues(t, -2, off)
	require.NoError(t, m.SetOffset(7))
	off, _ = m.GetOffset(-2)
	require.EqualValues(t, 7, off)
}

func TestMemStoreDeleteDuringIteration(t *testing.T) {
	m := newMemStore()
	for i := 0; i < 5; i++ {
		require.NoError(t, m.Set(fmt.Sprint(i), []byte{byte(i)}))
	}
	it, _ := m.Iterator()
	require.True(t, it.Next())
	require.NoError(t, m.Delete("1"))
	require.Equal(t, []string{"2", "3", "4"}, keysOf(t, it), "a key deleted meanwhile is skipped")
}
