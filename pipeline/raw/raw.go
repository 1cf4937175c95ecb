// Package raw writes every sample of the selected series, unaggregated, as
// the long tidy table `samples` (Hive-partitioned by UTC date) plus the
// `raw_series` table (schemas/raw.go). It reads through storage.Querier,
// so the same code serves TSDB blocks read directly (OpenTSDB) and a live
// server by remote read with STREAMED_XOR_CHUNKS (OpenRemote). Series are
// streamed one at a time and rows go out in bounded batches, so memory
// stays flat in the number of samples (it grows only with the number of
// series, for the id map). See docs/decisions/0007-raw-export.md.
package raw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// ErrNativeHistogram is returned for a series holding native histogram
// samples: the samples table has no place for them (decision 0007).
var ErrNativeHistogram = errors.New("native histogram samples are not supported by the raw export; exclude the series with --match (e.g. {__name__!=\"...\"})")

// batchRows bounds the rows buffered before they are handed to the
// Parquet writer (which itself flushes a row group every
// write.MaxRowsPerRowGroup rows).
const batchRows = 8192

// Options says what to export and where.
type Options struct {
	// Selectors are matcher sets; a series is exported when any set matches.
	Selectors [][]*labels.Matcher
	From, To  time.Time // [From, To), UTC
	Dir       string    // staging directory; tables go under it
	// Labels anonymizes a series' labels (without __name__) for raw_series;
	// nil keeps them as they are.
	Labels func(labels.Labels) labels.Labels
}

// Stats counts what was written.
type Stats struct {
	Series, Samples, Stale int64
	Files                  int
}

