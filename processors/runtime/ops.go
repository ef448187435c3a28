package runtime

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsMux serves what every process serves: /metrics (Prometheus), /healthz (the process
// answers) and /readyz (every component has recovered and runs; 503 before).
func OpsMux(ready func() bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("recovering\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
