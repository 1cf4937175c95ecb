// Package github reads incident tickets from GitHub Issues through the REST
// API: GET /repos/{owner}/{repo}/issues?state=all&labels=...&since=...,
// following the Link header's rel="next" page by page and honouring the
// rate-limit headers. Pull requests (items with "pull_request") are skipped;
// issues that cannot be labelled (no entity label, bad impact time) are
// counted in pipeline.Problems under "tickets:<source name>". The mapping of
// labels and issue-form body fields is ticketfile.Mapping's doc comment.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/internal/restclient"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// ErrHTTP means the API answered with an error status.
var ErrHTTP = errors.New("GitHub API error")

// MaxRetries bounds the retries after a rate-limited (403/429) answer.
const MaxRetries = 5

// Source reads one repository's issues.
type Source struct {
	cfg      Config
	m        ticketfile.Mapping
	problems *pipeline.Problems
	input    string
	base     string
	token    string
	loc      *time.Location

	// Client is the HTTP client (default: a client with a 60s timeout).
	Client *http.Client
	// Sleep waits d or until ctx ends; tests replace it to record waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for X-RateLimit-Reset.
	Now func() time.Time
}

var _ pipeline.TicketSource = (*Source)(nil)

// NewSource builds the source from its config (Factory's New; tests call it
// directly). The token is read from the env variable token_env; without
// one, requests are anonymous.
func NewSource(cfg Config, problems *pipeline.Problems) (*Source, error) {
	where := fmt.Sprintf("ticket source %q (github)", cfg.Name)
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	if strings.Count(cfg.Repo, "/") != 1 || strings.HasPrefix(cfg.Repo, "/") || strings.HasSuffix(cfg.Repo, "/") {
		return nil, fmt.Errorf("%s: repo %q must be OWNER/NAME", where, cfg.Repo)
	}
	base := strings.TrimRight(cfg.URL, "/")
	if base == "" {
		base = ticketfile.DefaultGitHubURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s: url %q must be an http(s) URL (GitHub Enterprise: https://HOST/api/v3)", where, cfg.URL)
	}
	s := &Source{cfg: cfg, m: cfg.Mapping.WithDefaults(), problems: problems, input: "tickets:" + cfg.Name,
		base: base, token: os.Getenv(ticketfile.DefaultGitHubTokenEnv), Client: &http.Client{Timeout: 60 * time.Second}, Sleep: restclient.Sleep, Now: time.Now}
	var err error
	if cfg.TokenEnv != "" {
		if s.token, err = restclient.Env(where, "token_env", cfg.TokenEnv); err != nil {
			return nil, err
		}
	}
	if s.loc, err = restclient.Location(where, cfg.Timezone); err != nil {
		return nil, err
	}
	return s, nil
}

// Name returns the source's name from the spec.
func (s *Source) Name() string { return s.cfg.Name }

// issue is the part of GitHub's issue object opsdata reads.
type issue struct {
	Number      int64           `json:"number"`
	HTMLURL     string          `json:"html_url"`
	Title       string          `json:"title"`
	Body        *string         `json:"body"`
	State       string          `json:"state"`
	CreatedAt   *time.Time      `json:"created_at"`
	ClosedAt    *time.Time      `json:"closed_at"`
	Labels      []label         `json:"labels"`
	PullRequest json.RawMessage `json:"pull_request"`
}

type label struct{ Name string }

// GitHub returns labels as objects; older payloads and some proxies as strings.
func (l *label) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &l.Name)
	}
	var o struct {
		Name string `json:"name"`
	}
	err := json.Unmarshal(b, &o)
	l.Name = o.Name
	return err
}

