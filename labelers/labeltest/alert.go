package labeltest

// Alertmanager alerts and manual label files for the scenario language
// (testdata/README.md): `alert` lines are served, in Alertmanager's API v2
// shape, by an httptest server the alertmanager labeler reads at `eval
// alertmanager`; `manual` blocks (inline YAML/JSON/CSV) or `manual file=NAME`
// (relative to the scenario file) are read by the manual labeler at `eval
// manual`.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/opsdata/opsdata/pipeline"
)

// scenarioAlerts is the evidence the alert and manual directives add.
type scenarioAlerts struct {
	alerts   models.GettableAlerts
	silences models.GettableSilences
	manual   []manualSrc // manual label files, read in order
}

// alert reads `alert FP {labels} startsAt=T [endsAt=T] [silenced=COMMENT] [summary=S]`.
func (s *scenario) alert(line int, toks []string) error {
	const want = `want: alert FP {alertname="A",service="x",...} startsAt=T [endsAt=T] [silenced=COMMENT] [summary=S]`
	if len(toks) < 3 || strings.Contains(toks[1], "=") || !strings.HasPrefix(toks[2], "{") {
		return s.errf(line, "%s", want)
	}
	if s.grid == nil {
		return s.errf(line, "alert before grid (eval's clock is the grid end)")
	}
	lbls, err := parser.NewParser(parser.Options{}).ParseMetric(toks[2])
	if err != nil {
		return s.errf(line, "alert %s labels: %v", toks[1], err)
	}
	kv, err := s.keyValues(line, toks[3:], "startsAt", "endsAt", "silenced", "summary")
	if err != nil {
		return err
	}
	if kv["startsAt"] == "" {
		return s.errf(line, "alert %s: startsAt= is required (%s)", toks[1], want)
	}
	starts, err := s.parseTime(line, "startsAt", kv["startsAt"])
	if err != nil {
		return err
	}
	// Alertmanager always reports an endsAt: for a firing alert it is the
	// last update plus resolve_timeout, i.e. in the future (eval's clock is
	// the grid end), which the labeler reads as "end unknown".
	ends := s.grid.End.Add(5 * time.Minute)
	if v, ok := kv["endsAt"]; ok {
		if ends, err = s.parseTime(line, "endsAt", v); err != nil {
			return err
		}
	}
	am := s.alerts()
	set := models.LabelSet{}
	lbls.Range(func(l labels.Label) { set[l.Name] = l.Value })
	ann := models.LabelSet{}
	if v, ok := kv["summary"]; ok {
		ann["summary"] = v
	}
	state, silencedBy := "active", []string{}
	if c, ok := kv["silenced"]; ok {
		id := fmt.Sprintf("silence-%d", len(am.silences)+1)
		silencedBy, state = []string{id}, "suppressed"
		createdBy, sState := "scenario", "active"
		am.silences = append(am.silences, &models.GettableSilence{
			ID: &id, Status: &models.SilenceStatus{State: &sState}, UpdatedAt: dt(starts),
			Silence: models.Silence{Comment: &c, CreatedBy: &createdBy, StartsAt: dt(starts), EndsAt: dt(ends),
				Matchers: models.Matchers{}},
		})
	}
	fp := toks[1]
	am.alerts = append(am.alerts, &models.GettableAlert{
		Annotations: ann, EndsAt: dt(ends), Fingerprint: &fp, Receivers: []*models.ReceiverReference{},
		StartsAt: dt(starts), UpdatedAt: dt(starts),
		Status: &models.AlertStatus{State: &state, SilencedBy: silencedBy, InhibitedBy: []string{}, MutedBy: []string{}},
		Alert:  models.Alert{Labels: set},
	})
	return nil
}

type manualSrc struct {
	path string
	line int // of the manual directive
}

func dt(t time.Time) *strfmt.DateTime { d := strfmt.DateTime(t); return &d }

func (s *scenario) alerts() *scenarioAlerts {
	if s.ext.am == nil {
		s.ext.am = &scenarioAlerts{}
	}
	return s.ext.am
}

