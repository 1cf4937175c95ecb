package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The nightly scenario (`opsdata demo --nightly`): what a cluster's inputs
// look like when a nightly job reads them night after night. The demo's
// final inputs are written as usual; nightly/plan.json then says when each
// piece of truth became visible, and Apply replays the inputs as they were
// at a given time:
//
//   - three tickets filed late, 1, 2 and 3 days after their impact;
//   - one ticket edited after resolution (its first version had a wrong
//     resolution time, a lower severity and another title);
//   - one incident that starts 10 minutes after a midnight, so its
//     pre-incident horizon lies on the day before;
//   - one log file that arrives a day and a half late: the last six hours
//     of one service's day 4 (logs/<service>-late.jsonl).
//
// Without --nightly nothing of this is written and the demo is unchanged.

// NightlyPlan is nightly/plan.json.
type NightlyPlan struct {
	Tickets  []TicketVersion `json:"tickets"`
	LateLogs []LateLog       `json:"late_logs"`
}

// TicketVersion is one version of a ticket and when it became visible.
type TicketVersion struct {
	Available time.Time       `json:"available"`
	ID        string          `json:"id"`
	Note      string          `json:"note"`
	Ticket    json.RawMessage `json:"ticket"`
}

// LateLog is a log file that appears in logs/ at Available.
type LateLog struct {
	Available time.Time `json:"available"`
	// File is the held-back copy (under nightly/), Target where it lands.
	File   string `json:"file"`
	Target string `json:"target"`
}

// NightlyPlanFile is the plan's path inside the demo directory.
const NightlyPlanFile = "nightly/plan.json"