// Tickets fetches every page and returns the labelled issues sorted by
// (impact start or created, id).
func (s *Source) Tickets(ctx context.Context) ([]pipeline.Ticket, error) {
	q := url.Values{}
	q.Set("state", "all")
	q.Set("per_page", strconv.Itoa(s.m.PageSize))
	q.Set("sort", "created")
	q.Set("direction", "asc")
	if len(s.cfg.Labels) > 0 {
		q.Set("labels", strings.Join(s.cfg.Labels, ","))
	}
	if !s.cfg.Since.IsZero() {
		q.Set("since", s.cfg.Since.UTC().Format(time.RFC3339))
	}
	next := s.base + "/repos/" + s.cfg.Repo + "/issues?" + q.Encode()
	var out []pipeline.Ticket
	for page := 1; next != ""; page++ {
		var items []json.RawMessage
		link, err := s.get(ctx, next, &items)
		if err != nil {
			return nil, fmt.Errorf("ticket source %q (github): page %d: %w", s.cfg.Name, page, err)
		}
		for i, raw := range items {
			where := fmt.Sprintf("%s page %d item %d", s.cfg.Repo, page, i)
			var is issue
			if err := json.Unmarshal(raw, &is); err != nil {
				s.problems.Add(s.input, where, ticketfile.ReasonNotObject, "not a GitHub issue object")
				continue
			}
			if len(is.PullRequest) > 0 && string(is.PullRequest) != "null" {
				continue // the issues endpoint lists pull requests too
			}
			t, reason, detail := s.ticket(is)
			if reason != "" {
				s.problems.Add(s.input, t.ID, reason, detail)
				continue
			}
			out = append(out, t)
		}
		next = nextLink(link)
	}
	ticketfile.SortTickets(out)
	return out, nil
}

// get fetches one page into v and returns its Link header. A rate-limited
// answer (403/429 with Retry-After or X-RateLimit-Remaining: 0) is retried
// after the wait the headers ask for; a page that used the last request of
// the budget makes get wait for the reset before returning, so the next
// request does not fail.
func (s *Source) get(ctx context.Context, u string, v any) (string, error) {
	g := restclient.Getter{Client: s.Client, Sleep: s.Sleep, MaxRetries: MaxRetries,
		Header: func(req *http.Request) {
			req.Header.Set("Accept", "application/vnd.github+json")
			req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
			if s.token != "" {
				req.Header.Set("Authorization", "Bearer "+s.token)
			}
		},
		Retry: func(r *restclient.Response) (time.Duration, bool) {
			wait, limited := s.rateWait(r.Header)
			return wait, limited && (r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusTooManyRequests)
		},
	}
	resp, err := g.Get(ctx, u)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusOK {
		if err := resp.Decode(v, "a JSON array of issues"); err != nil {
			return "", err
		}
		if wait, limited := s.rateWait(resp.Header); limited && wait > 0 {
			if err := s.Sleep(ctx, wait); err != nil {
				return "", fmt.Errorf("waiting %s for the rate limit to reset: %w", wait, err)
			}
		}
		return resp.Header.Get("Link"), nil
	}
	msg := struct {
		Message string `json:"message"`
	}{}
	_ = json.Unmarshal(resp.Body, &msg)
	hint := ""
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		hint = " (check the token in token_env)"
	case http.StatusNotFound:
		hint = " (check repo:, and that the token can read it)"
	case http.StatusForbidden, http.StatusTooManyRequests:
		hint = " (rate limit: set a token, or retry later)"
	}
	return "", fmt.Errorf("GET %s: %w: %s %q%s", u, ErrHTTP, resp.Status, msg.Message, hint)
}

// rateWait reads Retry-After (seconds) or, when X-RateLimit-Remaining is 0,
// X-RateLimit-Reset (epoch seconds). limited says the headers asked to wait.
func (s *Source) rateWait(h http.Header) (time.Duration, bool) {
	if ra := h.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(t.Sub(s.Now()), 0), true
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if n, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			// one extra second: the reset is whole seconds
			return max(time.Unix(n, 0).Sub(s.Now())+time.Second, 0), true
		}
		return time.Minute, true
	}
	return 0, false
}

var linkRe = regexp.MustCompile(`<([^>]*)>\s*((?:;\s*[^;,]*)*)`)

// nextLink returns the rel="next" URL of an RFC 8288 Link header, or "".
func nextLink(h string) string {
	for _, m := range linkRe.FindAllStringSubmatch(h, -1) {
		for _, p := range strings.Split(m[2], ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || strings.TrimSpace(k) != "rel" {
				continue
			}
			for _, r := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if r == "next" {
					return m[1]
				}
			}
		}
	}
	return ""
}

