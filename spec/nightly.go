package spec

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Nightly configures the growing dataset `opsdata nightly` maintains and the
// retention `opsdata gc` applies (docs/decisions/0027-nightly-snapshots.md).
// Every key is optional.
type Nightly struct {
	// Start is the first day of the dataset (default: range.from).
	Start time.Time `yaml:"start"`
	// Settle is how long after a day ends it becomes eligible, so late
	// scrapes, logs and tickets are in (default 3h).
	Settle Duration `yaml:"settle"`
	// MaxDays bounds the days one run adds while catching up (default 7).
	MaxDays int `yaml:"max_days"`
	// RelabelDays: a ticket created or changed since the last run that
	// touches a day at most this many days old triggers a republish of
	// that day's labels (default 14).
	RelabelDays int `yaml:"relabel_days"`
	// LeaseTTL is how long a run's lease holds without renewal (default
	// 2h); LeaseWait how long a run waits before reading its lease back
	// (default 2s).
	LeaseTTL  Duration `yaml:"lease_ttl"`
	LeaseWait Duration `yaml:"lease_wait"`
	// KeepLast nightly snapshots survive gc (default 30); KeepMonthly keeps
	// the last snapshot of every month; Releases are snapshot names kept for ever.
	KeepLast    int      `yaml:"keep_last"`
	KeepMonthly bool     `yaml:"keep_monthly"`
	Releases    []string `yaml:"releases"`
	// Pushgateway is a Pushgateway base URL the run pushes its metrics to;
	// Textfile a node_exporter textfile-collector file (*.prom) it writes.
	Pushgateway string `yaml:"pushgateway"`
	Textfile    string `yaml:"textfile"`
}

// Nightly defaults.
const (
	DefaultSettle      = 3 * time.Hour
	DefaultMaxDays     = 7
	DefaultRelabelDays = 14
	DefaultLeaseTTL    = 2 * time.Hour
	DefaultLeaseWait   = 2 * time.Second
	DefaultKeepLast    = 30
)

func (n *Nightly) nightlyDefaults() {
	if n.Settle == 0 {
		n.Settle = Duration(DefaultSettle)
	}
	if n.MaxDays == 0 {
		n.MaxDays = DefaultMaxDays
	}
	if n.RelabelDays == 0 {
		n.RelabelDays = DefaultRelabelDays
	}
	if n.LeaseTTL == 0 {
		n.LeaseTTL = Duration(DefaultLeaseTTL)
	}
	if n.LeaseWait == 0 {
		n.LeaseWait = Duration(DefaultLeaseWait)
	}
	if n.KeepLast == 0 {
		n.KeepLast = DefaultKeepLast
	}
}

func (n *Nightly) validateNightly(add func(string, ...any)) {
	if n.Settle < 0 {
		add("nightly.settle: must not be negative")
	}
	if n.MaxDays < 0 {
		add("nightly.max_days: must be positive")
	}
	if n.RelabelDays < 0 {
		add("nightly.relabel_days: must be positive")
	}
	if n.KeepLast < 0 {
		add("nightly.keep_last: must be positive")
	}
	if !n.Start.IsZero() && !n.Start.Equal(n.Start.UTC().Truncate(24*time.Hour)) {
		add("nightly.start: %s must be a UTC midnight", n.Start.Format(time.RFC3339))
	}
	if time.Duration(n.LeaseWait) >= time.Duration(n.LeaseTTL) {
		add("nightly.lease_wait: must be shorter than lease_ttl")
	}
}

// Paths returns every scalar value of the keys named keys, at any depth of
// the section: the files and globs a component reads (path, paths, rules,
// file). Nightly fingerprints them without decoding the component's config.
func (s Section) Paths(keys ...string) []string {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []string
	var walk func(n *yaml.Node, collect bool)
	walk = func(n *yaml.Node, collect bool) {
		n = resolveAlias(n)
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.ScalarNode:
			if collect && n.Value != "" {
				out = append(out, n.Value)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, collect)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], want[n.Content[i].Value])
			}
		}
	}
	walk(s.node, false)
	return out
}