// manualBlock reads `manual [format=yaml|json|csv]` + indented file text,
// or `manual file=NAME` (a file next to the scenario).
func (s *scenario) manualBlock(line int, header, body []string) error {
	kv, err := s.keyValues(line, header[1:], "file", "format")
	if err != nil {
		return err
	}
	am := s.alerts()
	if name, ok := kv["file"]; ok {
		if len(body) > 0 || kv["format"] != "" {
			return s.errf(line, "manual file=%s: give either a file or an indented block, not both", name)
		}
		path := filepath.Join(filepath.Dir(s.file), filepath.FromSlash(name))
		if _, err := os.Stat(path); err != nil {
			return s.errf(line, "manual file=%s: %v", name, err)
		}
		am.manual = append(am.manual, manualSrc{path, line})
		return nil
	}
	if len(body) == 0 {
		return s.errf(line, "want: manual [format=yaml|json|csv] + the label file indented below it, or manual file=NAME")
	}
	ext := kv["format"]
	switch ext {
	case "":
		ext = "yaml"
	case "yaml", "json", "csv":
	default:
		return s.errf(line, "manual format=%q: want yaml, json or csv", ext)
	}
	dir := filepath.Join(s.ext.tb.TempDir(), fmt.Sprintf("manual_%d", line))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return s.errf(line, "%v", err)
	}
	path := filepath.Join(dir, "labels."+ext)
	if err := os.WriteFile(path, []byte(dedent(body)), 0o600); err != nil {
		return s.errf(line, "%v", err)
	}
	am.manual = append(am.manual, manualSrc{path, line})
	return nil
}

// runAlertmanager serves the alert lines as Alertmanager's API v2 and runs
// the alertmanager labeler against it, with the grid end as its clock.
func (s *scenario) runAlertmanager(line int) ([]pipeline.Incident, error) {
	am := s.alerts()
	mux := http.NewServeMux()
	serve := func(v any) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	alerts, silences := am.alerts, am.silences
	if alerts == nil {
		alerts = models.GettableAlerts{}
	}
	if silences == nil {
		silences = models.GettableSilences{}
	}
	mux.HandleFunc("GET /api/v2/alerts", serve(alerts))
	mux.HandleFunc("GET /api/v2/silences", serve(silences))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	l, err := s.labeler(line, "alertmanager", map[string]any{"url": srv.URL}, nil)
	if err != nil {
		return nil, err
	}
	// The alerts are as of the grid end: an alert still active then has an
	// unknown end, whatever today's date.
	end := s.grid.End
	if c, ok := l.(interface{ SetClock(func() time.Time) }); ok {
		c.SetClock(func() time.Time { return end })
	}
	got, err := l.Incidents(context.Background(), s.seriesInput())
	if err != nil {
		return nil, s.errf(line, "alertmanager labeler: %v", err)
	}
	return got, nil
}

// runManual runs the manual labeler over the scenario's manual files.
func (s *scenario) runManual(line int) ([]pipeline.Incident, error) {
	am := s.alerts()
	if len(am.manual) == 0 {
		return nil, s.errf(line, "eval manual: no manual block or manual file=NAME line")
	}
	var out []pipeline.Incident
	for _, src := range am.manual {
		l, err := s.labeler(line, "manual", map[string]any{"path": src.path}, nil)
		if err != nil {
			return nil, err
		}
		got, err := l.Incidents(context.Background(), s.seriesInput())
		if err != nil {
			return nil, s.errf(line, "manual block at %s:%d: %v", s.file, src.line, err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// seriesInput is the labeler input without series: grid, entities and the
// entity label (default service).
func (s *scenario) seriesInput() pipeline.LabelInput {
	in := pipeline.LabelInput{Grid: *s.grid, Entities: s.entities, Tickets: s.tickets, EntityLabel: s.ext.entityLbl}
	if in.EntityLabel == "" {
		in.EntityLabel = "service"
	}
	return in
}
