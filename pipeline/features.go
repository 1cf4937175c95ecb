package pipeline

import (
	"fmt"

	"github.com/prometheus/prometheus/promql/parser"
)

// CheckFeature parses a feature expression the way every metric source's
// engine will, and insists on a result that can be evaluated at every
// window (the spec itself knows no PromQL).
func CheckFeature(expr string) error {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return fmt.Errorf("invalid PromQL: %w", err)
	}
	switch e.Type() {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
		return nil
	default:
		return fmt.Errorf("PromQL result is a %s; a feature needs an instant vector or a scalar (wrap range selectors in rate(), avg_over_time(), ...)", e.Type())
	}
}
