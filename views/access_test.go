package views

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

const (
	allTenants = "all-tenants-token-0123456789abcdef"
	oneTenant  = "one-tenant-token-0123456789abcdef"
)

func guarded(t *testing.T, perSecond float64, burst int) *API {
	t.Helper()
	tokens, err := ParseTokens(allTenants + ", " + unitTenant.ID.String() + "=" + oneTenant + "\n" +
		"99999999-0000-4000-8000-000000000001=other-tenant-token-0123456789")
	require.NoError(t, err)
	a, _ := unitAPI(true)
	a.Access = NewAccess(tokens, perSecond, burst)
	return a
}

func withToken(token string) http.Header {
	h := tenantHeaders(unitTenant)
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// Without a valid bearer token nothing is read; a token scoped to a tenant reads only it.
func TestBearerTokens(t *testing.T) {
	a := guarded(t, 1000, 1000)
	for _, target := range tenantRoutes {
		for _, bad := range []string{"", "wrong-token-0123456789abcdefgh", strings.ToUpper(allTenants)} {
			w := serve(a, http.MethodGet, target, withToken(bad))
			require.Equal(t, http.StatusUnauthorized, w.Code, "%s with %q", target, bad)
			require.Equal(t, `Bearer realm="atlas"`, w.Header().Get("WWW-Authenticate"))
			require.NotContains(t, w.Body.String(), "bob", "nothing of the tenant is shown")
		}
		h := withToken("")
		h.Set("Authorization", "Basic "+allTenants)
		require.Equal(t, http.StatusUnauthorized, serve(a, http.MethodGet, target, h).Code)
		require.Equal(t, http.StatusOK, serve(a, http.MethodGet, target, withToken(allTenants)).Code, target)
		require.Equal(t, http.StatusOK, serve(a, http.MethodGet, target, withToken(oneTenant)).Code, target)
		w := serve(a, http.MethodGet, target, withToken("other-tenant-token-0123456789"))
		require.Equal(t, http.StatusForbidden, w.Code, "a token of another tenant")
		require.NotContains(t, w.Body.String(), "bob")
	}
}

func TestTokensAreParsedStrictly(t *testing.T) {
	for _, bad := range []string{"short", "not-a-uuid=" + allTenants, uuid.Nil.String() + "=" + allTenants} {
		_, err := ParseTokens(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), allTenants, "errors never quote a token")
	}
	tokens, err := ParseTokens("")
	require.NoError(t, err)
	require.Empty(t, tokens)
}

// Each client has a token bucket: over it, 429 with Retry-After, and other clients are not
// affected.
func TestRateLimitPerClient(t *testing.T) {
	a := guarded(t, 1, 3)
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		codes[serve(a, http.MethodGet, "/api/accounts/7", withToken(allTenants)).Code]++
	}
	require.Equal(t, 3, codes[http.StatusOK])
	require.Equal(t, 7, codes[http.StatusTooManyRequests])
	w := serve(a, http.MethodGet, "/api/accounts/7", withToken(allTenants))
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Equal(t, http.StatusOK, serve(a, http.MethodGet, "/api/accounts/7", withToken(oneTenant)).Code, "another client has its own bucket")
}

func TestAccessFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := AccessFromEnv(env(nil), true)
	require.ErrorContains(t, err, "ATLAS_API_TOKENS is not set", "atlas api refuses to start open")
	a, err := AccessFromEnv(env(nil), false)
	require.NoError(t, err)
	require.True(t, a.Open(), "atlas dev may run open")
	file := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(file, []byte(allTenants+"\n"), 0o600))
	a, err = AccessFromEnv(env(map[string]string{"ATLAS_API_TOKENS_FILE": file, "ATLAS_API_RATE": "5"}), true)
	require.NoError(t, err)
	require.False(t, a.Open())
	_, err = AccessFromEnv(env(map[string]string{"ATLAS_API_TOKENS": allTenants, "ATLAS_API_RATE": "-1"}), true)
	require.ErrorContains(t, err, "ATLAS_API_RATE")
}
