// Package loki reads log entries from Grafana Loki's query_range HTTP API
// (GET /loki/api/v1/query_range with a LogQL log selector, direction
// forward). The export range comes from the context (pipeline.WithRange);
// it is split into chunks (default 1h) and every chunk is paginated by the
// limit: when a page returns limit entries the next page starts at the last
// entry's nanosecond, and the entries already seen at that nanosecond are
// skipped, so nothing is duplicated or lost at page or chunk borders
// (start is inclusive, end exclusive in Loki). Streams are merged into one
// time-ordered sequence (ties: stream labels, then line).
//
// Stream labels become LogRecord.Fields; the entity comes from a stream
// label, the level from a label or, failing that, from the line. Malformed
// entries are counted in pipeline.Problems under "log:<source name>".
package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/pipeline"
)

// Defaults.
const (
	DefaultLimit = 5000
	DefaultChunk = time.Hour
	// MaxLineBytes is the longest entry kept; longer ones are counted.
	MaxLineBytes = 1 << 20
)

// Problem reasons.
const (
	reasonMissingEntity = "missing_entity"
	reasonTooLong       = "line_too_long"
	reasonInvalidUTF8   = "invalid_utf8"
	reasonBadEntry      = "bad_entry"
	reasonOutOfOrder    = "out_of_order"
	reasonNsOverflow    = "ns_overflow"
)

var (
	// ErrLoki means Loki answered with an error.
	ErrLoki = errors.New("loki error")
)

var (
	defaultEntityLabels = []string{"service", "service_name", "app", "job", "container"}
	defaultLevelLabels  = []string{"level", "detected_level", "severity", "lvl"}
)

// Source is a Loki log source.
type Source struct {
	cfg      Config
	base     *url.URL
	limit    int
	chunk    time.Duration
	token    string
	entity   []string // candidate entity labels
	levels   []string // candidate level labels
	problems *pipeline.Problems
	input    string
	client   *http.Client
	// Retries of 5xx and 429 answers, with exponential backoff from backoff.
	retries int
	backoff time.Duration
}

var _ pipeline.LogSource = (*Source)(nil)

// New builds a Loki source from its config (Factory's New; tests call it directly).
func New(cfg Config, problems *pipeline.Problems) (pipeline.LogSource, error) {
	return newSource(cfg, problems)
}

func newSource(cfg Config, problems *pipeline.Problems) (*Source, error) {
	where := fmt.Sprintf("log source %q (loki)", cfg.Name)
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	k := cfg.Loki
	u, err := url.Parse(k.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: loki.url %q must be an http:// or https:// URL such as http://127.0.0.1:3100", where, k.URL)
	}
	if !strings.HasPrefix(strings.TrimSpace(k.Query), "{") {
		return nil, fmt.Errorf("%s: loki.query %q must be a LogQL log selector such as {job=\"app\"}", where, k.Query)
	}
	s := &Source{
		cfg: cfg, base: u, limit: k.Limit, chunk: time.Duration(k.Chunk),
		problems: problems, input: "log:" + cfg.Name,
		client:  &http.Client{Timeout: 2 * time.Minute},
		retries: 4, backoff: 500 * time.Millisecond,
	}
	if s.limit <= 0 {
		s.limit = DefaultLimit
	}
	if s.chunk <= 0 {
		s.chunk = DefaultChunk
	}
	if k.TokenEnv != "" {
		s.token = os.Getenv(k.TokenEnv)
		if s.token == "" {
			return nil, fmt.Errorf("%s: loki.token_env: environment variable %s is empty or unset", where, k.TokenEnv)
		}
	}
	switch {
	case k.EntityLabel != "":
		s.entity = []string{k.EntityLabel}
	case cfg.Fields.Entity != "":
		s.entity = []string{cfg.Fields.Entity}
	default:
		s.entity = defaultEntityLabels
	}
	switch {
	case k.LevelLabel != "":
		s.levels = []string{k.LevelLabel}
	case cfg.Fields.Level != "":
		s.levels = []string{cfg.Fields.Level}
	default:
		s.levels = defaultLevelLabels
	}
	return s, nil
}

// Name returns the source's name from the spec.
func (s *Source) Name() string { return s.cfg.Name }

// Open starts reading g's range. Requests are made lazily, one page at a time.
func (s *Source) Open(ctx context.Context, g pipeline.Grid) (pipeline.LogIterator, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !g.End.After(g.Start) {
		return nil, fmt.Errorf("log source %q (loki): empty range %s..%s", s.cfg.Name, g.Start, g.End)
	}
	return &iterator{
		ctx: ctx, s: s, end: g.End.UnixNano(),
		chunkStart: g.Start.UnixNano(), from: g.Start.UnixNano(),
		lines: map[string]int64{}, skip: map[entryKey]bool{},
	}, nil
}

// entry is one log entry of a page, streams flattened.
type entry struct {
	ts     int64
	stream string // canonical label string, the sort tie-breaker
	labels map[string]string
	line   string
}

