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

// The entry figures' machinery: every ticket checks and every entry completes.
func TestEntryFiguresRun(t *testing.T) {
	checks, bare, err := ticketChecks(200)
	require.NoError(t, err)
	require.Greater(t, checks, 0.0)
	require.Greater(t, bare, 0.0)
	rate, err := entries(40, 4)
	require.NoError(t, err)
	require.Greater(t, rate, 0.0)
	t.Logf("ticket checks %.0f/s (bare Ed25519 %.0f/s, ratio %.2f); entries %.0f/s", checks, bare, checks/bare, rate)
}
