//go:build tools

// Package tools pins the chart test runner this module builds.
package tools

import _ "github.com/helm-unittest/helm-unittest/cmd/helm-unittest"
