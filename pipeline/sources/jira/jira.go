// Package jira reads incident tickets from Jira's REST search:
// GET {url}/rest/api/2/search?jql=...&startAt=N&maxResults=M&fields=...,
// page by page until startAt reaches total. Authentication is basic (user
// from user_env, API token from token_env — Jira Cloud) or bearer (token
// only — Jira Data Center personal access tokens). The field mapping is
// ticketfile.Mapping's doc comment; issues that cannot be labelled are
// counted in pipeline.Problems under "tickets:<source name>".
package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/internal/restclient"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// ErrHTTP means Jira answered with an error status.
var ErrHTTP = errors.New("Jira API error")

// MaxRetries bounds the retries after a 429 answer.
const MaxRetries = 5

// TimeLayout is Jira's timestamp format: 2026-01-05T09:13:27.000+0000.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// Source reads the issues one JQL search selects.
type Source struct {
	cfg      Config
	m        ticketfile.Mapping
	problems *pipeline.Problems
	input    string
	base     string
	user     string
	token    string
	loc      *time.Location
	startKey string
	endKey   string
	sevKey   string

	// Client is the HTTP client (default: 60s timeout).
	Client *http.Client
	// Sleep waits d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

var _ pipeline.TicketSource = (*Source)(nil)

// New builds the source (pipeline.TicketSourceFactory).
func New(cfg Config, problems *pipeline.Problems) (pipeline.TicketSource, error) {
	return NewSource(cfg, problems)
}

// NewSource builds the source from its config (Factory's New; tests call it
// directly). The token is read from the env variable token_env; without
// one, requests are anonymous.
func NewSource(cfg Config, problems *pipeline.Problems) (*Source, error) {
	where := fmt.Sprintf("ticket source %q (jira)", cfg.Name)
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	base := strings.TrimRight(cfg.URL, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: url %q must be the Jira base URL (https://example.atlassian.net)", where, cfg.URL)
	}
	if strings.TrimSpace(cfg.JQL) == "" {
		return nil, fmt.Errorf("%s: jql is required (e.g. project = OPS AND type = Incident)", where)
	}
	s := &Source{cfg: cfg, m: cfg.Mapping.WithDefaults(), problems: problems, input: "tickets:" + cfg.Name, base: base,
		startKey: cfg.Fields.ImpactStart, endKey: or(cfg.Fields.Resolved, "resolutiondate"), sevKey: or(cfg.Fields.Severity, "priority"),
		Client: &http.Client{Timeout: 60 * time.Second}, Sleep: restclient.Sleep}
	var err error
	if cfg.TokenEnv != "" {
		if s.token, err = restclient.Env(where, "token_env", cfg.TokenEnv); err != nil {
			return nil, err
		}
	}
	if cfg.UserEnv != "" {
		if s.user, err = restclient.Env(where, "user_env", cfg.UserEnv); err != nil {
			return nil, err
		}
		if s.token == "" {
			return nil, fmt.Errorf("%s: user_env needs token_env too (basic auth is user + API token)", where)
		}
	}
	if s.loc, err = restclient.Location(where, cfg.Timezone); err != nil {
		return nil, err
	}
	return s, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Name returns the source's name from the spec.
func (s *Source) Name() string { return s.cfg.Name }

type searchPage struct {
	StartAt    int     `json:"startAt"`
	MaxResults int     `json:"maxResults"`
	Total      int     `json:"total"`
	Issues     []issue `json:"issues"`
}

type issue struct {
	Key    string                     `json:"key"`
	Self   string                     `json:"self"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// Tickets runs the search page by page and returns the labelled issues
// sorted by (impact start or created, key).
func (s *Source) Tickets(ctx context.Context) ([]pipeline.Ticket, error) {
	fields := []string{"summary", "description", "status", "created", "issuetype", "components", "labels", s.sevKey, s.endKey}
	if s.startKey != "" {
		fields = append(fields, s.startKey)
	}
	var out []pipeline.Ticket
	seen := map[string]bool{}
	for startAt := 0; ; {
		q := url.Values{}
		q.Set("jql", s.cfg.JQL)
		q.Set("startAt", strconv.Itoa(startAt))
		q.Set("maxResults", strconv.Itoa(s.m.PageSize))
		q.Set("fields", strings.Join(fields, ","))
		var page searchPage
		if err := s.get(ctx, s.base+"/rest/api/2/search?"+q.Encode(), &page); err != nil {
			return nil, fmt.Errorf("ticket source %q (jira): startAt %d: %w", s.cfg.Name, startAt, err)
		}
		for i, is := range page.Issues {
			where := is.Key
			if where == "" {
				where = fmt.Sprintf("startAt %d issue %d", startAt, i)
			}
			t, reason, detail := s.ticket(is)
			if reason == "" && seen[t.ID] {
				// the result set moved between pages (an issue was updated)
				reason, detail = ticketfile.ReasonDuplicateID, "issue seen on an earlier page"
			}
			if reason != "" {
				s.problems.Add(s.input, where, reason, detail)
				continue
			}
			seen[t.ID] = true
			out = append(out, t)
		}
		startAt += len(page.Issues)
		if len(page.Issues) == 0 || startAt >= page.Total {
			break
		}
	}
	ticketfile.SortTickets(out)
	return out, nil
}

func (s *Source) get(ctx context.Context, u string, v any) error {
	g := restclient.Getter{Client: s.Client, Sleep: s.Sleep, MaxRetries: MaxRetries,
		Header: func(req *http.Request) {
			req.Header.Set("Accept", "application/json")
			switch {
			case s.user != "":
				req.SetBasicAuth(s.user, s.token)
			case s.token != "":
				req.Header.Set("Authorization", "Bearer "+s.token)
			}
		},
		Retry: func(r *restclient.Response) (time.Duration, bool) {
			wait := 10 * time.Second
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && n >= 0 {
				wait = time.Duration(n) * time.Second
			}
			return wait, r.StatusCode == http.StatusTooManyRequests
		},
	}
	resp, err := g.Get(ctx, u)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Decode(v, "a Jira search result")
	}
	var msg struct {
		ErrorMessages []string `json:"errorMessages"`
	}
	_ = json.Unmarshal(resp.Body, &msg)
	hint := ""
	switch resp.StatusCode {
	case http.StatusBadRequest:
		hint = " (check jql: and the custom field ids in fields:)"
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = " (check user_env and token_env)"
	}
	return fmt.Errorf("GET %s: %w: %s %q%s", u, ErrHTTP, resp.Status, strings.Join(msg.ErrorMessages, "; "), hint)
}

// named is the shape of Jira's option-like values (priority, status, component).
type named struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (s *Source) ticket(is issue) (pipeline.Ticket, string, string) {
	t := pipeline.Ticket{ID: is.Key, Source: s.cfg.Name, Where: is.Self}
	if t.ID == "" {
		return t, ticketfile.ReasonMissingID, "issue has no key"
	}
	if t.Where == "" {
		t.Where = t.ID
	}
	f := is.Fields
	str := func(key string) string {
		var v string
		if json.Unmarshal(f[key], &v) == nil {
			return strings.TrimSpace(v)
		}
		var n named
		if json.Unmarshal(f[key], &n) == nil {
			return strings.TrimSpace(or(n.Name, n.Value))
		}
		return ""
	}
	t.Title, t.Body, t.Status, t.Type = str("summary"), str("description"), str("status"), str("issuetype")
	t.Severity = strings.ToLower(str(s.sevKey))
	tm := func(key string) (*time.Time, string, string) {
		v := str(key)
		if v == "" {
			return nil, "", ""
		}
		if ts, err := time.Parse(TimeLayout, v); err == nil {
			ts = ts.UTC()
			return &ts, "", ""
		}
		ts, reason, detail := ticketfile.ParseTime(v, s.loc)
		if reason != "" {
			return nil, reason, fmt.Sprintf("field %q: %s", key, detail)
		}
		return &ts, "", ""
	}
	created, reason, detail := tm("created")
	if reason != "" {
		return t, reason, detail
	}
	if created == nil {
		return t, ticketfile.ReasonMissingCreated, `no "created" field`
	}
	t.Created = *created
	if s.startKey != "" {
		if t.ImpactStart, reason, detail = tm(s.startKey); reason != "" {
			return t, reason, detail
		}
	}
	if t.Resolved, reason, detail = tm(s.endKey); reason != "" {
		return t, reason, detail
	}
	if t.Resolved != nil && t.Resolved.Before(ticketfile.Start(t)) {
		return t, ticketfile.ReasonResolvedBefore, fmt.Sprintf("%s is before the impact start", s.endKey)
	}
	t.Entities = s.entities(f)
	if len(t.Entities) == 0 {
		return t, ticketfile.ReasonNoEntities, fmt.Sprintf("no entity in %s", s.m.EntitiesFrom)
	}
	return t, "", ""
}

func (s *Source) entities(f map[string]json.RawMessage) []string {
	var out []string
	add := func(e string) {
		if e = strings.TrimSpace(e); e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if s.m.EntitiesFrom == "labels" {
		var labels []string
		_ = json.Unmarshal(f["labels"], &labels)
		for _, l := range labels {
			if len(s.m.EntityPrefixes) == 0 {
				add(l)
			}
			for _, p := range s.m.EntityPrefixes {
				if strings.HasPrefix(l, p) {
					add(strings.TrimPrefix(l, p))
				}
			}
		}
		return out
	}
	var comps []named
	dec := json.NewDecoder(bytes.NewReader(f["components"]))
	_ = dec.Decode(&comps)
	for _, c := range comps {
		add(c.Name)
	}
	return out
}
