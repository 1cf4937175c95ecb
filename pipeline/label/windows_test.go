package label

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/schemas"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time   { return t0.Add(d) }
func ptr[T any](v T) *T              { return &v }
func atp(d time.Duration) *time.Time { return ptr(at(d)) }
func mustGrid(t testing.TB, from, to time.Duration, step time.Duration) pipeline.Grid {
	t.Helper()
	g, err := pipeline.NewGrid(at(from), at(to), step)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// phases renders a grid's phases one letter per window (n p i r) for compact tables.
func phases(ls []schemas.WindowLabels) string {
	b := make([]byte, len(ls))
	for i, l := range ls {
		b[i] = map[string]byte{schemas.PhaseNormal: 'n', schemas.PhasePreIncident: 'p', schemas.PhaseIncident: 'i', schemas.PhaseRecovery: 'r'}[l.Phase]
	}
	return string(b)
}

func TestApply(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name   string
		grid   [2]time.Duration // from, to; step 1m
		cfg    Config
		incs   []pipeline.Incident
		phases string
		check  func(t *testing.T, ls []schemas.WindowLabels)
	}{
		{
			name:   "no incidents",
			grid:   [2]time.Duration{0, 5 * m},
			cfg:    Config{Horizon: 2 * m, Recovery: 2 * m},
			phases: "nnnnn",
			check: func(t *testing.T, ls []schemas.WindowLabels) {
				for i, l := range ls {
					if l.IncidentActive || l.Severity != nil || l.MinutesToNextIncident != nil || l.IncidentIDs != nil || l.LabelSources != nil {
						t.Errorf("window %d: %+v, want empty labels", i, l)
					}
				}
			},
		},
		{
			name:   "unaligned interval",
			grid:   [2]time.Duration{0, 10 * m},
			cfg:    Config{Horizon: 2 * m, Recovery: 2 * m},
			incs:   []pipeline.Incident{{ID: "a", Start: at(4*m + 30*time.Second), End: atp(6*m + time.Second), Source: "ticket", Severity: "major"}},
			phases: "nnppiiirrn",
			check: func(t *testing.T, ls []schemas.WindowLabels) {
				if got := *ls[3].MinutesToNextIncident; got != 1.5 {
					t.Errorf("minutes at 3m = %v, want 1.5", got)
				}
				if got := *ls[5].Severity; got != "major" {
					t.Errorf("severity = %q", got)
				}
				if ls[9].MinutesToNextIncident != nil {
					t.Errorf("minutes after last incident = %v, want nil", *ls[9].MinutesToNextIncident)
				}
			},
		},
		{
			name:   "open incident runs to the end",
			grid:   [2]time.Duration{0, 6 * m},
			incs:   []pipeline.Incident{{ID: "a", Start: at(2 * m)}},
			phases: "nniiii",
		},
		{
			name:   "incident before and after the grid",
			grid:   [2]time.Duration{10 * m, 16 * m},
			cfg:    Config{Recovery: 3 * m},
			incs:   []pipeline.Incident{{ID: "old", Start: at(0), End: atp(9 * m)}, {ID: "future", Start: at(60 * m)}},
			phases: "rrnnnn",
			check: func(t *testing.T, ls []schemas.WindowLabels) {
				if got := *ls[0].MinutesToNextIncident; got != 50 {
					t.Errorf("minutes to an incident after the grid = %v, want 50", got)
				}
			},
		},
		{
			name:   "effect end extends recovery",
			grid:   [2]time.Duration{0, 8 * m},
			incs:   []pipeline.Incident{{ID: "a", Start: at(1 * m), End: atp(2 * m), EffectEnd: atp(5 * m)}},
			phases: "nirrrnnn",
		},
		{
			name:   "effect end before end is ignored",
			grid:   [2]time.Duration{0, 5 * m},
			cfg:    Config{Recovery: m},
			incs:   []pipeline.Incident{{ID: "a", Start: at(1 * m), End: atp(2 * m), EffectEnd: atp(1 * m)}},
			phases: "nirnn",
		},
		{
			name:   "end before start is an instant",
			grid:   [2]time.Duration{0, 5 * m},
			incs:   []pipeline.Incident{{ID: "a", Start: at(2*m + time.Second), End: atp(m)}},
			phases: "nninn",
		},
		{
			name: "overlap merges ids, sources, highest severity",
			grid: [2]time.Duration{0, 3 * m},
			incs: []pipeline.Incident{
				{ID: "b", Start: at(0), End: atp(3 * m), Source: "manual", Severity: "minor"},
				{ID: "a", Start: at(m), End: atp(2 * m), Source: "ticket", Severity: "Critical"},
				{ID: "b", Start: at(m), End: atp(2 * m), Source: "ticket", Severity: "weird"},
			},
			phases: "iii",
			check: func(t *testing.T, ls []schemas.WindowLabels) {
				want := schemas.WindowLabels{IncidentActive: true, IncidentIDs: []string{"a", "b"}, Severity: ptr("critical"),
					Phase: schemas.PhaseIncident, MinutesToNextIncident: ptr(0.0), LabelSources: []string{"manual", "ticket"}}
				if !reflect.DeepEqual(ls[1], want) {
					t.Errorf("window 1 = %+v, want %+v", ls[1], want)
				}
				if got := ls[2].IncidentIDs; !reflect.DeepEqual(got, []string{"b"}) {
					t.Errorf("window 2 ids = %v", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGrid(t, tt.grid[0], tt.grid[1], m)
			ls := Apply(g, tt.incs, tt.cfg)
			if len(ls) != g.Len() {
				t.Fatalf("len = %d, want %d", len(ls), g.Len())
			}
			if got := phases(ls); got != tt.phases {
				t.Errorf("phases = %s, want %s", got, tt.phases)
			}
			if tt.check != nil {
				tt.check(t, ls)
			}
		})
	}
}

// applyNaive is the definition of Apply written the slow, obvious way:
// every window against every incident.
func applyNaive(g pipeline.Grid, incs []pipeline.Incident, cfg Config) []schemas.WindowLabels {
	out := make([]schemas.WindowLabels, g.Len())
	for i := range out {
		s := g.At(i)
		e := s.Add(g.Step)
		var w schemas.WindowLabels
		var ids, srcs []string
		sev := ""
		var next *time.Time
		recovering := false
		for k := range incs {
			in := incs[k]
			var active bool
			switch {
			case in.End == nil:
				active = in.Start.Before(e)
			case !in.End.After(in.Start):
				active = !in.Start.Before(s) && in.Start.Before(e)
			default:
				active = in.Start.Before(e) && in.End.After(s)
			}
			if active {
				ids = append(ids, in.ID)
				srcs = append(srcs, in.Source)
				sv := pipeline.NormalizeSeverity(in.Severity)
				if sev == "" || severityRank(sv) > severityRank(sev) || (severityRank(sv) == severityRank(sev) && sv < sev) {
					sev = sv
				}
			}
			if !in.Start.Before(s) && (next == nil || in.Start.Before(*next)) {
				next = ptr(in.Start)
			}
			if in.End != nil && in.Start.Before(e) {
				end := *in.End
				if end.Before(in.Start) {
					end = in.Start
				}
				if in.EffectEnd != nil && in.EffectEnd.After(end) {
					end = *in.EffectEnd
				}
				if s.Before(end.Add(cfg.Recovery)) {
					recovering = true
				}
			}
		}
		if len(ids) > 0 {
			w.IncidentActive = true
			w.IncidentIDs = sortedUnique(ids)
			w.LabelSources = sortedUnique(srcs)
			w.Severity = ptr(sev)
			w.MinutesToNextIncident = ptr(0.0)
			w.Phase = schemas.PhaseIncident
		} else {
			w.Phase = schemas.PhaseNormal
			if next != nil {
				w.MinutesToNextIncident = ptr(next.Sub(s).Minutes())
				if next.Sub(s) < cfg.Horizon+g.Step {
					w.Phase = schemas.PhasePreIncident
				}
			}
			if w.Phase == schemas.PhaseNormal && recovering {
				w.Phase = schemas.PhaseRecovery
			}
		}
		out[i] = w
	}
	return out
}

func randomIncidents(r *rand.Rand, n int, span time.Duration) []pipeline.Incident {
	sevs := []string{"critical", "major", "minor", "warning", "info", "", "sev9"}
	srcs := []string{pipeline.SourceTicket, pipeline.SourceAlert, pipeline.SourceManual}
	out := make([]pipeline.Incident, n)
	for i := range out {
		start := t0.Add(time.Duration(r.Int64N(int64(span+2*time.Hour))) - time.Hour)
		in := pipeline.Incident{ID: string(rune('a' + r.IntN(26))), Start: start,
			Severity: sevs[r.IntN(len(sevs))], Source: srcs[r.IntN(len(srcs))]}
		switch r.IntN(5) {
		case 0: // open
		case 1: // instant or backwards
			in.End = ptr(start.Add(-time.Duration(r.Int64N(int64(time.Hour)))))
		default:
			in.End = ptr(start.Add(time.Duration(r.Int64N(int64(3 * time.Hour)))))
		}
		if in.End != nil && r.IntN(3) == 0 {
			in.EffectEnd = ptr(in.End.Add(time.Duration(r.Int64N(int64(time.Hour))) - 10*time.Minute))
		}
		out[i] = in
	}
	return out
}

// TestApplyMatchesDefinition checks the sweep against the naive definition
// on seeded random incidents (open, instant, backwards, effect ends, outside the grid).
func TestApplyMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 300; round++ {
		span := time.Duration(1+r.IntN(12)) * time.Hour
		step := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Second}[r.IntN(3)]
		g := mustGrid(t, 0, span, step)
		incs := randomIncidents(r, r.IntN(12), span)
		cfg := Config{Horizon: time.Duration(r.IntN(4)) * 10 * time.Minute, Recovery: time.Duration(r.IntN(4)) * 7 * time.Minute}
		got, want := Apply(g, incs, cfg), applyNaive(g, incs, cfg)
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("round %d, window %s (cfg %+v, incidents %+v):\n got %+v\nwant %+v", round, g.At(i), cfg, incs, got[i], want[i])
			}
		}
	}
}

