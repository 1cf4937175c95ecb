package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/opsdata/opsdata/pipeline"
)

// AlertmanagerLabeler reads the alerts Alertmanager holds through its API
// v2 (GET /api/v2/alerts, /api/v2/silences) and makes one incident per
// (alert, entity). Alertmanager keeps only alerts that are active or
// recently resolved, so this labeler suits recent ranges; for history use
// the alerts_series labeler over ALERTS, or the rule labeler.
type AlertmanagerLabeler struct {
	cfg      Config
	base     *url.URL
	problems *pipeline.Problems
	// Client is the HTTP client (default: 30 s timeout).
	Client *http.Client
	// Now is the clock that tells a still-active alert (EndsAt in the
	// future is only Alertmanager's resolve timeout: end unknown).
	Now func() time.Time
}

// NewAlertmanagerLabeler checks the URL; nothing is fetched yet.
func NewAlertmanagerLabeler(cfg Config, problems *pipeline.Problems) (*AlertmanagerLabeler, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alertmanager labeler: url %q must be http(s)://HOST:PORT", cfg.URL)
	}
	return &AlertmanagerLabeler{cfg: cfg, base: u, problems: problems,
		Client: &http.Client{Timeout: 30 * time.Second}, Now: time.Now}, nil
}

// SetClock replaces the clock that tells a still-active alert (scenarios
// evaluate as of the grid end).
func (l *AlertmanagerLabeler) SetClock(now func() time.Time) { l.Now = now }

// Name is the labeler's kind.
func (l *AlertmanagerLabeler) Name() string { return "alertmanager" }

func (l *AlertmanagerLabeler) get(ctx context.Context, path string, q url.Values, into any) error {
	u := *l.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := l.Client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w (is Alertmanager running at %s?)", u.String(), err, l.base)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u.String(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.200s", u.String(), resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: not an API v2 response: %w", u.String(), err)
	}
	return nil
}

// Incidents fetches every alert (active, silenced, inhibited, unprocessed)
// and the silences. An alert's cause interval is [startsAt, endsAt), with an
// unknown end while endsAt is still in the future. Silenced alerts get
// pipeline.ConfidenceSilencedAlert and name the silence in the title.
func (l *AlertmanagerLabeler) Incidents(ctx context.Context, in pipeline.LabelInput) ([]pipeline.Incident, error) {
	var alerts models.GettableAlerts
	q := url.Values{"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"}}
	if err := l.get(ctx, "/api/v2/alerts", q, &alerts); err != nil {
		return nil, fmt.Errorf("alertmanager labeler: %w", err)
	}
	var silences models.GettableSilences
	if err := l.get(ctx, "/api/v2/silences", nil, &silences); err != nil {
		return nil, fmt.Errorf("alertmanager labeler: %w", err)
	}
	comment := map[string]string{}
	for _, s := range silences {
		if s != nil && s.ID != nil && s.Comment != nil {
			comment[*s.ID] = *s.Comment
		}
	}
	entityLabel := l.cfg.EntityLabel
	if entityLabel == "" {
		entityLabel = in.EntityLabel
	}
	now := l.Now().UTC()
	var out []pipeline.Incident
	for _, a := range alerts {
		if a == nil || a.StartsAt == nil {
			continue
		}
		fp := ""
		if a.Fingerprint != nil {
			fp = *a.Fingerprint
		}
		name := a.Labels["alertname"]
		ent := a.Labels[entityLabel]
		if ent == "" {
			if l.problems != nil {
				l.problems.Add("labeler:alertmanager", "alert "+name+" "+fp, "no_entity_label",
					fmt.Sprintf("labels carry no %q label (set entity_label: on the labeler)", entityLabel))
			}
			continue
		}
		start := time.Time(*a.StartsAt).UTC()
		var end *time.Time
		if a.EndsAt != nil {
			if e := time.Time(*a.EndsAt).UTC(); !e.IsZero() && !e.After(now) {
				end = &e
			}
		}
		conf, title := pipeline.ConfidenceAlert, a.Annotations["summary"]
		if title == "" {
			title = name
		}
		if a.Status != nil && len(a.Status.SilencedBy) > 0 {
			conf = pipeline.ConfidenceSilencedAlert
			ids := append([]string(nil), a.Status.SilencedBy...)
			sort.Strings(ids)
			title += " [silenced by " + strings.Join(ids, ",")
			if c := comment[ids[0]]; c != "" {
				title += ": " + c
			}
			title += "]"
		}
		typ := a.Labels["type"]
		if typ == "" {
			typ = name
		}
		out = append(out, pipeline.Incident{
			ID: "alert:" + fp, Entity: ent, Start: start, End: end,
			Severity: pipeline.NormalizeSeverity(a.Labels["severity"]), Type: typ,
			Source: pipeline.SourceAlert, SourceID: fp, Confidence: conf, Title: title,
		})
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}
