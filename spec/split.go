package spec

import "time"

// Split is the benchmark split policy: windows are train before
// Validation, validation from Validation to Test, test from Test on
// (either boundary may be unset). Windows whose labels look across a
// boundary (the window or its Embargo after it reaches the boundary) are
// "gap" and belong to no split. Boundaries are absolute UTC midnights, so a
// window has the same split in every version and each day file lies in one
// split (the Hugging Face configs split by file).
type Split struct {
	Validation time.Time `yaml:"validation"`
	Test       time.Time `yaml:"test"`
	// Embargo defaults to the first labeler's horizon (how far pre_incident
	// labels look ahead).
	Embargo Duration `yaml:"embargo"`
}

// Enabled reports whether the spec declares a split.
func (s Split) Enabled() bool { return !s.Validation.IsZero() || !s.Test.IsZero() }

func (s *Spec) validateSplit(add func(string, ...any)) {
	sp := s.Split
	for _, b := range []struct {
		key string
		t   time.Time
	}{{"validation", sp.Validation}, {"test", sp.Test}} {
		if !b.t.IsZero() && !b.t.UTC().Equal(b.t.UTC().Truncate(24*time.Hour)) {
			add("split.%s: %s must be a UTC midnight (day files are split whole)", b.key, b.t.Format(time.RFC3339))
		}
	}
	if !sp.Validation.IsZero() && !sp.Test.IsZero() && !sp.Test.After(sp.Validation) {
		add("split.test (%s) must be after split.validation (%s)", sp.Test.Format(time.RFC3339), sp.Validation.Format(time.RFC3339))
	}
	if sp.Embargo < 0 {
		add("split.embargo: must not be negative")
	}
	if !sp.Enabled() && sp.Embargo != 0 {
		add("split.embargo without split.validation or split.test")
	}
}
