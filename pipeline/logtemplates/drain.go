// Package logtemplates mines log templates (event types) from messages
// with a streaming Drain-style parser (He et al., "Drain: An Online Log
// Parsing Approach with Fixed Depth Tree", ICWS 2017): messages are masked
// (IPs, numbers, ... become <*>), tokenized at white space, and routed
// through a fixed-depth prefix tree keyed by token count and the leading
// tokens to a leaf whose clusters are compared by token similarity.
//
// Template ids are derived from the final template text (ID), so the same
// template has the same id in every run and dataset version, whatever the
// order the lines arrived in. Because a template can still generalize when
// later lines arrive (a token turns into <*>), callers assign ids in a
// second pass with Match once every line has been added.
package logtemplates

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Config holds the miner's parameters; zero fields take the defaults.
type Config struct {
	// Depth is the depth of the prefix tree counting the root and the
	// token-count layer, as in Drain: Depth-2 leading tokens route a line.
	// Default 4.
	Depth int
	// Similarity is the share of equal tokens (0..1] a line needs to join a
	// cluster. Default 0.4.
	Similarity float64
	// MaxChildren caps the children of an inner node; further tokens share
	// a <*> child. Default 100.
	MaxChildren int
	// Masks names the built-in masks to apply (nil: all of AllMasks; an
	// empty non-nil list: none).
	Masks []string
	// ExtraMasks are regexps whose matches become <*> before tokenizing.
	ExtraMasks []string
}

// Defaults.
const (
	DefaultDepth       = 4
	DefaultSimilarity  = 0.4
	DefaultMaxChildren = 100
)

func (c Config) withDefaults() Config {
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.Similarity == 0 {
		c.Similarity = DefaultSimilarity
	}
	if c.MaxChildren == 0 {
		c.MaxChildren = DefaultMaxChildren
	}
	return c
}

// Validate checks the parameters.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Depth < 3:
		return fmt.Errorf("depth %d must be at least 3 (root, token count, one token)", c.Depth)
	case c.Similarity <= 0 || c.Similarity > 1:
		return fmt.Errorf("similarity %v must be in (0, 1]", c.Similarity)
	case c.MaxChildren < 2:
		return fmt.Errorf("max_children %d must be at least 2", c.MaxChildren)
	}
	_, err := NewMasker(c.Masks, c.ExtraMasks)
	return err
}

// Cluster is one template and its statistics.
type Cluster struct {
	tokens    []string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// Template is the cluster's current template text.
func (c *Cluster) Template() string { return strings.Join(c.tokens, " ") }

type node struct {
	children map[string]*node
	clusters []*Cluster // leaves only
}

// Miner is a streaming template miner. It is not safe for concurrent use.
type Miner struct {
	cfg      Config
	mask     *Masker
	root     map[int]*node // by token count
	clusters []*Cluster
	toks     []string // scratch
}

// New returns a miner with the given parameters.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := NewMasker(cfg.Masks, cfg.ExtraMasks)
	if err != nil {
		return nil, err
	}
	return &Miner{cfg: cfg, mask: m, root: map[int]*node{}}, nil
}

// Masker returns the miner's masker.
func (m *Miner) Masker() *Masker { return m.mask }

// Clusters returns the clusters in creation order.
func (m *Miner) Clusters() []*Cluster { return m.clusters }

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// routeKey is the tree key of a token: tokens with digits and wildcards
// share the <*> branch, so variables do not split the tree.
func routeKey(t string) string {
	if t == Wildcard || hasDigit(t) || strings.Contains(t, Wildcard) || strings.ContainsAny(t, "=@") {
		return Wildcard
	}
	return t
}

// leaf walks (and when grow, builds) the tree for tokens.
func (m *Miner) leaf(tokens []string, grow bool) *node {
	n := m.root[len(tokens)]
	if n == nil {
		if !grow {
			return nil
		}
		n = &node{}
		m.root[len(tokens)] = n
	}
	levels := min(m.cfg.Depth-2, len(tokens))
	for i := 0; i < levels; i++ {
		key := routeKey(tokens[i])
		if n.children == nil {
			if !grow {
				return nil
			}
			n.children = map[string]*node{}
		}
		next := n.children[key]
		switch {
		case next != nil:
		case !grow:
			if next = n.children[Wildcard]; next == nil {
				return nil
			}
		default:
			// Keep one slot for the <*> child that takes the overflow.
			if key != Wildcard && len(n.children) >= m.cfg.MaxChildren-1 {
				key = Wildcard
			}
			if next = n.children[key]; next == nil {
				next = &node{}
				n.children[key] = next
			}
		}
		n = next
	}
	return n
}

