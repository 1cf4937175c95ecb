package runner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// Template mining runs in two passes over the log sources, day by day,
// because a template can still generalize while lines arrive and ids must
// come from the template text:
//
//   - pass 1 of a day (mineDay) reads the day's lines of every source, with
//     one miner per source (its spec templates: parameters) that carries
//     over from the days before, and fixDay fixes the templates as they are
//     after the day, published through the anonymizer's scrubber for
//     logs.message so no raw identifier is in a template or its id;
//   - pass 2 is the logs stage (logsDay): each line of the day gets its
//     template id with Match, and the counts for log_templates, log_counts
//     and the windows table's tpl_<template_id> columns are taken there, so
//     all three agree with the logs table exactly.
//
// A day's template ids depend on that day and the days before it only, so
// exporting a longer range never changes an earlier day's logs (decision
// 0033). The windows' top-template columns are chosen once, after the
// first day, for the same reason: every later day has the same columns.
//
// Memory is flat in the number of lines: the miners and the per-template
// statistics grow with the number of templates, the log_counts of a day
// with windows x entities x templates seen.
type templateSet struct {
	publish func(string) string
	miners  map[string]*logtemplates.Miner // by source name
	// cursors read each source once for pass 1, a day at a time.
	cursors map[string]*mineCursor
	cluster map[*logtemplates.Cluster]int // cluster -> template index
	index   map[string]int                // template id -> index
	tpls    []tplStats
	// top maps a template index to its windows column; fixed after the
	// first day (columns).
	top     map[int]int
	columns []string
	pinned  bool
	// firstDay counts the first day's lines per cluster, for the ranking:
	// the miners' own counts include what a resumed registry carried.
	firstDay map[*logtemplates.Cluster]int64
	// day counts lines per (window, entity, template) of the current day.
	day *dayCounts
	// fieldMemo spares pass 1 relearning a field value it just learned.
	fieldMemo anonymize.FieldMemo
	// seqs spares pass 2 tokenizing the day's lines again (lineseqs.go).
	seqs *lineSeqs
	// dayEntities numbers the day's log entities for countKey.
	dayEntities  []string
	dayEntityIdx map[string]int32
}

type tplStats struct {
	id, text    string
	firstText   string   // lineage: the text the id hashes
	previous    []string // lineage: the other texts it had, oldest first
	mined       int64    // pass 1 count on the first day, ranks the top templates
	count       int64    // pass 2: lines in the logs table
	first, last time.Time
	sources     map[string]bool
}

// countKey is small and has no string: a day holds one per (window,
// entity, template) seen, millions on a busy day.
type countKey struct {
	window, entity, tpl int32 // entity: an index into dayEntities
}

func minerConfig(t spec.LogTemplates) logtemplates.Config {
	return logtemplates.Config{Depth: t.Depth, Similarity: t.Similarity, MaxChildren: t.MaxChildren, Masks: t.Masks, ExtraMasks: t.ExtraMasks}
}

// openTemplates sets up pass 1: a miner per log source (resumed from the
// dataset's registry) and the source read once, a day at a time. Pass 1
// opens its own instances of the sources, whose bad-input reports are
// discarded: pass 2 reads the same lines and reports them once.
func (e *export) openTemplates(ctx context.Context) error {
	ts := &templateSet{
		publish:      func(s string) string { return e.anon.Column("logs.message", s) },
		miners:       map[string]*logtemplates.Miner{},
		cursors:      map[string]*mineCursor{},
		cluster:      map[*logtemplates.Cluster]int{},
		index:        map[string]int{},
		top:          map[int]int{},
		day:          newDayCounts(),
		dayEntityIdx: map[string]int32{},
		firstDay:     map[*logtemplates.Cluster]int64{},
		seqs:         newLineSeqs(),
	}
	e.templates = ts
	registries := e.registries
	if cp := e.resumed; cp != nil {
		var err error
		if registries, err = ts.restore(cp.Templates); err != nil { // checkpoint.go
			return err
		}
	}
	for i, lp := range e.plan.Logs {
		lc := lp.Spec
		src, err := lp.Factory.New(lc.Name, lp.Config, &pipeline.Problems{})
		if err != nil {
			return fmt.Errorf("logs %s: %w", lc.Name, err)
		}
		mc := minerConfig(lc.Templates)
		mc.IDText = ts.publish // ids hash the published first text, never a raw one
		m, err := logtemplates.NewMiner(mc, registries[lc.Name])
		if err != nil {
			return fmt.Errorf("logs %s: templates: %w; fix logs[%d].templates in the spec", lc.Name, err, i)
		}
		e.resumeLogs(src) // pass 1 skips what the checkpoint's run read, too
		if fs, ok := src.(pipeline.FieldSelector); ok {
			fs.SelectFields(e.anon.FieldsRead()) // the fields pass 1 learns from
		}
		raw, err := src.Open(ctx, e.grid)
		if err != nil {
			return fmt.Errorf("logs %s: %w", lc.Name, err)
		}
		ts.miners[lc.Name] = m
		ts.cursors[lc.Name] = &mineCursor{it: newPrefetch(raw, e.clock, stageLogs1Parse)}
	}
	return nil
}