type entryKey struct {
	ts           int64
	stream, line string
}

type iterator struct {
	ctx        context.Context
	s          *Source
	end        int64 // export end, exclusive
	chunkStart int64
	from       int64 // start of the next page, inclusive
	page       []entry
	pos        int
	done       bool // no more pages
	// skip holds the entries at nanosecond skipTS that earlier pages
	// returned; the next page starts at skipTS and must not repeat them.
	skipTS int64
	skip   map[entryKey]bool
	lines  map[string]int64 // entries per stream so far: the record's Line
	cur    pipeline.LogRecord
	prevTS int64
	err    error
}

func (it *iterator) chunkEnd() int64 {
	e := it.chunkStart + int64(it.s.chunk)
	if e > it.end || e < it.chunkStart {
		return it.end
	}
	return e
}

// Next advances to the next entry in time order.
func (it *iterator) Next() bool {
	for it.err == nil {
		for it.pos < len(it.page) {
			e := it.page[it.pos]
			it.pos++
			if it.record(e) {
				return true
			}
		}
		if it.done {
			return false
		}
		if err := it.fetch(); err != nil {
			it.err = err
		}
	}
	return false
}

// fetch requests the next page, drops the entries earlier pages returned,
// and moves the cursor for the page after.
func (it *iterator) fetch() error {
	if err := it.ctx.Err(); err != nil {
		return err
	}
	end := it.chunkEnd()
	raw, err := it.s.queryRange(it.ctx, it.from, end)
	if err != nil {
		return err
	}
	page := raw[:0:0]
	for _, e := range raw {
		if e.ts == it.skipTS && it.skip[entryKey{e.ts, e.stream, e.line}] {
			continue
		}
		page = append(page, e)
	}
	it.page, it.pos = page, 0
	if len(raw) < it.s.limit {
		// The chunk is exhausted: the next page starts the next chunk, past
		// every entry seen so far.
		it.chunkStart, it.from = end, end
		it.done = end >= it.end
		clear(it.skip)
		return nil
	}
	if len(page) == 0 {
		// A full page of entries all seen before, all at one nanosecond:
		// Loki cannot page within a nanosecond. Skip past it, counted.
		it.s.problems.Add(it.s.input, time.Unix(0, it.from).UTC().Format(time.RFC3339Nano), reasonNsOverflow,
			fmt.Sprintf("%d or more entries share this nanosecond; those beyond the limit are lost (raise loki.limit)", it.s.limit))
		it.from++
		clear(it.skip)
		return nil
	}
	last := raw[len(raw)-1].ts
	if last != it.skipTS {
		it.skipTS = last
		clear(it.skip)
	}
	for _, e := range page {
		if e.ts == last {
			it.skip[entryKey{e.ts, e.stream, e.line}] = true
		}
	}
	it.from = last
	return nil
}

// record turns e into the current record; false means it was counted as a
// problem and skipped.
func (it *iterator) record(e entry) bool {
	s := it.s
	it.lines[e.stream]++
	n := it.lines[e.stream]
	where := e.stream + ":" + strconv.FormatInt(n, 10)
	if len(e.line) > MaxLineBytes {
		s.problems.Add(s.input, where, reasonTooLong, fmt.Sprintf("longer than %d bytes", MaxLineBytes))
		return false
	}
	line := e.line
	if !utf8.ValidString(line) {
		s.problems.Add(s.input, where, reasonInvalidUTF8, "replaced invalid bytes with U+FFFD")
		line = strings.ToValidUTF8(line, "\uFFFD")
	}
	entity := s.cfg.Entity
	if entity == "" {
		for _, k := range s.entity {
			if v := e.labels[k]; v != "" {
				entity = v
				break
			}
		}
	}
	if entity == "" {
		s.problems.Add(s.input, where, reasonMissingEntity, "no stream label "+strings.Join(s.entity, ", ")+" (set loki.entity_label or entity)")
		return false
	}
	level := ""
	for _, k := range s.levels {
		if v := e.labels[k]; v != "" {
			level = v
			break
		}
	}
	if level == "" {
		level = detectLevel(line)
	}
	if it.prevTS != 0 && e.ts < it.prevTS {
		s.problems.Add(s.input, where, reasonOutOfOrder, "earlier than the previous entry by "+time.Duration(it.prevTS-e.ts).String())
	}
	it.prevTS = e.ts
	fields := make([]pipeline.LogField, 0, len(e.labels))
	for k, v := range e.labels {
		fields = append(fields, pipeline.LogField{Key: k, Value: v})
	}
	slices.SortFunc(fields, func(a, b pipeline.LogField) int { return strings.Compare(a.Key, b.Key) })
	it.cur = pipeline.LogRecord{
		Time: time.Unix(0, e.ts).UTC(), Entity: entity, Level: pipeline.NormalizeLevel(level),
		Message: line, Fields: fields, Source: s.cfg.Name, File: e.stream, Line: n,
	}
	return true
}

