package spec

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Merge is the label merge policy: how incidents from several labelers
// become one set of labels per entity (pipeline/label/merge.go applies it).
type Merge struct {
	// Precedence orders label sources, strongest first. Within a group of
	// incidents of one entity that overlap (or lie within Tolerance of each
	// other), the strongest source present supplies the labels and the rest
	// only confirm them. Default: manual, ticket, rule, alert, injected.
	Precedence []string `yaml:"precedence"`
	// Tolerance joins intervals of one entity separated by at most this gap
	// (default 5m).
	Tolerance Duration `yaml:"tolerance"`
}

// DefaultPrecedence is the merge order when the spec names none.
var DefaultPrecedence = []string{"manual", "ticket", "rule", "alert", "injected"}

// DefaultMergeTolerance is the merge tolerance when the spec names none.
const DefaultMergeTolerance = 5 * time.Minute

func (s *Spec) mergeDefaults() {
	if len(s.Merge.Precedence) == 0 {
		s.Merge.Precedence = append([]string(nil), DefaultPrecedence...)
	}
	if s.Merge.Tolerance == 0 {
		s.Merge.Tolerance = Duration(DefaultMergeTolerance)
	}
}

// validateMerge checks the label merge policy; add reports one error.
func (s *Spec) validateMerge(add func(format string, a ...any)) {
	s.mergeDefaults()
	seen := map[string]bool{}
	for i, p := range s.Merge.Precedence {
		if !contains(DefaultPrecedence, p) {
			add("merge.precedence[%d]: %q is not a label source (%s)", i, p, strings.Join(DefaultPrecedence, ", "))
		}
		if seen[p] {
			add("merge.precedence[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	if s.Merge.Tolerance < 0 {
		add("merge.tolerance: must not be negative")
	}
	for i, l := range s.Labelers {
		if l.Horizon < 0 || l.Recovery < 0 {
			add("labelers[%d]: horizon and recovery must not be negative", i)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Precedence returns the rank of a label source under the policy (0 is
// strongest); sources not listed rank after every listed one.
func (m Merge) Rank(source string) int {
	for i, p := range m.Precedence {
		if p == source {
			return i
		}
	}
	return len(m.Precedence)
}

// String describes the policy in one line, for reports.
func (m Merge) String() string {
	return fmt.Sprintf("precedence %s, tolerance %s", strings.Join(m.Precedence, " > "), model.Duration(m.Tolerance))
}
