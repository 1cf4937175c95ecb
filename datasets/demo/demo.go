// Package demo simulates a small microservice cluster (six services, three
// instances each, three nodes) and writes what its operators would have:
// a Prometheus TSDB, JSON-lines and plain-text logs, and tickets, plus the
// ground truth of the incidents injected and every raw identifier planted.
// Output depends only on Config: the same Config gives the same bytes.
package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Config says what to simulate. Zero fields take the documented defaults.
type Config struct {
	Dir         string        // output directory (created; must be empty or absent)
	Seed        int64         // default 1
	Start       time.Time     // default 2026-01-05T00:00:00Z
	Duration    time.Duration // default 72h
	Scrape      time.Duration // default 15s
	OpenMetrics bool          // also write metrics.om (about 1 GB for 3 days)
	Services    int           // default 6; beyond 6, copies named frontend-2, checkout-2, ...
	Instances   int           // per service, default 3
}

// Summary describes what Generate wrote. Samples counts TSDB samples (the
// same as in metrics.om); LogLines includes the deliberately malformed lines.
type Summary struct {
	Series, Samples, LogLines, Tickets, Incidents int
	Start, End                                    time.Time
	Dir                                           string
}

// Defaults.
var (
	DefaultStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
)

const (
	DefaultDuration = 72 * time.Hour
	DefaultScrape   = 15 * time.Second
	DefaultServices = 6
	DefaultInstance = 3
)

// ErrDirNotEmpty is returned when Config.Dir already holds files.
var ErrDirNotEmpty = errors.New("demo: output directory is not empty")

func (cfg Config) withDefaults() Config {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	cfg.Start = cfg.Start.UTC()
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Scrape == 0 {
		cfg.Scrape = DefaultScrape
	}
	if cfg.Services == 0 {
		cfg.Services = DefaultServices
	}
	if cfg.Instances == 0 {
		cfg.Instances = DefaultInstance
	}
	return cfg
}

// Validate reports every problem with a defaulted Config at once.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("demo: Config.Dir is required (the output directory)"))
	}
	if cfg.Scrape < time.Millisecond || cfg.Scrape%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("demo: Config.Scrape %v must be a positive whole number of milliseconds", cfg.Scrape))
	}
	if cfg.Duration < cfg.Scrape {
		errs = append(errs, fmt.Errorf("demo: Config.Duration %v must be at least one scrape interval (%v)", cfg.Duration, cfg.Scrape))
	}
	if cfg.Start.Nanosecond()%int(time.Millisecond) != 0 {
		errs = append(errs, fmt.Errorf("demo: Config.Start %v must be whole milliseconds", cfg.Start))
	}
	if cfg.Services < 0 || cfg.Services > 600 {
		errs = append(errs, fmt.Errorf("demo: Config.Services %d out of range 1..600", cfg.Services))
	}
	if cfg.Instances < 0 || cfg.Instances > 50 {
		errs = append(errs, fmt.Errorf("demo: Config.Instances %d out of range 1..50", cfg.Instances))
	}
	// The simulation keeps every sample in memory (8 bytes each) before
	// writing, so refuse sizes this machine class cannot hold.
	if cfg.Scrape > 0 && cfg.Services > 0 && cfg.Instances > 0 {
		samples := int64(cfg.Services) * int64(cfg.Instances) * seriesPerInstance * int64(cfg.Duration/cfg.Scrape)
		if samples > maxSamples {
			errs = append(errs, fmt.Errorf("demo: %d services x %d instances over %v at %v is %d samples (%d MiB in memory), above the %d limit; shorten Duration or lower Services",
				cfg.Services, cfg.Instances, cfg.Duration, cfg.Scrape, samples, samples*8>>20, int64(maxSamples)))
		}
	}
	return errors.Join(errs...)
}

// maxSamples bounds the in-memory simulation at about 2 GiB.
const maxSamples = 256 << 20