// ticket maps one issue; reason != "" says why it cannot be labelled.
func (s *Source) ticket(is issue) (pipeline.Ticket, string, string) {
	t := pipeline.Ticket{ID: fmt.Sprintf("%s#%d", s.cfg.Repo, is.Number), Source: s.cfg.Name,
		Title: is.Title, Status: is.State, Where: is.HTMLURL}
	if t.Where == "" {
		t.Where = t.ID
	}
	if is.Body != nil {
		t.Body = *is.Body
	}
	if is.CreatedAt == nil {
		return t, ticketfile.ReasonMissingCreated, "no created_at"
	}
	t.Created = is.CreatedAt.UTC()
	if is.ClosedAt != nil {
		r := is.ClosedAt.UTC()
		t.Resolved = &r
	}
	for _, l := range is.Labels {
		name := strings.TrimSpace(l.Name)
		switch {
		case strings.HasPrefix(name, s.m.SeverityPrefix) && t.Severity == "":
			t.Severity = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, s.m.SeverityPrefix)))
		case strings.HasPrefix(name, s.m.TypePrefix) && t.Type == "":
			t.Type = strings.TrimSpace(strings.TrimPrefix(name, s.m.TypePrefix))
		default:
			for _, p := range s.m.EntityPrefixes {
				if e := strings.TrimSpace(strings.TrimPrefix(name, p)); strings.HasPrefix(name, p) && e != "" && !slices.Contains(t.Entities, e) {
					t.Entities = append(t.Entities, e)
				}
			}
		}
	}
	startKey := s.cfg.Fields.ImpactStart
	if startKey == "" {
		startKey = ticketfile.DefaultImpactStartBody
	}
	var reason, detail string
	if t.ImpactStart, reason, detail = s.bodyTime(t.Body, startKey); reason != "" {
		return t, reason, detail
	}
	if s.cfg.Fields.Resolved != "" {
		end, reason, detail := s.bodyTime(t.Body, s.cfg.Fields.Resolved)
		if reason != "" {
			return t, reason, detail
		}
		if end != nil {
			t.Resolved = end
		}
	}
	if t.Resolved != nil && t.Resolved.Before(ticketfile.Start(t)) {
		return t, ticketfile.ReasonResolvedBefore, "closed_at (or the end field) is before the impact start"
	}
	if len(t.Entities) == 0 {
		return t, ticketfile.ReasonNoEntities, fmt.Sprintf("no label with prefix %s names an entity", strings.Join(s.m.EntityPrefixes, " or "))
	}
	return t, "", ""
}

// bodyTime finds "Key: value" or an issue-form section "### Key" whose
// first non-empty line is the value, and parses the value as a time.
func (s *Source) bodyTime(body, key string) (*time.Time, string, string) {
	v, ok := BodyField(body, key)
	if !ok || v == "" || v == "_No response_" {
		return nil, "", ""
	}
	ts, reason, detail := ticketfile.ParseTime(v, s.loc)
	if reason != "" {
		return nil, reason, fmt.Sprintf("body field %q: %s", key, detail)
	}
	return &ts, "", ""
}

// BodyField returns the value of field key in an issue body: a line
// "key: value" (case-insensitive key, optional ** or leading -) or an
// issue-form heading "### key" followed by the value on the next non-empty line.
func BodyField(body, key string) (string, bool) {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	lk := strings.ToLower(key)
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if h, ok := strings.CutPrefix(l, "#"); ok {
			if strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#"))) == lk {
				for _, n := range lines[i+1:] {
					if n = strings.TrimSpace(n); n != "" {
						return n, true
					}
				}
				return "", true
			}
			continue
		}
		l = strings.TrimSpace(strings.TrimLeft(l, "-*"))
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.ToLower(strings.TrimSpace(strings.Trim(k, "*"))) == lk {
			return strings.TrimSpace(strings.Trim(strings.TrimSpace(v), "*")), true
		}
	}
	return "", false
}