// WriteNightly turns a generated demo directory into the nightly scenario
// (see above) and returns the plan. The demo must span at least 6 days.
func WriteNightly(dir string, start time.Time, span time.Duration) (*NightlyPlan, error) {
	if span < 6*24*time.Hour {
		return nil, fmt.Errorf("demo: the nightly scenario needs at least 6 days, not %v", span)
	}
	if err := os.MkdirAll(filepath.Join(dir, "nightly"), 0o755); err != nil {
		return nil, err
	}
	var tickets []ticketJSON
	b, err := os.ReadFile(filepath.Join(dir, "tickets.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &tickets); err != nil {
		return nil, fmt.Errorf("demo: tickets.json: %w", err)
	}
	ny, err := time.LoadLocation(ticketZone)
	if err != nil {
		return nil, err
	}
	parse := func(t ticketJSON, s string) time.Time {
		if t.Timezone != "" {
			x, _ := time.ParseInLocation(time.DateTime, s, ny)
			return x.UTC()
		}
		x, _ := time.Parse(time.RFC3339, s)
		return x.UTC()
	}
	format := func(t ticketJSON, x time.Time) string {
		if t.Timezone != "" {
			return x.In(ny).Format(time.DateTime)
		}
		return rfc3339(x)
	}
	plan := &NightlyPlan{}
	addVersion := func(avail time.Time, t ticketJSON, note string) error {
		raw, err := json.Marshal(t)
		if err != nil {
			return err
		}
		plan.Tickets = append(plan.Tickets, TicketVersion{Available: avail.UTC(), ID: t.ID, Note: note, Ticket: raw})
		return nil
	}
	var resolved []int
	for i, t := range tickets {
		if t.Resolved != nil {
			resolved = append(resolved, i)
		}
	}
	lateBy := map[int]int{}
	edited := -1
	if len(resolved) >= 4 {
		lateBy[resolved[0]], lateBy[resolved[1]], lateBy[resolved[2]] = 2, 1, 3
		edited = resolved[3]
	}
	for i, t := range tickets {
		impact := parse(t, t.ImpactStart)
		switch {
		case lateBy[i] > 0:
			created := impact.Add(time.Duration(lateBy[i])*24*time.Hour + 2*time.Hour)
			t.Created = format(t, created)
			tickets[i] = t
			if err := addVersion(created, t, fmt.Sprintf("filed %d day(s) after impact", lateBy[i])); err != nil {
				return nil, err
			}
		case i == edited:
			first := t
			res := parse(t, *t.Resolved).Add(-20 * time.Minute)
			s := format(t, res)
			first.Resolved, first.Severity, first.Title = &s, "minor", t.Title+" (preliminary)"
			if err := addVersion(parse(t, t.Created), first, "first version"); err != nil {
				return nil, err
			}
			if err := addVersion(parse(t, *t.Resolved).Add(36*time.Hour), t, "edited after resolution: resolution time, severity and title corrected"); err != nil {
				return nil, err
			}
		default:
			if err := addVersion(parse(t, t.Created), t, "filed on time"); err != nil {
				return nil, err
			}
		}
	}
	// An incident 10 minutes after the midnight that starts day 6.
	imp := start.Add(5*24*time.Hour + 10*time.Minute)
	res := rfc3339(imp.Add(45 * time.Minute))
	mid := ticketJSON{ID: "OPS-190", Title: "catalog: search index rebuild stalled after midnight", Body: "Search results stale since the nightly index job; rebuild restarted.",
		Status: "resolved", Severity: "minor", Type: "latency_spike", Created: rfc3339(imp.Add(25 * time.Minute)), ImpactStart: rfc3339(imp), Resolved: &res, Services: []string{"catalog"}}
	tickets = append(tickets, mid)
	if err := addVersion(imp.Add(25*time.Minute), mid, "incident crossing midnight: its pre-incident horizon is on the day before"); err != nil {
		return nil, err
	}
	sort.SliceStable(plan.Tickets, func(i, j int) bool { return plan.Tickets[i].Available.Before(plan.Tickets[j].Available) })
	if err := writeJSON(filepath.Join(dir, "nightly", "tickets.final.json"), tickets); err != nil {
		return nil, err
	}

	// Hold back the last six hours of day 4 of the first JSON-lines log.
	files, _ := filepath.Glob(filepath.Join(dir, "logs", "*.jsonl"))
	sort.Strings(files)
	if len(files) > 0 {
		d4 := start.Add(3 * 24 * time.Hour)
		from, to := d4.Add(18*time.Hour), d4.Add(24*time.Hour)
		base := strings.TrimSuffix(filepath.Base(files[0]), ".jsonl")
		late := LateLog{Available: to.Add(36 * time.Hour), File: "nightly/late-logs/" + base + "-late.jsonl", Target: "logs/" + base + "-late.jsonl"}
		if err := splitLog(files[0], filepath.Join(dir, filepath.FromSlash(late.File)), from, to); err != nil {
			return nil, err
		}
		plan.LateLogs = append(plan.LateLogs, late)
	}
	if err := writeJSON(filepath.Join(dir, filepath.FromSlash(NightlyPlanFile)), plan); err != nil {
		return nil, err
	}
	return plan, plan.Apply(dir, start)
}

// splitLog moves the lines of src with ts in [from, to) into dst.
func splitLog(src, dst string, from, to time.Time) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var keep, moved bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var rec struct {
			TS time.Time `json:"ts"`
		}
		w := &keep
		if json.Unmarshal(line, &rec) == nil && !rec.TS.Before(from) && rec.TS.Before(to) {
			w = &moved
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, moved.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(src, keep.Bytes(), 0o644)
}

// ReadNightlyPlan reads nightly/plan.json of a demo directory.
func ReadNightlyPlan(dir string) (*NightlyPlan, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(NightlyPlanFile)))
	if err != nil {
		return nil, err
	}
	var p NightlyPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", NightlyPlanFile, err)
	}
	return &p, nil
}

// Apply makes the demo's inputs what they were at now: tickets.json holds
// the newest version of every ticket visible by then, and every late log
// file due by then is in logs/. Files already in place are not rewritten
// (their modification time is the inputs' fingerprint).
func (p *NightlyPlan) Apply(dir string, now time.Time) error {
	latest := map[string]json.RawMessage{}
	var order []string
	for _, v := range p.Tickets {
		if v.Available.After(now) {
			continue
		}
		if _, ok := latest[v.ID]; !ok {
			order = append(order, v.ID)
		}
		latest[v.ID] = v.Ticket
	}
	sort.Strings(order)
	list := make([]json.RawMessage, 0, len(order))
	for _, id := range order {
		list = append(list, latest[id])
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return err
	}
	tp := filepath.Join(dir, "tickets.json")
	if old, err := os.ReadFile(tp); err != nil || !bytes.Equal(old, buf.Bytes()) {
		if err := os.WriteFile(tp, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	for _, l := range p.LateLogs {
		dst := filepath.Join(dir, filepath.FromSlash(l.Target))
		_, err := os.Stat(dst)
		if l.Available.After(now) || err == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(l.File)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