// Generate simulates the cluster over [Start, Start+Duration) and writes the
// layout described in README.md into cfg.Dir.
func Generate(ctx context.Context, cfg Config) (Summary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if err := prepareDir(cfg.Dir); err != nil {
		return Summary{}, err
	}
	end := cfg.Start.Add(cfg.Duration)
	sum := Summary{Start: cfg.Start, End: end, Dir: cfg.Dir}

	c := newCluster(cfg.Seed, cfg.Services, cfg.Instances)
	incs := planIncidents(c, cfg.Start, cfg.Duration)
	ids := newIdentifiers()
	for _, inst := range c.insts {
		// Every metric series carries these labels.
		ids.add("instances", inst.addr)
		ids.add("ipv4", inst.ip)
		ids.add("pods", inst.pod)
		ids.add("hostnames", c.nodes[inst.node].host)
	}

	// Metrics.
	g := grid{startMs: cfg.Start.UnixMilli(), stepMs: cfg.Scrape.Milliseconds(), n: int((cfg.Duration + cfg.Scrape - 1) / cfg.Scrape)}
	vals, err := simulate(ctx, c, incs, g, cfg.Seed, end.UnixMilli())
	if err != nil {
		return sum, err
	}
	lbls := seriesLabels(c)
	sum.Series = len(c.insts) * seriesPerInstance
	sum.Samples, err = writeTSDB(ctx, filepath.Join(cfg.Dir, "tsdb"), cfg.Seed, g, lbls, vals)
	if err != nil {
		return sum, err
	}
	if cfg.OpenMetrics {
		if err := writeOpenMetrics(ctx, filepath.Join(cfg.Dir, "metrics.om"), c, g, vals); err != nil {
			return sum, err
		}
	}
	vals = nil

	// Logs, one file per service.
	logDir := filepath.Join(cfg.Dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return sum, fmt.Errorf("demo: create %s: %w", logDir, err)
	}
	malformed := map[string]int{}
	for _, svc := range c.services {
		var events []logEvent
		for _, inst := range svc.insts {
			ev, got := instanceLogs(c, inst, incs, cfg.Seed, cfg.Start, end)
			events = append(events, ev...)
			ids.merge(got)
		}
		n, bad, file, err := writeServiceLogs(ctx, logDir, c, svc, events)
		if err != nil {
			return sum, err
		}
		sum.LogLines += n
		if bad > 0 {
			malformed[file] = bad
		}
	}

	// Tickets and ground truth.
	tickets, err := makeTickets(c, incs, cfg.Seed, end, ids)
	if err != nil {
		return sum, err
	}
	if tickets == nil {
		tickets = []ticketJSON{}
	}
	sum.Tickets = len(tickets)
	sum.Incidents = len(incs)
	files := []struct {
		path string
		v    any
	}{
		{"tickets.json", tickets},
		{"ground_truth/incidents.json", groundTruth(c, incs)},
		{"ground_truth/identifiers.json", ids.sorted()},
		{"ground_truth/malformed.json", malformed},
	}
	for _, f := range files {
		if err := writeJSON(filepath.Join(cfg.Dir, f.path), f.v); err != nil {
			return sum, err
		}
	}
	keyPath := filepath.Join(cfg.Dir, "anonymization.key")
	if err := os.WriteFile(keyPath, []byte(hex.EncodeToString(demoKey(cfg.Seed))+"\n"), 0o600); err != nil {
		return sum, fmt.Errorf("demo: write %s: %w", keyPath, err)
	}
	return sum, nil
}

// demoKey derives the demo's anonymization key from the seed. It is for the
// demo only: anyone who knows the seed knows the key.
func demoKey(seed int64) []byte {
	h := sha256.Sum256([]byte("opsdata demo anonymization key v1, seed " + strconv.FormatInt(seed, 10)))
	return h[:]
}

// prepareDir creates dir, refusing one that already has entries.
func prepareDir(dir string) error {
	f, err := os.Open(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: open output directory %s: %w", dir, err)
	default:
		_, rerr := f.Readdirnames(1)
		f.Close()
		if rerr == nil {
			return fmt.Errorf("%w: %s (choose a new directory or empty it)", ErrDirNotEmpty, dir)
		}
		if !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("demo: read output directory %s: %w", dir, rerr)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "ground_truth"), 0o755); err != nil {
		return fmt.Errorf("demo: create %s: %w", dir, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("demo: encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}
