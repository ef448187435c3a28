package runtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Restarts counts supervisor restarts by component.
var Restarts = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: "atlas", Name: "component_restarts_total",
	Help: "Restarts of a processor or view by the supervisor, by component.",
}, []string{"component"})