// At returns the current record. Its Fields are not reused.
func (it *iterator) At() pipeline.LogRecord { return it.cur }

// Err returns the error that stopped the iteration.
func (it *iterator) Err() error { return it.err }

// Close releases nothing: each page's response is closed once read.
func (it *iterator) Close() error {
	it.page, it.done = nil, true
	return nil
}

// response is Loki's query_range answer.
type response struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Stream map[string]string   `json:"stream"`
			Values [][]json.RawMessage `json:"values"`
		} `json:"result"`
	} `json:"data"`
	Error string `json:"error"`
}

// queryRange fetches one page [from, end) and returns its entries sorted
// by time, stream, line.
func (s *Source) queryRange(ctx context.Context, from, end int64) ([]entry, error) {
	q := url.Values{}
	q.Set("query", s.cfg.Loki.Query)
	q.Set("start", strconv.FormatInt(from, 10))
	q.Set("end", strconv.FormatInt(end, 10))
	q.Set("limit", strconv.Itoa(s.limit))
	q.Set("direction", "forward")
	u := s.base.JoinPath("/loki/api/v1/query_range")
	u.RawQuery = q.Encode()
	where := fmt.Sprintf("log source %q (loki): GET %s [%s, %s)", s.cfg.Name, u.Redacted(),
		time.Unix(0, from).UTC().Format(time.RFC3339Nano), time.Unix(0, end).UTC().Format(time.RFC3339Nano))
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, retry, err := s.get(ctx, u.String())
		if err == nil {
			return s.decode(resp, where)
		}
		lastErr = err
		if !retry || attempt >= s.retries {
			break
		}
		wait := s.backoff << attempt
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return nil, fmt.Errorf("%s: %w", where, lastErr)
}

// get performs one request; retry says whether the failure is transient.
func (s *Source) get(ctx context.Context, u string) (*http.Response, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	if s.cfg.Loki.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", s.cfg.Loki.TenantID)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, false, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	msg := strings.TrimSpace(string(body))
	var e struct {
		Error, Message string
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Error != "" {
			msg = e.Error
		} else if e.Message != "" {
			msg = e.Message
		}
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	hint := "check loki.query, loki.url and loki.tenant_id"
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		hint = "check loki.token_env and loki.tenant_id"
	case retry:
		hint = "Loki failed; retried " + strconv.Itoa(s.retries) + " times"
	}
	return nil, retry, fmt.Errorf("%w: %s: %s (%s)", ErrLoki, resp.Status, msg, hint)
}

func (s *Source) decode(resp *http.Response, where string) ([]entry, error) {
	defer resp.Body.Close()
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: decoding the response: %w", where, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %w: status %q: %s", where, ErrLoki, r.Status, r.Error)
	}
	if r.Data.ResultType != "streams" {
		return nil, fmt.Errorf("%s: result type %q, want streams: loki.query must be a log selector, not a metric query", where, r.Data.ResultType)
	}
	var out []entry
	for _, st := range r.Data.Result {
		name := labels.FromMap(st.Stream).String()
		for i, v := range st.Values {
			var tsStr, line string
			if len(v) < 2 || json.Unmarshal(v[0], &tsStr) != nil || json.Unmarshal(v[1], &line) != nil {
				s.problems.Add(s.input, fmt.Sprintf("%s value %d", name, i), reasonBadEntry, "not a [\"<ns>\", \"<line>\"] pair")
				continue
			}
			ts, err := strconv.ParseInt(tsStr, 10, 64)
			if err != nil {
				s.problems.Add(s.input, fmt.Sprintf("%s value %d", name, i), reasonBadEntry, "timestamp is not nanoseconds")
				continue
			}
			out = append(out, entry{ts: ts, stream: name, labels: st.Stream, line: line})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.ts != y.ts {
			return x.ts < y.ts
		}
		if x.stream != y.stream {
			return x.stream < y.stream
		}
		return x.line < y.line
	})
	return out, nil
}

// detectLevel finds a level in a line: level=... (logfmt), "level":"..."
// (JSON) or a bare level word among the first tokens.
func detectLevel(line string) string {
	head := line
	if len(head) > 512 {
		head = head[:512]
	}
	for _, key := range []string{"level=", `"level":"`, "lvl=", `"severity":"`, "severity="} {
		if i := strings.Index(head, key); i >= 0 {
			v := head[i+len(key):]
			v = strings.TrimPrefix(v, `"`)
			if j := strings.IndexAny(v, "\" ,}"); j >= 0 {
				v = v[:j]
			}
			return v
		}
	}
	for i, f := range strings.Fields(head) {
		if i >= 6 {
			break
		}
		f = strings.Trim(f, "[]():")
		if pipeline.NormalizeLevel(f) != pipeline.LevelOther && len(f) > 1 {
			return f
		}
	}
	return ""
}
