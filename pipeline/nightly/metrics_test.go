package nightly

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/opsdata/opsdata/internal/promtest"
	"github.com/opsdata/opsdata/spec"
)

// The run's metrics reach a real Prometheus both ways: pushed to Debian's
// Pushgateway and written as a textfile that Debian's node_exporter
// (textfile collector) exposes. A failed run keeps the last success time
// and flips the outcome.
func TestMetricsInPrometheus(t *testing.T) {
	prom, _ := promtest.Require(t)
	gw, gwAddr := promtest.StartPushgateway(t, promtest.RequirePushgateway(t))
	tfDir := t.TempDir()
	textfile := filepath.Join(tfDir, "opsdata.prom")
	_, neAddr := promtest.StartNodeExporter(t, tfDir)
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s}
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: ["%s"]}]
  - job_name: textfile
    static_configs: [{targets: ["%s"]}]
`, gwAddr, neAddr)
	ps := promtest.StartConfig(t, prom, t.TempDir(), 5*time.Minute, cfg)

	s := &spec.Spec{Dataset: "demo-cluster", Nightly: spec.Nightly{Pushgateway: gw.URL, Textfile: textfile}}
	ctx := context.Background()
	t1 := time.Date(2026, 1, 15, 4, 0, 30, 0, time.UTC)
	ok := &Report{Outcome: Published, DaysPublished: 12, BadInputRecords: 7, DurationSeconds: 42.5, Watermark: day0(10)}
	if err := exportMetrics(ctx, s, ok, t1); err != nil {
		t.Fatal(err)
	}
	// The textfile is valid exposition format.
	f, err := os.Open(textfile)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(f)
	f.Close()
	if err != nil {
		t.Fatalf("textfile: %v", err)
	}
	for _, name := range []string{MetricLastSuccess, MetricDays, MetricDuration, MetricBadInput, MetricOutcome, MetricWatermark} {
		if fams[name] == nil {
			t.Errorf("textfile lacks %s", name)
		}
	}

	for _, job := range []string{PushJob, "textfile"} {
		sel := fmt.Sprintf(`{job=%q,dataset="demo-cluster"}`, job)
		waitValue(t, ps.URL, MetricLastSuccess+sel, float64(t1.Unix()))
		waitValue(t, ps.URL, MetricDays+sel, 12)
		waitValue(t, ps.URL, MetricBadInput+sel, 7)
		waitValue(t, ps.URL, MetricDuration+sel, 42.5)
		waitValue(t, ps.URL, MetricOutcome+fmt.Sprintf(`{job=%q,dataset="demo-cluster",outcome="published"}`, job), 1)
	}

	// A failed run: the outcome flips, the last success stays.
	t2 := t1.Add(24 * time.Hour)
	if err := exportMetrics(ctx, s, &Report{Outcome: Failed, DurationSeconds: 3}, t2); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{PushJob, "textfile"} {
		sel := fmt.Sprintf(`{job=%q,dataset="demo-cluster"}`, job)
		waitValue(t, ps.URL, MetricOutcome+fmt.Sprintf(`{job=%q,dataset="demo-cluster",outcome="failed"}`, job), 1)
		waitValue(t, ps.URL, MetricLastRun+sel, float64(t2.Unix()))
		waitValue(t, ps.URL, MetricLastSuccess+sel, float64(t1.Unix()))
	}
}

// waitValue polls an instant query until it returns one sample equal to want.
func waitValue(t *testing.T, base, query string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var r struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err == nil && len(r.Data.Result) == 1 {
				v, _ := strconv.ParseFloat(fmt.Sprint(r.Data.Result[0].Value[1]), 64)
				if v == want {
					return
				}
				last = fmt.Sprint(v)
			} else if err == nil {
				last = fmt.Sprintf("%d series", len(r.Data.Result))
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("Prometheus: %s = %s after 30s, want %v", query, last, want)
}