// similarity is the share of positions where the template equals the line.
// Template wildcards count as equal when params is set (matching against
// final templates) or when the line has a (masked) wildcard there too.
func similarity(tpl, line []string, params bool) (sim float64, wild int) {
	eq := 0
	for i, t := range tpl {
		if t == Wildcard {
			wild++
			// A masked token in both counts as equal, as Drain3's mask
			// tokens do; a generalized position only when matching.
			if params || line[i] == Wildcard {
				eq++
			}
			continue
		}
		if t == line[i] {
			eq++
		}
	}
	if len(tpl) == 0 {
		return 1, 0
	}
	return float64(eq) / float64(len(tpl)), wild
}

func best(clusters []*Cluster, tokens []string, threshold float64, params bool) *Cluster {
	var top *Cluster
	topSim, topWild := -1.0, -1
	for _, c := range clusters {
		s, w := similarity(c.tokens, tokens, params)
		if s > topSim || s == topSim && w > topWild {
			top, topSim, topWild = c, s, w
		}
	}
	if top == nil || topSim < threshold {
		return nil
	}
	return top
}

// Add mines one message seen at t and returns its cluster (whose template
// may still change as more lines arrive).
func (m *Miner) Add(msg string, t time.Time) *Cluster {
	m.toks = m.mask.Tokens(m.toks[:0], msg)
	return m.addTokens(m.toks, t)
}

func (m *Miner) addTokens(tokens []string, t time.Time) *Cluster {
	leaf := m.leaf(tokens, true)
	c := best(leaf.clusters, tokens, m.cfg.Similarity, false)
	if c == nil {
		c = &Cluster{tokens: append([]string(nil), tokens...), FirstSeen: t, LastSeen: t}
		leaf.clusters = append(leaf.clusters, c)
		m.clusters = append(m.clusters, c)
	} else {
		for i, tok := range c.tokens {
			if tok != tokens[i] && tok != Wildcard {
				c.tokens[i] = Wildcard
			}
		}
	}
	c.Count++
	if t.Before(c.FirstSeen) {
		c.FirstSeen = t
	}
	if t.After(c.LastSeen) {
		c.LastSeen = t
	}
	return c
}

// Match finds the cluster of msg without changing the miner: the second
// pass that assigns final template ids. It returns nil when no cluster is
// similar enough (a message that was never added).
func (m *Miner) Match(msg string) *Cluster {
	m.toks = m.mask.Tokens(m.toks[:0], msg)
	leaf := m.leaf(m.toks, false)
	if leaf == nil {
		return nil
	}
	return best(leaf.clusters, m.toks, m.cfg.Similarity, true)
}

// MaskedTemplate is the masked, tokenized message itself: the template of a
// message that matches no cluster.
func (m *Miner) MaskedTemplate(msg string) string {
	m.toks = m.mask.Tokens(m.toks[:0], msg)
	return strings.Join(m.toks, " ")
}

// ID is the stable id of a template text: the first 12 hex digits of its
// SHA-256, so researchers can recompute it from the published template.
func ID(template string) string {
	h := sha256.Sum256([]byte(template))
	return hex.EncodeToString(h[:6])
}

// Template is one row of the template table.
type Template struct {
	ID        string
	Template  string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// Templates returns the final templates, clusters with the same text
// merged, each text passed through publish (for example the anonymizer's
// Text; nil keeps it), sorted by count descending then id. byCluster maps
// every cluster to its row's index.
func (m *Miner) Templates(publish func(string) string) (rows []Template, byCluster map[*Cluster]int) {
	byText := map[string]int{}
	byCluster = make(map[*Cluster]int, len(m.clusters))
	for _, c := range m.clusters {
		text := c.Template()
		if publish != nil {
			text = publish(text)
		}
		i, ok := byText[text]
		if !ok {
			i = len(rows)
			byText[text] = i
			rows = append(rows, Template{ID: ID(text), Template: text, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen})
		}
		r := &rows[i]
		r.Count += c.Count
		if c.FirstSeen.Before(r.FirstSeen) {
			r.FirstSeen = c.FirstSeen
		}
		if c.LastSeen.After(r.LastSeen) {
			r.LastSeen = c.LastSeen
		}
		byCluster[c] = i
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := rows[order[a]], rows[order[b]]
		if x.Count != y.Count {
			return x.Count > y.Count
		}
		return x.ID < y.ID
	})
	newIdx := make([]int, len(rows))
	sorted := make([]Template, len(rows))
	for to, from := range order {
		newIdx[from] = to
		sorted[to] = rows[from]
	}
	for c, i := range byCluster {
		byCluster[c] = newIdx[i]
	}
	return sorted, byCluster
}
