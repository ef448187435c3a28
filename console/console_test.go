package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func get(method, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// The page and its files are served with headers that keep it to its own origin.
func TestConsoleFilesAndHeaders(t *testing.T) {
	for target, want := range map[string]string{Path: "text/html", Path + "app.js": "javascript", Path + "style.css": "text/css"} {
		w := get(http.MethodGet, target)
		require.Equal(t, http.StatusOK, w.Code, target)
		require.Contains(t, w.Header().Get("Content-Type"), want, target)
		csp := w.Header().Get("Content-Security-Policy")
		for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			require.Contains(t, csp, directive, target)
		}
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	}
	page := get(http.MethodGet, Path).Body.String()
	require.NotContains(t, page, "http://", "nothing is fetched from elsewhere")
	require.NotContains(t, page, "https://")
	require.Equal(t, http.StatusNotFound, get(http.MethodGet, Path+"missing.js").Code)
	require.Equal(t, http.StatusMethodNotAllowed, get(http.MethodPost, Path).Code)
}

// The script sets data as text: markup from an account name or a dead letter is never parsed.
func TestScriptNeverParsesDataAsMarkup(t *testing.T) {
	b, err := static.ReadFile("static/app.js")
	require.NoError(t, err)
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		require.False(t, strings.Contains(string(b), sink), "app.js uses %s", sink)
	}
}