// closeTemplates stops pass 1's readers.
func (ts *templateSet) close() {
	if ts == nil {
		return
	}
	for _, c := range ts.cursors {
		c.it.Close()
	}
}

// mineCursor is one source's pass 1 reader, with a one-line peek so a day
// stops at the day's end.
type mineCursor struct {
	it     *prefetch
	head   pipeline.LogRecord
	peeked bool
}

// mineDay is pass 1 of one day: every source's lines of the day go to its
// miner, and the lines' structured fields and entities are learned before
// any of the day's templates is published. A line older than the day
// (out of order across midnight) was its own day's to mine: skipped here,
// matched in pass 2 like any other.
func (e *export) mineDay(ctx context.Context, day pipeline.Grid) error {
	ts := e.templates
	// The day's log entities, once each (a day has millions of lines and a
	// handful of entities).
	seen := map[string]struct{}{}
	workers := e.logWorkers()
	cur, next := newMineBatch(), newMineBatch()
	var ahead sync.WaitGroup // next's tokenizing, running while cur is learned
	defer ahead.Wait()
	ts.seqs.reset()
	for _, lp := range e.plan.Logs {
		name := lp.Spec.Name
		c, m := ts.cursors[name], ts.miners[name]
		// Lines are tokenized on every core, the next batch while this one
		// is added to the miner and learned in line order, as one line after
		// the other (tokenizing reads no state that adding changes).
		tokenize := func(b *mineBatch) {
			ahead.Add(1)
			go func() {
				defer ahead.Done()
				inParts(len(b.recs), workers, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						m.Tokenize(&b.toks[i], b.recs[i].Message)
						b.sigs[i] = ts.seqs.sign(name, b.toks[i].Masked(), b.recs[i].Message)
					}
				})
			}()
		}
		var more bool
		cur.recs, more = c.take(cur.recs[:0], day)
		if len(cur.recs) > 0 {
			tokenize(cur)
		}
		for len(cur.recs) > 0 {
			ahead.Wait()
			next.recs = next.recs[:0]
			if more {
				next.recs, more = c.take(next.recs, day)
			}
			if len(next.recs) > 0 {
				tokenize(next)
			}
			for i := range cur.recs {
				rec := &cur.recs[i]
				e.anon.LearnFields(rec.Fields, &ts.fieldMemo)
				cl := m.AddTokens(&cur.toks[i], rec.Time)
				ts.seqs.note(rec, cur.sigs[i])
				if !ts.pinned {
					ts.firstDay[cl]++
				}
				if rec.Entity != "" {
					seen[rec.Entity] = struct{}{}
				}
			}
			clear(cur.recs) // keep no line alive
			if err := ctx.Err(); err != nil {
				return err
			}
			cur, next = next, cur
		}
		if err := c.it.Err(); err != nil {
			return fmt.Errorf("logs %s: mining templates: %w", name, err)
		}
	}
	ts.seqs.seal()
	if e.openMembers {
		e.addEntities(slices.Sorted(maps.Keys(seen)))
	}
	return nil
}

// mineBatch is one batch of pass 1: its lines and their tokens.
type mineBatch struct {
	recs []pipeline.LogRecord
	toks []logtemplates.Tokens
	sigs []lineSig
}

func newMineBatch() *mineBatch {
	return &mineBatch{
		recs: make([]pipeline.LogRecord, 0, mineBatchLines),
		toks: make([]logtemplates.Tokens, mineBatchLines),
		sigs: make([]lineSig, mineBatchLines),
	}
}

// mineBatchLines is how many lines pass 1 tokenizes at once.
const mineBatchLines = 1024

