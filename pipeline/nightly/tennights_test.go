package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
)

// TestTenNights replays ten nights of the demo's nightly scenario (late
// tickets 1–3 days after impact, an edited ticket, a missed night, a night
// killed before its commit, a log file arriving late, an incident just
// after midnight) and checks after every night what researchers rely on.
func TestTenNights(t *testing.T) {
	if testing.Short() {
		t.Skip("ten exports of up to ten days")
	}
	if raceEnabled && os.Getenv("OPSDATA_NIGHTLY_RACE") == "" {
		t.Skip("minutes under -race: make test-go runs it without -race (OPSDATA_NIGHTLY_RACE=1 to run it here)")
	}
	const days = 10
	sc := newScenario(t, days, "{lease_wait: 20ms, settle: 3h, max_days: 7, relabel_days: 14}")
	ctx := context.Background()
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+sc.out)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	ds := filepath.Join(sc.out, "demo-cluster")

	var arrivals []arrivalT
	for _, v := range sc.plan.Tickets {
		if strings.HasPrefix(v.Note, "filed on time") || v.Note == "first version" {
			continue
		}
		arrivals = append(arrivals, arrivalT{id: v.ID, note: v.Note, at: v.Available, date: impactDate(t, v.Ticket)})
	}
	if len(arrivals) < 5 {
		t.Fatalf("scenario has %d late arrivals, want 3 late tickets, an edit and the midnight incident", len(arrivals))
	}
	late := sc.plan.LateLogs[0]
	lateDate := late.Available.Add(-36 * time.Hour).Add(-time.Hour).Format(time.DateOnly)

	parts := map[string]time.Time{} // part → modification time when first seen
	labels := map[string]string{}   // impact date of a late ticket → digest of its label columns
	var prevNow time.Time
	var lastSnapshot *schemas.Manifest
	for n := 1; n <= days; n++ {
		now := day0(n).Add(4 * time.Hour)
		if n == 5 {
			continue // the missed night
		}
		c := &counted{}
		if n == 7 { // killed after uploading its parts, before the commit
			sc.killedNight(t, now)
			if v, _ := bucket.Latest(ctx, bkt, "", "demo-cluster"); v != lastSnapshot.Version {
				t.Fatalf("night %d: killed run moved latest to %s", n, v)
			}
			if _, err := os.Stat(filepath.Join(ds, "_state", "nightly", "lease.json")); err == nil {
				t.Fatalf("night %d: killed run left its lease", n)
			}
			continue
		}
		rep, err := sc.night(t, c, now, nil)
		if err != nil {
			t.Fatalf("night %d (%s): %v", n, now, err)
		}
		if rep.Outcome != Published {
			t.Fatalf("night %d: outcome %s: %s", n, rep.Outcome, rep.Message)
		}
		t.Logf("night %d %s: +%v republished %d, parts %d new / %d shared, %.1fs, export %s %s", n, rep.Snapshot, rep.DaysAdded, len(rep.DaysChanged), rep.PartsUploaded, rep.PartsReused, rep.DurationSeconds, rep.Mode, rep.ModeReason)
		// Every night after the first resumes from the last snapshot's
		// checkpoint, except the one whose late log file brings lines for a
		// published day: that one exports every day from its inputs.
		lateNight := late.Available.After(prevNow) && !late.Available.After(now)
		switch {
		case n == 1 && rep.Mode != ModeFull:
			t.Errorf("night 1: export %s, want full", rep.Mode)
		case n > 1 && lateNight && (rep.Mode != ModeFull || !strings.Contains(rep.ModeReason, "already published")):
			t.Errorf("night %d: the late log file arrived but the export was %s (%s)", n, rep.Mode, rep.ModeReason)
		case n > 1 && !lateNight && rep.Mode != ModeResumed:
			t.Errorf("night %d: export %s (%s), want resumed", n, rep.Mode, rep.ModeReason)
		}
		for _, dc := range rep.DaysChanged {
			t.Logf("  republished %s %v: %v", dc.Date, dc.Tables, dc.Reasons)
		}
		m, err := bucket.ReadManifest(ctx, bkt, "", "demo-cluster", rep.Snapshot)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := bucket.Latest(ctx, bkt, "", "demo-cluster"); v != rep.Snapshot {
			t.Fatalf("night %d: latest is %s, want %s", n, v, rep.Snapshot)
		}
		wantRows := m.Tables[schemas.TableWindows].Rows
		// Direct read of the current view: each (window_start, entity) once.
		if got := windowKeys(t, filepath.Join(ds, "current")); int64(got) != wantRows {
			t.Fatalf("night %d: current view has %d windows, snapshot %d", n, got, wantRows)
		}
		checkSums(t, filepath.Join(ds, "current"))
		// Pull of the latest snapshot: the same, and sha256sum -c passes.
		pd := filepath.Join(t.TempDir(), "pulled")
		if _, err := pull.Pull(ctx, bkt, "", "demo-cluster", "", pd, pull.Options{}); err != nil {
			t.Fatalf("night %d: pull: %v", n, err)
		}
		if got := windowKeys(t, pd); int64(got) != wantRows {
			t.Fatalf("night %d: pulled %d windows, want %d", n, got, wantRows)
		}
		checkSums(t, pd)
		// Parts are written once: none seen before was rewritten.
		err = filepath.WalkDir(filepath.Join(ds, "parts"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, _ := d.Info()
			if old, ok := parts[p]; ok && !old.Equal(fi.ModTime()) {
				t.Errorf("night %d: part %s rewritten", n, p)
			} else if !ok {
				parts[p] = fi.ModTime()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Late truth: a past day changes on the night its ticket arrives, and
		// the changelog says why.
		for _, a := range arrivals {
			if !a.at.After(prevNow) || a.at.After(now) || slices.Contains(m.Changelog.Added, a.date) {
				continue
			}
			if lastSnapshot == nil || !publishedDay(lastSnapshot, a.date) {
				continue
			}
			dc := findChange(m.Changelog, a.date)
			if dc == nil || !slices.Contains(dc.Tables, schemas.TableWindows) || !mentions(dc.Reasons, a.id) {
				t.Errorf("night %d: %s (%s) arrived but the changelog for %s is %+v", n, a.id, a.note, a.date, dc)
			} else {
				t.Logf("night %d: %s: %v", n, a.date, dc.Reasons)
			}
		}
		if !late.Available.After(prevNow) == false && !late.Available.After(now) {
			dc := findChange(m.Changelog, lateDate)
			if dc == nil || !slices.Contains(dc.Tables, schemas.TableLogs) || !mentions(dc.Reasons, "log input") {
				t.Errorf("night %d: late log file arrived but the changelog for %s is %+v", n, lateDate, dc)
			}
		}
		// Labels (incident_active, incident_ids, phase) of a late ticket's
		// day change on the night it arrives and on no other.
		for _, a := range arrivals {
			if strings.Contains(a.note, "midnight") || !publishedDay(m, a.date) {
				continue
			}
			d := labelDigest(t, filepath.Join(ds, "current", "windows", "date="+a.date))
			old, had := labels[a.date]
			arrived := a.at.After(prevNow) && !a.at.After(now)
			if had && arrived && old == d {
				t.Errorf("night %d: %s arrived but the labels of %s did not change", n, a.id, a.date)
			}
			if had && !arrived && old != d && !arrivalOn(arrivals, a.date, prevNow, now) {
				t.Errorf("night %d: labels of %s changed with no ticket arriving for it", n, a.date)
			}
			labels[a.date] = d
		}
		// Days whose inputs did not change keep their metrics part.
		if lastSnapshot != nil {
			for _, f := range m.Files {
				if f.Table != schemas.TableMetrics {
					continue
				}
				if old := fileAt(lastSnapshot, f.Path); old != nil && old.Object != f.Object {
					t.Errorf("night %d: metrics %s changed without new metric input", n, f.Path)
				}
			}
		}
		prevNow, lastSnapshot = now, m
	}

	// Nothing new: no metric or log source opened, nothing published.
	c := &counted{}
	rep, err := sc.night(t, c, day0(days).Add(5*time.Hour), nil)
	if err != nil || rep.Outcome != NothingToDo {
		t.Fatalf("re-run: %s %v", rep.Outcome, err)
	}
	if c.metrics.Load() != 0 || c.logs.Load() != 0 {
		t.Errorf("re-run opened %d metric and %d log sources, want none", c.metrics.Load(), c.logs.Load())
	}

	// The final snapshot equals a one-shot export of the ten days.
	if !lastSnapshot.Changelog.Watermark.Equal(day0(days)) {
		t.Fatalf("final watermark %s, want %s", lastSnapshot.Changelog.Watermark, day0(days))
	}
	if err := sc.plan.Apply(sc.dir, day0(days+30)); err != nil {
		t.Fatal(err)
	}
	oneShot := filepath.Join(t.TempDir(), "oneshot")
	res, err := runner.Export(ctx, runner.Options{Spec: sc.spec, SpecBytes: sc.bytes, From: day0(0), To: day0(days), Output: "file://" + oneShot,
		Components: (&counted{}).components(), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var tableFiles int
	for _, f := range res.Manifest.Files {
		if f.Table == "" {
			continue
		}
		tableFiles++
		got := fileAt(lastSnapshot, f.Path)
		if got == nil || got.SHA256 != f.SHA256 || *got.Rows != *f.Rows {
			t.Errorf("final snapshot %s differs from the one-shot export (%+v vs %+v)", f.Path, got, f)
		}
	}
	if n := countTableFiles(lastSnapshot); n != tableFiles {
		t.Errorf("final snapshot has %d table files, one-shot %d", n, tableFiles)
	}
	// Row for row on windows, too (not only bytes).
	a, b := readAllWindows(t, filepath.Join(ds, "current")), readAllWindows(t, filepath.Join(oneShot, "demo-cluster", res.Version))
	if len(a) != len(b) {
		t.Fatalf("windows: %d rows nightly, %d one-shot", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("windows row %d: nightly %+v, one-shot %+v", i, a[i], b[i])
		}
	}
	// The changelog is on the catalog page, with its reasons.
	page, err := os.ReadFile(filepath.Join(ds, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="changelog"`, "created 2 days after impact", "edited", "log input"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("catalog page lacks %q", want)
		}
	}
	// One line of pandas, pyarrow, DuckDB and polars reads the whole dataset.
	checkReaders(t, filepath.Join(ds, "current"), int64(len(a)))

	// The incident 10 minutes after midnight puts the 30-minute horizon on the day before.
	var pre int
	for _, r := range a {
		if r.Entity == "catalog" && r.WindowStart.UTC().After(day0(5).Add(-31*time.Minute)) && r.WindowStart.UTC().Before(day0(5)) && r.Phase == schemas.PhasePreIncident {
			pre++
		}
	}
	if pre < 20 {
		t.Errorf("catalog has %d pre_incident windows before the midnight of day 6, want the horizon's", pre)
	}
	var bytesParts int64
	filepath.WalkDir(filepath.Join(ds, "parts"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			bytesParts += fi.Size()
		}
		return nil
	})
	t.Logf("parts: %d objects, %d bytes; one-shot version %d bytes", len(parts), bytesParts, res.Manifest.Bytes)
	if bytesParts > 3*res.Manifest.Bytes {
		t.Errorf("stored parts %d bytes > 3x one version (%d): storage grows with nights", bytesParts, res.Manifest.Bytes)
	}
}

type labelRow struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity"`
	Active      bool      `parquet:"incident_active"`
	IDs         []string  `parquet:"incident_ids,list"`
	Phase       string    `parquet:"phase"`
}

// labelDigest digests the label columns of one day's windows.
func labelDigest(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	var b strings.Builder
	for _, f := range files {
		rows, err := parquet.ReadFile[labelRow](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			fmt.Fprintf(&b, "%d %s %v %v %s\n", r.WindowStart.UnixMilli(), r.Entity, r.Active, r.IDs, r.Phase)
		}
	}
	return b.String()
}

// arrivalOn: some late ticket for date arrived in (from, to].
func arrivalOn(as []arrivalT, date string, from, to time.Time) bool {
	for _, a := range as {
		if a.date == date && a.at.After(from) && !a.at.After(to) {
			return true
		}
	}
	return false
}

type fullRow struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity"`
	Active      bool      `parquet:"incident_active"`
	Phase       string    `parquet:"phase"`
	Minutes     *float64  `parquet:"minutes_to_next_incident,optional"`
	Requests    *float64  `parquet:"requests_per_second,optional"`
	LogLines    int64     `parquet:"log_lines"`
}

type cmpRow struct {
	WindowStart time.Time
	Entity      string
	Active      bool
	Phase       string
	Minutes     float64
	Requests    float64
	LogLines    int64
}

type arrivalT struct {
	id, note string
	at       time.Time
	date     string // impact date
}

func readAllWindows(t *testing.T, dir string) []cmpRow {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "windows", "date=*", "*.parquet"))
	slices.Sort(files)
	var out []cmpRow
	for _, f := range files {
		rows, err := parquet.ReadFile[fullRow](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			c := cmpRow{WindowStart: r.WindowStart.UTC(), Entity: r.Entity, Active: r.Active, Phase: r.Phase, LogLines: r.LogLines, Minutes: -1, Requests: -1}
			if r.Minutes != nil {
				c.Minutes = *r.Minutes
			}
			if r.Requests != nil {
				c.Requests = *r.Requests
			}
			out = append(out, c)
		}
	}
	return out
}

func impactDate(t *testing.T, raw json.RawMessage) string {
	var tk struct {
		ImpactStart string `json:"impact_start"`
		Timezone    string `json:"timezone"`
	}
	if err := json.Unmarshal(raw, &tk); err != nil {
		t.Fatal(err)
	}
	if tk.Timezone != "" {
		loc, _ := time.LoadLocation(tk.Timezone)
		x, err := time.ParseInLocation(time.DateTime, tk.ImpactStart, loc)
		if err != nil {
			t.Fatal(err)
		}
		return x.UTC().Format(time.DateOnly)
	}
	x, err := time.Parse(time.RFC3339, tk.ImpactStart)
	if err != nil {
		t.Fatal(err)
	}
	return x.UTC().Format(time.DateOnly)
}

func publishedDay(m *schemas.Manifest, date string) bool {
	for _, f := range m.Files {
		if f.Partition == "date="+date {
			return true
		}
	}
	return false
}

func findChange(cl *schemas.Changelog, date string) *schemas.DayChange {
	for i := range cl.Changed {
		if cl.Changed[i].Date == date {
			return &cl.Changed[i]
		}
	}
	return nil
}

func mentions(reasons []string, s string) bool {
	for _, r := range reasons {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

func fileAt(m *schemas.Manifest, p string) *schemas.File {
	for i := range m.Files {
		if m.Files[i].Path == p {
			return &m.Files[i]
		}
	}
	return nil
}

func countTableFiles(m *schemas.Manifest) int {
	n := 0
	for _, f := range m.Files {
		if f.Table != "" {
			n++
		}
	}
	return n
}
