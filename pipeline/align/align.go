// Package align puts everything on the window grid: feature series and log
// counts become the rows of the windows table, one per (window, entity).
package align

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/schemas"
)

// WindowTable is the row type of the windows table for one spec: the
// columns of schemas.WindowKey, one optional DOUBLE per feature (in spec
// order), then schemas.WindowLogs, one INT64 count column per template
// column (NewWindowTableTemplates) and schemas.WindowLabels.
type WindowTable struct {
	typ       reflect.Type
	features  []string
	templates []string
	keyAt     []int // field index in typ for each WindowKey field
	featureAt int   // index of the first feature field
	logsAt    []int
	tplAt     int // index of the first template count field
	labelsAt  []int
}

// NewWindowTable builds the row type for the given feature names.
func NewWindowTable(features []string) *WindowTable {
	return NewWindowTableTemplates(features, nil)
}

// NewWindowTableTemplates builds the row type for the given feature names
// and template count columns (e.g. tpl_<template_id>), placed after the
// per-level log counts.
func NewWindowTableTemplates(features, templates []string) *WindowTable {
	t := &WindowTable{features: features, templates: templates}
	var fields []reflect.StructField
	add := func(src reflect.Type) []int {
		var idx []int
		for i := 0; i < src.NumField(); i++ {
			f := src.Field(i)
			idx = append(idx, len(fields))
			fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
		}
		return idx
	}
	t.keyAt = add(reflect.TypeOf(schemas.WindowKey{}))
	t.featureAt = len(fields)
	for i, name := range features {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("Feature%d", i),
			Type: reflect.TypeOf((*float64)(nil)),
			Tag:  reflect.StructTag(fmt.Sprintf(`parquet:"%s,optional"`, name)),
		})
	}
	t.logsAt = add(reflect.TypeOf(schemas.WindowLogs{}))
	t.tplAt = len(fields)
	for i, name := range templates {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("Template%d", i),
			Type: reflect.TypeOf(int64(0)),
			Tag:  reflect.StructTag(fmt.Sprintf(`parquet:"%s"`, name)),
		})
	}
	t.labelsAt = add(reflect.TypeOf(schemas.WindowLabels{}))
	t.typ = reflect.StructOf(fields)
	return t
}

// Type is the row struct type.
func (t *WindowTable) Type() reflect.Type { return t.typ }

// Features are the feature column names in order.
func (t *WindowTable) Features() []string { return t.features }

// Templates are the template count column names in order.
func (t *WindowTable) Templates() []string { return t.templates }

// Row builds one row; NaN feature values become nulls. Template counts
// are zero.
func (t *WindowTable) Row(key schemas.WindowKey, features []float64, logs schemas.WindowLogs, labels schemas.WindowLabels) any {
	return t.RowTemplates(key, features, logs, nil, labels)
}

// RowTemplates builds one row with the template counts tpl (one per
// template column; missing ones are zero).
func (t *WindowTable) RowTemplates(key schemas.WindowKey, features []float64, logs schemas.WindowLogs, tpl []int64, labels schemas.WindowLabels) any {
	p := reflect.New(t.typ)
	v := p.Elem()
	copyFields(v, t.keyAt, reflect.ValueOf(key))
	for i, f := range features {
		if !math.IsNaN(f) {
			x := f
			v.Field(t.featureAt + i).Set(reflect.ValueOf(&x))
		}
	}
	copyFields(v, t.logsAt, reflect.ValueOf(logs))
	for i, n := range tpl {
		if i < len(t.templates) {
			v.Field(t.tplAt + i).SetInt(n)
		}
	}
	copyFields(v, t.labelsAt, reflect.ValueOf(labels))
	return p.Interface()
}

func copyFields(dst reflect.Value, at []int, src reflect.Value) {
	for i, j := range at {
		dst.Field(j).Set(src.Field(i))
	}
}

// Frame collects one partition's worth of window data (one UTC day) for a
// fixed entity set before it becomes rows.
type Frame struct {
	Grid        pipeline.Grid
	EntityLabel string
	entities    []string
	index       map[string]int
	features    int
	values      [][][]float64 // [entity][feature][window]
	logs        [][]schemas.WindowLogs
	templates   int
	tpl         [][]int64 // [entity][window*templates+k]
}

// WithTemplates allocates n template count columns (all zero) and returns f.
func (f *Frame) WithTemplates(n int) *Frame {
	f.templates = n
	f.tpl = make([][]int64, len(f.entities))
	for e := range f.tpl {
		f.tpl[e] = make([]int64, f.Grid.Len()*n)
	}
	return f
}

// AddTemplate counts one line of template column k (0 <= k < n of
// WithTemplates). It returns false when the entity is unknown, the time is
// outside the frame or k is out of range.
func (f *Frame) AddTemplate(entity string, t time.Time, k int) bool {
	e, ok := f.index[entity]
	if !ok || k < 0 || k >= f.templates {
		return false
	}
	i, ok := f.Grid.Index(t)
	if !ok {
		return false
	}
	f.tpl[e][i*f.templates+k]++
	return true
}

