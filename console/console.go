// Package console is the operator's web page over the query API: accounts and their login
// state, the channels up, and the dead letters with a replay button. It is a few static files
// embedded in the binary (no build step, nothing fetched from elsewhere) that call /api/ from
// the browser with the operator's token and tenant headers, so it can show nothing the API
// would not answer to the same token.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Path is where the console is served.
const Path = "/console/"

// Handler serves the console's files under Path. The headers keep the page to its own
// files: no script, style or connection elsewhere, no framing by another site, and no
// referrer that could carry a URL out.
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Path, http.FileServer(http.FS(root)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