// Write exports every sample of the selected series in [o.From, o.To) from
// q, one UTC day per partition, series in label order within a day. Series
// ids number series by first appearance (days in order), so the same input
// gives the same bytes.
//
// Decoding (this goroutine) and Parquet encoding and compression (a second
// goroutine) overlap: batches of batchRows samples go from one to the other
// through a fixed pool of buffers, so memory stays bounded.
func Write(ctx context.Context, q storage.Querier, o Options) (Stats, error) {
	var st Stats
	if len(o.Selectors) == 0 {
		return st, errors.New("raw: no series selector (give at least one --match)")
	}
	if !o.To.After(o.From) {
		return st, fmt.Errorf("raw: empty range %s..%s", o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newDayWriter(o.Dir, cancel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run()
	}()
	series, err := decode(ctx, q, o, w, &st)
	close(w.work)
	<-done
	if w.err != nil {
		return st, w.err
	}
	if err != nil {
		return st, err
	}
	st.Files = w.files
	st.Series = int64(len(series))
	if len(series) > 0 {
		if _, err := write.Table(o.Dir, write.PartPath(schemas.TableRawSeries, "", 0), series, "series_id"); err != nil {
			return st, err
		}
		st.Files++
	}
	return st, nil
}

// decode reads the selected series day by day and hands their samples to
// w in batches; it returns the raw_series rows.
func decode(ctx context.Context, q storage.Querier, o Options, w *dayWriter, st *Stats) ([]schemas.RawSeries, error) {
	ids := map[string]int64{}
	var series []schemas.RawSeries
	from, to := o.From.UnixMilli(), o.To.UnixMilli()
	const dayMs = int64(24 * time.Hour / time.Millisecond)
	var it chunkenc.Iterator
	for dayStart := from - ((from%dayMs)+dayMs)%dayMs; dayStart < to; dayStart += dayMs {
		lo, hi := max(from, dayStart), min(to, dayStart+dayMs) // [lo, hi)
		date := pipeline.Date(time.UnixMilli(dayStart).UTC())
		buf, err := w.get(ctx)
		if err != nil {
			return nil, err
		}
		hints := &storage.SelectHints{Start: lo, End: hi - 1}
		sets := make([]storage.SeriesSet, 0, len(o.Selectors))
		for _, ms := range o.Selectors {
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set := storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
		for set.Next() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			s := set.At()
			lset := s.Labels()
			key := string(lset.Bytes(nil))
			id, ok := ids[key]
			if !ok {
				id = int64(len(ids))
				ids[key] = id
				row, err := seriesRow(id, lset, o.Labels)
				if err != nil {
					return nil, err
				}
				series = append(series, row)
			}
			it = s.Iterator(it)
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if vt != chunkenc.ValFloat {
					return nil, fmt.Errorf("raw: series %s: %w", lset, ErrNativeHistogram)
				}
				t, v := it.At()
				if t < lo || t >= hi {
					continue
				}
				stale := value.IsStaleNaN(v)
				if stale {
					st.Stale++
					v = math.NaN()
				}
				buf = append(buf, schemas.Sample{SeriesID: id, TS: time.UnixMilli(t).UTC(), Value: v, Stale: stale})
				st.Samples++
				if len(buf) == batchRows {
					w.work <- batch{date: date, rows: buf}
					if buf, err = w.get(ctx); err != nil {
						return nil, err
					}
				}
			}
			if err := it.Err(); err != nil {
				return nil, fmt.Errorf("raw: read series %s: %w", lset, err)
			}
		}
		if err := set.Err(); err != nil {
			return nil, fmt.Errorf("raw: select %s: %w", date, err)
		}
		w.work <- batch{date: date, rows: buf, end: true}
	}
	return series, nil
}

// batch is a run of one day's samples; end closes the day's file.
type batch struct {
	date string
	rows []schemas.Sample
	end  bool
}

// buffers is how many batches may be in flight between the decoder and
// the writer (bounded memory: buffers × batchRows samples).
const buffers = 4

// dayWriter writes the batches it receives into one samples file per day.
type dayWriter struct {
	dir   string
	work  chan batch
	free  chan []schemas.Sample
	files int
	err   error // set by run before it returns
	// stop tells the decoder to stop when writing failed.
	stop context.CancelFunc
}

func newDayWriter(dir string, stop context.CancelFunc) *dayWriter {
	w := &dayWriter{dir: dir, stop: stop, work: make(chan batch, buffers), free: make(chan []schemas.Sample, buffers)}
	for range buffers {
		w.free <- make([]schemas.Sample, 0, batchRows)
	}
	return w
}

// get is an empty buffer, once the writer has returned one.
func (w *dayWriter) get(ctx context.Context) ([]schemas.Sample, error) {
	select {
	case b := <-w.free:
		return b[:0], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// samplesOptions tune the samples files: the fastest zstd level (the
// delta-encoded columns are already small; see docs/benchmarks-notes.md).
var samplesOptions = []parquet.WriterOption{parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest})}

// run writes until work is closed; a day's file is moved into place only
// when its end arrives, so a failed export leaves no finished file.
func (w *dayWriter) run() {
	var f *write.File[schemas.Sample]
	for b := range w.work {
		if w.err == nil && len(b.rows) > 0 {
			if f == nil {
				f, w.err = write.CreateWith[schemas.Sample](w.dir, write.PartPath(schemas.TableSamples, b.date, 0), samplesOptions)
			}
			if w.err == nil {
				w.err = f.Write(b.rows)
			}
		}
		if w.err == nil && b.end && f != nil {
			w.err = f.Close()
			f = nil
			w.files++
		}
		w.free <- b.rows
		if w.err != nil {
			// Stop the decoder, and keep draining so it never blocks.
			w.stop()
		}
	}
	if f != nil {
		f.Abort() // the decoder stopped mid-day
	}
}

func seriesRow(id int64, lset labels.Labels, anon func(labels.Labels) labels.Labels) (schemas.RawSeries, error) {
	name := lset.Get(labels.MetricName)
	rest := labels.NewBuilder(lset).Del(labels.MetricName).Labels()
	if anon != nil {
		rest = anon(rest)
	}
	b, err := json.Marshal(rest.Map()) // encoding/json sorts map keys
	if err != nil {
		return schemas.RawSeries{}, fmt.Errorf("raw: labels of %s: %w", lset, err)
	}
	return schemas.RawSeries{SeriesID: id, Metric: name, Labels: string(b)}, nil
}