// NewFrame allocates a frame for the entities (sorted) and nFeatures.
func NewFrame(grid pipeline.Grid, entityLabel string, entities []string, nFeatures int) *Frame {
	f := &Frame{Grid: grid, EntityLabel: entityLabel, entities: entities, index: map[string]int{}, features: nFeatures}
	n := grid.Len()
	f.values = make([][][]float64, len(entities))
	f.logs = make([][]schemas.WindowLogs, len(entities))
	for e, name := range entities {
		f.index[name] = e
		f.values[e] = make([][]float64, nFeatures)
		for k := range f.values[e] {
			vs := make([]float64, n)
			for i := range vs {
				vs[i] = math.NaN()
			}
			f.values[e][k] = vs
		}
		f.logs[e] = make([]schemas.WindowLogs, n)
	}
	return f
}

// ErrEntity reports a feature whose result does not map onto entities.
type ErrEntity struct {
	Feature, Entity, Label, Series string
	Duplicate                      bool
}

func (e *ErrEntity) Error() string {
	if e.Duplicate {
		return fmt.Sprintf("feature %s returns more than one series for %s %q (second: %s); aggregate to one series per entity, e.g. sum by (%s) (...)", e.Feature, e.Label, e.Entity, e.Series, e.Label)
	}
	return fmt.Sprintf("feature %s returns series %s without the entity label %q; aggregate with by (%s)", e.Feature, e.Series, e.Label, e.Label)
}

// AddFeature places one feature series on the frame. It returns false when
// the series' entity is not in the frame's entity set.
func (f *Frame) AddFeature(k int, s pipeline.FeatureSeries, seen map[string]bool) (bool, error) {
	ent := s.Labels.Get(f.EntityLabel)
	if ent == "" {
		return false, &ErrEntity{Feature: s.Feature, Label: f.EntityLabel, Series: s.Labels.String()}
	}
	key := s.Feature + "\x00" + ent
	if seen[key] {
		return false, &ErrEntity{Feature: s.Feature, Entity: ent, Label: f.EntityLabel, Series: s.Labels.String(), Duplicate: true}
	}
	seen[key] = true
	e, ok := f.index[ent]
	if !ok {
		return false, nil
	}
	copy(f.values[e][k], s.Values)
	return true, nil
}

// AddLog counts one log line. It returns false when the line's entity is
// unknown or its time is outside the frame.
func (f *Frame) AddLog(entity string, t time.Time, level string) bool {
	e, ok := f.index[entity]
	if !ok {
		return false
	}
	i, ok := f.Grid.Index(t)
	if !ok {
		return false
	}
	c := &f.logs[e][i]
	c.LogLines++
	switch level {
	case pipeline.LevelDebug:
		c.LogDebug++
	case pipeline.LevelInfo:
		c.LogInfo++
	case pipeline.LevelWarn:
		c.LogWarn++
	case pipeline.LevelError:
		c.LogError++
	default:
		c.LogOther++
	}
	return true
}

// Rows calls emit for every (entity, window) in order: by the entity's
// published name, then window start. name gives an entity's published name;
// labels returns the label columns of an entity's windows.
func (f *Frame) Rows(t *WindowTable, name func(entity string) string, labels func(entity string) []schemas.WindowLabels, emit func(row any) error) error {
	perEntity := make([][]schemas.WindowLabels, len(f.entities))
	published := make([]string, len(f.entities))
	for e, raw := range f.entities {
		perEntity[e] = labels(raw)
		published[e] = name(raw)
	}
	// Rows go out entity by entity (published names in order), each
	// entity's windows in time order: a row group then holds whole
	// entity-days and a one-entity query skips the others by their
	// statistics (docs/decisions/0029-windows-entity-first.md).
	order := make([]int, len(f.entities))
	for e := range order {
		order[e] = e
	}
	sort.SliceStable(order, func(a, b int) bool { return published[order[a]] < published[order[b]] })
	feats := make([]float64, f.features)
	for _, e := range order {
		for i := 0; i < f.Grid.Len(); i++ {
			start := f.Grid.At(i)
			for k := range feats {
				feats[k] = f.values[e][k][i]
			}
			var tpl []int64
			if f.templates > 0 {
				tpl = f.tpl[e][i*f.templates : (i+1)*f.templates]
			}
			if err := emit(t.RowTemplates(schemas.WindowKey{WindowStart: start, Entity: published[e]}, feats, f.logs[e][i], tpl, perEntity[e][i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// SortedSet returns the sorted unique non-empty strings of the inputs.
func SortedSet(lists ...[]string) []string {
	m := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			if s != "" {
				m[s] = true
			}
		}
	}
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// NewRow returns a pointer to a zero row, e.g. for deriving the schema.
func (t *WindowTable) NewRow() any { return reflect.New(t.typ).Interface() }

// Key returns a row's (window start, entity) key; row is a pointer to a
// value of the table's type (NewRow).
func (t *WindowTable) Key(row any) schemas.WindowKey {
	var k schemas.WindowKey
	v := reflect.ValueOf(row).Elem()
	kv := reflect.ValueOf(&k).Elem()
	for i, j := range t.keyAt {
		kv.Field(i).Set(v.Field(j))
	}
	return k
}

// SetLabels replaces a row's label columns (a relabelled day keeps every
// other column as it was written).
func (t *WindowTable) SetLabels(row any, labels schemas.WindowLabels) {
	copyFields(reflect.ValueOf(row).Elem(), t.labelsAt, reflect.ValueOf(labels))
}
