package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The recovery figure's machinery on a small table: a view restores exactly what was written.
func TestRecoveryMeasuresASmallTable(t *testing.T) {
	s, err := newStack(2)
	require.NoError(t, err)
	defer s.close()
	r, err := recovery(s, 2000)
	require.NoError(t, err)
	require.Equal(t, 2000, r.Records)
	require.Greater(t, r.RecoverPerSec, 0.0)
	require.Greater(t, r.RawReadPerSec, 0.0)
}