// take appends to recs the source's next lines of day, up to mineBatchLines,
// and reports whether the day may have more. Lines older than the day are
// skipped.
func (c *mineCursor) take(recs []pipeline.LogRecord, day pipeline.Grid) ([]pipeline.LogRecord, bool) {
	for len(recs) < mineBatchLines {
		if !c.peeked {
			if !c.it.Next() {
				return recs, false
			}
			c.head, c.peeked = c.it.At(), true
		}
		if !c.head.Time.Before(day.End) {
			return recs, false
		}
		c.peeked = false
		if !c.head.Time.Before(day.Start) {
			recs = append(recs, c.head)
		}
	}
	return recs, true
}

// fixDay publishes the templates' texts as they are after the day, once
// the day's entities have their published names (entities.go), and picks
// the windows' top templates after the first day.
func (e *export) fixDay() {
	ts := e.templates
	clear(ts.cluster)
	// Sources in spec order, templates in the miner's (count, id) order:
	// the same text from two sources is one template.
	texted := map[int]bool{}
	for _, lp := range e.plan.Logs {
		m := ts.miners[lp.Spec.Name]
		if m == nil {
			continue
		}
		rows, byCluster := m.Templates(ts.publish)
		local := make([]int, len(rows))
		for i, r := range rows {
			k := ts.add(r.ID, r.Template)
			t := &ts.tpls[k]
			if !texted[k] {
				t.text, texted[k] = r.Template, true
			}
			if t.firstText == "" {
				t.firstText = r.FirstTemplate
			}
			for _, p := range r.PreviousTemplates {
				if p != t.text && !slices.Contains(t.previous, p) {
					t.previous = append(t.previous, p)
				}
			}
			local[i] = k
		}
		for c, i := range byCluster {
			ts.cluster[c] = local[i]
		}
	}
	if ts.pinned {
		return
	}
	ts.pinned = true
	for c, n := range ts.firstDay {
		if k, ok := ts.cluster[c]; ok {
			ts.tpls[k].mined += n
		}
	}
	ts.firstDay = nil
	if n := e.s.LogFeatures.TopTemplates; n > 0 {
		order := make([]int, len(ts.tpls))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool {
			x, y := ts.tpls[order[a]], ts.tpls[order[b]]
			if x.mined != y.mined {
				return x.mined > y.mined
			}
			return x.id < y.id
		})
		for _, k := range order {
			if len(ts.columns) == n || ts.tpls[k].mined == 0 {
				break
			}
			ts.top[k] = len(ts.columns)
			ts.columns = append(ts.columns, "tpl_"+ts.tpls[k].id)
		}
	}
}

func (ts *templateSet) add(id, text string) int {
	if k, ok := ts.index[id]; ok {
		return k
	}
	k := len(ts.tpls)
	ts.index[id] = k
	ts.tpls = append(ts.tpls, tplStats{id: id, text: text, sources: map[string]bool{}})
	return k
}

// clusterOf and matched are the mine stage of pass 2 for one line of the
// logs table. clusterOf is the read-only half: the mined cluster of rec's
// message (nil: none), safe on many goroutines once the day is mined.
func (ts *templateSet) clusterOf(sc *logtemplates.MatchScratch, fc *fileCursor, rec *pipeline.LogRecord) *logtemplates.Cluster {
	m := ts.miners[rec.Source]
	if m == nil {
		return nil
	}
	if id, ok := ts.seqs.mined(fc, rec); ok {
		return ts.seqs.matched(id, func() *logtemplates.Cluster { return m.MatchInto(sc, rec.Message) })
	}
	return m.MatchInto(sc, rec.Message)
}

// matched is the rest, in line order (c is clusterOf's answer): it returns
// the line's template (an index into tpls) and counts the line in the
// template's statistics (log_templates).
func (ts *templateSet) matched(rec *pipeline.LogRecord, c *logtemplates.Cluster) int {
	k := -1
	if m := ts.miners[rec.Source]; m != nil {
		if c != nil {
			if i, ok := ts.cluster[c]; ok {
				k = i
			}
		}
		if k < 0 {
			// Not similar enough to any final template (rare: a template
			// that generalized past the line). The masked line is its own.
			text := ts.publish(m.MaskedTemplate(rec.Message))
			k = ts.add(logtemplates.ID(text), text)
		}
	} else {
		text := ts.publish(rec.Message)
		k = ts.add(logtemplates.ID(text), text)
	}
	t := &ts.tpls[k]
	if t.count == 0 || rec.Time.Before(t.first) {
		t.first = rec.Time
	}
	if t.count == 0 || rec.Time.After(t.last) {
		t.last = rec.Time
	}
	t.count++
	t.sources[rec.Source] = true
	return k
}

