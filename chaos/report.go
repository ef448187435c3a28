package chaos

import (
	"fmt"
	"strings"
)

// Table renders results as the report `atlas chaos` prints.
func Table(rs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-23s %8s %-40s %8s %6s %5s %6s %6s %6s %9s %8s %6s\n",
		"scenario", "commands", "faults injected", "expected", "seen", "lost", "dupl.", "unexp.", "x-ten.", "mismatch", "dlq", "time")
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(&b, "%-23s skipped: %s\n", r.Scenario, r.Skipped)
			continue
		}
		fmt.Fprintf(&b, "%-23s %8d %-40s %8d %6d %5d %6d %6d %6d %9d %8s %6s\n",
			r.Scenario, r.Commands, trunc(r.Faults, 40), r.Expected, r.Seen, r.Lost, r.Duplicated, r.Unexpected, r.CrossTenant, r.StateMismatch,
			orDash(r.DeadLettered), r.Duration.Round(1e9))
		if r.Err != "" {
			fmt.Fprintf(&b, "  error: %s\n", r.Err)
		}
	}
	return b.String()
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