// Apply must not depend on the order incidents come in.
func TestApplyOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := mustGrid(t, 0, 6*time.Hour, time.Minute)
	incs := randomIncidents(r, 20, 6*time.Hour)
	want := Apply(g, incs, Config{Horizon: 30 * time.Minute, Recovery: 15 * time.Minute})
	shuffled := append([]pipeline.Incident(nil), incs...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	sort.SliceStable(shuffled, func(i, j int) bool { return shuffled[i].ID > shuffled[j].ID })
	if got := Apply(g, shuffled, Config{Horizon: 30 * time.Minute, Recovery: 15 * time.Minute}); !reflect.DeepEqual(got, want) {
		t.Fatal("labels depend on incident order")
	}
}

// BenchmarkApply: 3 days at 1m (4320 windows) with 50 incidents.
func BenchmarkApply(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	span := 72 * time.Hour
	g := mustGrid(b, 0, span, time.Minute)
	incs := randomIncidents(r, 50, span)
	cfg := Config{Horizon: 30 * time.Minute, Recovery: 15 * time.Minute}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ls := Apply(g, incs, cfg); len(ls) != g.Len() {
			b.Fatal("wrong length")
		}
	}
	b.ReportMetric(float64(g.Len())*float64(b.N)/b.Elapsed().Seconds(), "windows/s")
}
