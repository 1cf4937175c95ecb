package spec

import "time"

// Split is the benchmark split policy: windows are train before
// Validation, validation from Validation to Test, test from Test on
// (either boundary may be unset). Windows whose labels look across a
// boundary (the window or its Embargo after it reaches the boundary) are
// "gap" and belong to no split. Boundaries are absolute UTC midnights, so a
// window has the same split in every version and each day file lies in one
// split (the Hugging Face configs split by file).
//
// EntityGroups optionally holds whole entities out: that share of the
// entities (chosen by a hash of the published entity name) is validation or
// test in every window, so a model is scored on entities it never saw.
type Split struct {
	Validation time.Time `yaml:"validation"`
	Test       time.Time `yaml:"test"`
	// EntityGroups are the shares of entities held out as validation and
	// test (0 to 1 each, summing below 1).
	EntityGroups EntityGroups `yaml:"entity_groups"`
	// Embargo defaults to the first labeler's horizon (how far pre_incident
	// labels look ahead).
	Embargo Duration `yaml:"embargo"`
}

// EntityGroups are shares of the entities held out of training.
type EntityGroups struct {
	Validation float64 `yaml:"validation"`
	Test       float64 `yaml:"test"`
}

// Enabled reports whether any entities are held out.
func (g EntityGroups) Enabled() bool { return g.Validation > 0 || g.Test > 0 }

// Enabled reports whether the spec declares a split.
func (s Split) Enabled() bool {
	return !s.Validation.IsZero() || !s.Test.IsZero() || s.EntityGroups.Enabled()
}

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
	if sp.Validation.IsZero() && sp.Test.IsZero() && sp.Embargo != 0 {
		add("split.embargo without split.validation or split.test")
	}
	g := sp.EntityGroups
	for _, f := range []struct {
		key string
		v   float64
	}{{"validation", g.Validation}, {"test", g.Test}} {
		if f.v < 0 || f.v >= 1 {
			add("split.entity_groups.%s: %g must be a share of the entities, at least 0 and below 1", f.key, f.v)
		}
	}
	if g.Validation+g.Test >= 1 {
		add("split.entity_groups: validation + test = %g leaves no entity for training; keep the sum below 1", g.Validation+g.Test)
	}
}
