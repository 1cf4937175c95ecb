package nightly

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/opsdata/opsdata/spec"
)

// PushJob is the Pushgateway job name; the dataset is the grouping key.
const PushJob = "opsdata_nightly"

// Metric names (docs/nightly.md lists them with alert examples).
const (
	MetricLastSuccess = "opsdata_last_success_timestamp_seconds"
	MetricLastRun     = "opsdata_last_run_timestamp_seconds"
	MetricDays        = "opsdata_days_published_total"
	MetricDuration    = "opsdata_run_duration_seconds"
	MetricBadInput    = "opsdata_bad_input_records_total"
	MetricWatermark   = "opsdata_watermark_timestamp_seconds"
	MetricOutcome     = "opsdata_last_run_outcome"
)

// registry builds the run's metrics. constLabels carries dataset for the
// textfile (the Pushgateway adds it from the grouping key). lastSuccess
// is 0 when unknown and then left out.
func registry(rep *Report, end time.Time, lastSuccess float64, constLabels prometheus.Labels) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: constLabels})
		g.Set(v)
		reg.MustRegister(g)
	}
	if lastSuccess > 0 {
		gauge(MetricLastSuccess, "Unix time the last successful nightly run (published or nothing to do) ended.", lastSuccess)
	}
	gauge(MetricLastRun, "Unix time the last nightly run ended, whatever its outcome.", float64(end.Unix()))
	gauge(MetricDuration, "Wall time of the last nightly run in seconds.", rep.DurationSeconds)
	if rep.Outcome == Published || rep.Outcome == NothingToDo {
		cnt := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricDays, Help: "Day partitions published (added or republished) over the dataset's life.", ConstLabels: constLabels})
		cnt.Add(float64(rep.DaysPublished))
		reg.MustRegister(cnt)
		bad := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricBadInput, Help: "Malformed input records skipped by the last published export.", ConstLabels: constLabels})
		bad.Add(float64(rep.BadInputRecords))
		reg.MustRegister(bad)
		if !rep.Watermark.IsZero() {
			gauge(MetricWatermark, "End of the last published day (Unix time).", float64(rep.Watermark.Unix()))
		}
	}
	out := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricOutcome, Help: "1 for the outcome of the last nightly run.", ConstLabels: constLabels}, []string{"outcome"})
	for _, o := range []Outcome{Published, NothingToDo, LeaseHeld, Failed} {
		v := 0.0
		if o == rep.Outcome {
			v = 1
		}
		out.WithLabelValues(string(o)).Set(v)
	}
	reg.MustRegister(out)
	return reg
}

// exportMetrics writes the node_exporter textfile and pushes to the
// Pushgateway, as the spec's nightly section asks. A failed run keeps the
// previous last-success time (the textfile is read back; the push uses
// POST, which replaces only the metrics pushed).
func exportMetrics(ctx context.Context, s *spec.Spec, rep *Report, end time.Time) error {
	n := s.Nightly
	ok := rep.Outcome == Published || rep.Outcome == NothingToDo
	var errs []string
	if n.Textfile != "" {
		last := 0.0
		if ok {
			last = float64(end.Unix())
		} else {
			last = readTextfileValue(n.Textfile, MetricLastSuccess)
		}
		reg := registry(rep, end, last, prometheus.Labels{"dataset": s.Dataset})
		if err := prometheus.WriteToTextfile(n.Textfile, reg); err != nil {
			errs = append(errs, fmt.Sprintf("textfile %s: %v", n.Textfile, err))
		}
	}
	if n.Pushgateway != "" {
		last := 0.0
		if ok {
			last = float64(end.Unix())
		}
		p := push.New(n.Pushgateway, PushJob).Grouping("dataset", s.Dataset).Gatherer(registry(rep, end, last, nil))
		var err error
		if ok {
			err = p.PushContext(ctx)
		} else {
			err = p.AddContext(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("pushgateway %s: %v", n.Pushgateway, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("metrics: %s", strings.Join(errs, "; "))
	}
	return nil
}

func readTextfileValue(file, name string) float64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			fs := strings.Fields(line)
			v, err := strconv.ParseFloat(fs[len(fs)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}
