package views

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// The index agrees with a plain sorted set under random adds and removes in random order,
// across block boundaries, for every page.
func TestAccountIndexPagesAreTheSortedIDs(t *testing.T) {
	ix := NewAccountIndex()
	prefix := model.AccountKeyPrefix(unitTenant)
	other := codecs.Tenant{ID: uuid.MustParse("0d000000-0000-4000-8000-000000000002"), Region: "GMS", Major: 83, Minor: 1}
	want := map[uint32]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		id := 1 + rng.Uint32N(30000) // several blocks of 4096, many repeats
		present := rng.IntN(4) != 0
		ix.Observe(model.AccountKey(unitTenant, id), present)
		if present {
			want[id] = true
		} else {
			delete(want, id)
		}
		// Another tenant's ids never show in this one's pages.
		ix.Observe(model.AccountKey(other, id+1), true)
	}
	sorted := make([]uint32, 0, len(want))
	for id := range want {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	for _, size := range []uint64{1, 50, 250} {
		var got []uint32
		for offset := uint64(0); ; offset += size {
			ids, total := ix.Page(prefix, offset, size)
			require.Equal(t, uint64(len(sorted)), total)
			if len(ids) == 0 {
				break
			}
			require.LessOrEqual(t, uint64(len(ids)), size)
			got = append(got, ids...)
		}
		require.Equal(t, sorted, got, "pages of %d", size)
	}
	// Ids at the ends of the range.
	ix.Observe(model.AccountKey(unitTenant, 4294967295), true)
	ids, _ := ix.Page(prefix, uint64(len(sorted)), 10)
	require.Equal(t, []uint32{4294967295}, ids)
}

func TestAccountIndexForgetsEmptyTenantsAndIgnoresOtherKeys(t *testing.T) {
	ix := NewAccountIndex()
	prefix := model.AccountKeyPrefix(unitTenant)
	ix.Observe(model.AccountKey(unitTenant, 5), true)
	ix.Observe(model.AccountKey(unitTenant, 5), true) // an update of the same row
	_, total := ix.Page(prefix, 0, 10)
	require.Equal(t, uint64(1), total)
	ix.Observe(model.AccountKey(unitTenant, 5), false)
	require.Empty(t, ix.tenants)
	for _, k := range []string{"", "x", prefix + "12", prefix + "+000000001", model.NameKey(unitTenant, "bob"), prefix + "99999999999"} {
		ix.Observe(k, true)
	}
	require.Empty(t, ix.tenants)
	ix.Observe(model.AccountKey(unitTenant, 6), true)
	ix.Reset()
	_, total = ix.Page(prefix, 0, 10)
	require.Zero(t, total)
}
