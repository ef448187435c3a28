package gateway

import (
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Disconnect reasons, a closed set (the label of disconnects).
const (
	closedByClient   = "client"
	closedEnterLate  = "enter_timeout"
	closedIdle       = "idle_timeout"
	closedRate       = "rate_limited"
	closedSlowReader = "slow_reader"
	closedSession    = "session_closed"
	closedShutdown   = "shutdown"
	closedBadTickets = "bad_tickets"
)

var (
	errorFrames = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "gateway_error_frames_total",
		Help: "Error frames sent to clients, by code; TICKET_* codes are refused entries.",
	}, []string{"code"})
	entries = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: "atlas", Name: "gateway_entries_total",
		Help: "Enter frames whose ticket checked and whose entry was asked of the account service.",
	})
	disconnects = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "gateway_disconnects_total",
		Help: "WebSocket connections ended, by reason.",
	}, []string{"reason"})
	connections = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "atlas", Name: "gateway_websockets",
		Help: "WebSocket connections open.",
	})
	usedTickets = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: "atlas", Name: "gateway_used_tickets",
		Help: "Used ticket ids remembered until they expire (replay memory).",
	})
)

func init() {
	// Every label of the closed sets exists from the start, at 0.
	for _, c := range protocol.Codes() {
		errorFrames.WithLabelValues(string(c))
	}
	for _, c := range ticket.Codes() {
		errorFrames.WithLabelValues(string(c))
	}
	for _, r := range []string{closedByClient, closedEnterLate, closedIdle, closedRate, closedSlowReader, closedSession, closedShutdown, closedBadTickets} {
		disconnects.WithLabelValues(r)
	}
}