// count is the template part of the align stage: the line's count per
// (window, entity, template) of the day for log_counts, and its windows
// column when the template is a top one.
func (ts *templateSet) count(rec *pipeline.LogRecord, k int, day pipeline.Grid, frame *align.Frame) {
	if w, ok := day.Index(rec.Time); ok {
		en, ok := ts.dayEntityIdx[rec.Entity]
		if !ok {
			en = int32(len(ts.dayEntities))
			ts.dayEntities = append(ts.dayEntities, rec.Entity)
			ts.dayEntityIdx[rec.Entity] = en
		}
		ts.day.add(int32(w), en, int32(k))
	}
	if col, ok := ts.top[k]; ok {
		frame.AddTemplate(rec.Entity, rec.Time, col)
	}
}

// writeDayCounts writes the day's log_counts partition and resets the
// day's counts.
func (e *export) writeDayCounts(day pipeline.Grid) error {
	ts := e.templates
	if ts == nil || ts.day.empty() {
		return nil
	}
	counts := ts.day.counts()
	rows := make([]schemas.LogCount, 0, len(counts))
	for _, c := range counts {
		rows = append(rows, schemas.LogCount{WindowStart: day.At(int(c.key.window)), Entity: e.entity(ts.dayEntities[c.key.entity]),
			TemplateID: ts.tpls[c.key.tpl].id, Count: c.n})
	}
	// New ones, not cleared: the day's counts are the largest thing the
	// logs path holds.
	ts.day, ts.dayEntities, ts.dayEntityIdx = newDayCounts(), nil, map[string]int32{}
	sort.Slice(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		if !x.WindowStart.Equal(y.WindowStart) {
			return x.WindowStart.Before(y.WindowStart)
		}
		if x.Entity != y.Entity {
			return x.Entity < y.Entity
		}
		return x.TemplateID < y.TemplateID
	})
	// Raw entities outside the run's set all publish as "": one row each
	// (window, entity, template) with their lines summed, whatever order
	// the counts came in.
	merged := rows[:0]
	for _, r := range rows {
		if m := len(merged) - 1; m >= 0 && merged[m].WindowStart.Equal(r.WindowStart) && merged[m].Entity == r.Entity && merged[m].TemplateID == r.TemplateID {
			merged[m].Count += r.Count
			continue
		}
		merged = append(merged, r)
	}
	rows = merged
	n, err := write.Table(e.staging, write.PartPath(schemas.TableLogCounts, pipeline.Date(day.Start), 0), rows, "window_start", "entity", "template_id")
	if err != nil {
		return fmt.Errorf("log_counts %s: %w", pipeline.Date(day.Start), err)
	}
	e.rows[schemas.TableLogCounts] += n
	return nil
}

// writeTemplates writes log_templates: every template with at least one
// line in the logs table, sorted by id.
func (e *export) writeTemplates() error {
	ts := e.templates
	if ts == nil {
		return nil
	}
	var rows []schemas.LogTemplate
	for _, t := range ts.tpls {
		if t.count == 0 {
			continue
		}
		srcs := make([]string, 0, len(t.sources))
		for s := range t.sources {
			srcs = append(srcs, s)
		}
		sort.Strings(srcs)
		rows = append(rows, schemas.LogTemplate{TemplateID: t.id, Template: t.text, Sources: srcs, FirstSeen: t.first.UTC(), LastSeen: t.last.UTC(), Count: t.count,
			FirstTemplate: firstOr(t.firstText, t.text), PreviousTemplates: nonNilStrings(t.previous)})
	}
	if len(rows) == 0 {
		return nil
	}
	sort.Slice(rows, func(a, b int) bool { return rows[a].TemplateID < rows[b].TemplateID })
	n, err := write.Table(e.staging, write.PartPath(schemas.TableLogTemplates, "", 0), rows, "template_id")
	if err != nil {
		return fmt.Errorf("log_templates: %w", err)
	}
	e.rows[schemas.TableLogTemplates] = n
	return nil
}

func firstOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// nonNilStrings makes an empty list an empty Parquet list, not a null one.
func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
