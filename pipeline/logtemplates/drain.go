// Package logtemplates mines log templates (event types) from messages
// with a streaming parser faithful to Drain (He et al., "Drain: An Online
// Log Parsing Approach with Fixed Depth Tree", ICWS 2017) as Drain3
// implements it, plus improvements chosen by measurement (see
// docs/decisions/0024-drain-miner-faithful-and-beyond.md): messages are
// masked (IPs, numbers, ... become <*>), tokenized at white space, and
// routed through a fixed-depth prefix tree keyed by token count and the
// leading tokens to a leaf whose clusters are compared by token
// similarity.
//
// Template ids do not depend on the current template text: a cluster's id
// is derived from the first text it had (plus a collision counter) and kept
// in a Registry, so a template that generalizes keeps its id, and a miner
// resumed from a previous run's registry continues with the same ids.
package logtemplates

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config holds the miner's parameters; zero fields take the defaults.
type Config struct {
	// Depth is the depth of the prefix tree as in Drain and Drain3: it
	// counts the root, the token-count layer and the leaf layer, so a line
	// is routed by its first Depth-3 tokens (fewer when it is shorter).
	// Default 4.
	Depth int
	// Similarity is Drain's sim_th: the share of a template's positions
	// that must hold the line's token for the line to join (0..1].
	// Positions that are <*> in the template never count. Default 0.4.
	Similarity float64
	// MaxChildren is Drain's max_children: the children of an inner node,
	// the <*> child included. Default 100.
	MaxChildren int
	// Masks names the built-in masks to apply (nil: all of AllMasks; an
	// empty non-nil list: none).
	Masks []string
	// ExtraMasks are regexps whose matches become <*> before tokenizing.
	ExtraMasks []string
	// Classic turns off the improvements over Drain (key=value tokens,
	// the merge pass, constants shown): with no masks it gives Drain3's
	// clusters and templates line for line.
	Classic bool
	// IDText maps a new cluster's first text to the text its id hashes
	// (nil: the text itself). The export passes the anonymizer's scrubber,
	// so no published id is the hash of a raw identifier.
	IDText func(string) string

	off uint8 // improvements turned off one by one, for the ablation test
}

// The improvements over Drain, for the ablation test (0024).
const (
	offKeys    uint8 = 1 << iota // key="quoted" tokens, key=<*>, msg= routes first
	offMerge                     // the merge pass
	offRestore                   // constants shown
)

// has reports whether improvement f is on.
func (c Config) has(f uint8) bool { return !c.Classic && c.off&f == 0 }

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
		return fmt.Errorf("depth %d must be at least 3 (root, token count, leaf)", c.Depth)
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
	raw       []string // per position: the one raw value a soft mask hid in every line, or ""
	first     []string // the tokens it was created with: its tree route and id
	id        string
	seq       int      // creation order
	history   []string // earlier texts, oldest first
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// restoreMin is the number of lines from which a masked number, duration
// or size that had the same value in every line of a cluster is shown as
// the constant it is (limit 100, ttl 30s). Chosen by measurement (0024):
// 3 and 5 score the same; 2 shows chance constants of pairs, 10 hides
// real ones of rare statements.
var restoreMin int64 = 3

// Template is the cluster's current template text.
func (c *Cluster) Template() string {
	if c.raw == nil || c.Count < restoreMin {
		return strings.Join(c.tokens, " ")
	}
	var b strings.Builder
	for i, t := range c.tokens {
		if i > 0 {
			b.WriteByte(' ')
		}
		if c.raw[i] != "" {
			t = c.raw[i]
		}
		b.WriteString(t)
	}
	return b.String()
}

// masked is the template text the miner matches: every mask kept.
func (c *Cluster) masked() string { return strings.Join(c.tokens, " ") }

// Index is the cluster's index in Clusters() (its creation order).
func (c *Cluster) Index() int { return c.seq }

// ID is the cluster's stable id.
func (c *Cluster) ID() string { return c.id }

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
	ids      map[string]bool
	toks     []string // scratch
	routeBuf []string // scratch
	raws     []string // scratch
}

// New returns a miner with the given parameters and an empty registry.
func New(cfg Config) (*Miner, error) { return NewMiner(cfg, nil) }

// NewMiner returns a miner that resumes from reg (nil: start empty). The
// registry's clusters are replayed in creation order, so the prefix tree
// is the one the previous run ended with and lines keep their ids.
func NewMiner(cfg Config, reg *Registry) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mk, err := NewMasker(cfg.Masks, cfg.ExtraMasks)
	if err != nil {
		return nil, err
	}
	mk.quoted = cfg.has(offKeys)
	m := &Miner{cfg: cfg, mask: mk, root: map[int]*node{}, ids: map[string]bool{}}
	if reg != nil {
		for _, r := range reg.rows {
			first := splitTokens(nil, r.FirstTemplate, mk.quoted)
			cur := splitTokens(nil, r.Template, mk.quoted)
			if len(first) != len(cur) {
				return nil, fmt.Errorf("registry: template %s: first text %q and text %q differ in length", r.ID, r.FirstTemplate, r.Template)
			}
			if m.ids[r.ID] {
				return nil, fmt.Errorf("registry: template id %s twice", r.ID)
			}
			c := &Cluster{tokens: cur, first: first, id: r.ID, seq: len(m.clusters), Count: r.Count,
				FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, history: append([]string(nil), r.PreviousTemplates...)}
			if r.Constants != nil {
				if len(r.Constants) != len(cur) {
					return nil, fmt.Errorf("registry: template %s: %d constants for %d tokens", r.ID, len(r.Constants), len(cur))
				}
				c.raw = append([]string(nil), r.Constants...)
			}
			m.insert(c)
		}
	}
	return m, nil
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

// variableKey reports whether a token routes to the <*> child whatever
// the children are: as in Drain3, a token with a digit; beyond Drain, never
// a logfmt message pair. (Routing tokens that hold a mask or '=' / '@' to
// <*> as well was measured and dropped: 0024.)
func (m *Miner) variableKey(t string) bool {
	if m.cfg.has(offKeys) && isMsgToken(t) {
		return false // the message of a logfmt line is its statement
	}
	return hasDigit(t)
}

// insert adds a new cluster to the tree along its first tokens, as
// Drain3's add_seq_to_prefix_tree, and registers it.
func (m *Miner) insert(c *Cluster) {
	tokens := m.route(c.first)
	n := m.root[len(tokens)]
	if n == nil {
		n = &node{}
		m.root[len(tokens)] = n
	}
	for _, tok := range tokens[:m.levels(len(tokens))] {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		if next := n.children[tok]; next != nil {
			n = next
			continue
		}
		key := tok
		_, hasWild := n.children[Wildcard]
		switch {
		case tok == Wildcard || m.variableKey(tok):
			key = Wildcard
		case hasWild && len(n.children) >= m.cfg.MaxChildren:
			key = Wildcard // full: the overflow shares <*>
		case !hasWild && len(n.children)+1 >= m.cfg.MaxChildren:
			key = Wildcard // the last slot is the <*> child's
		}
		next := n.children[key]
		if next == nil {
			next = &node{}
			n.children[key] = next
		}
		n = next
	}
	n.clusters = append(n.clusters, c)
	c.seq = len(m.clusters)
	m.clusters = append(m.clusters, c)
	m.ids[c.id] = true
}

// levels is the number of leading tokens that route a line of n tokens:
// Drain3's max_node_depth is depth-2 counted from the token-count node at
// depth 1, and it stops before the last token.
func (m *Miner) levels(n int) int {
	return max(0, min(m.cfg.Depth-3, n-1))
}

// find walks the tree as Drain3's tree_search: the token's child, else
// the <*> child, else no leaf.
func (m *Miner) find(tokens []string) *node { return m.findInto(&m.routeBuf, tokens) }

func (m *Miner) findInto(routeBuf *[]string, tokens []string) *node {
	tokens = m.routeInto(routeBuf, tokens)
	n := m.root[len(tokens)]
	if n == nil {
		return nil
	}
	for _, tok := range tokens[:m.levels(len(tokens))] {
		next := n.children[tok]
		if next == nil {
			if next = n.children[Wildcard]; next == nil {
				return nil
			}
		}
		n = next
	}
	return n
}

// isMsgToken reports a logfmt message pair (msg=..., message=...).
func isMsgToken(t string) bool {
	return strings.HasPrefix(t, "msg=") || strings.HasPrefix(t, "message=")
}

// route returns the tokens in routing order: beyond Drain, a logfmt
// message pair routes first wherever it stands, since it names the
// statement while level=, ts= and the like are shared by all of them.
func (m *Miner) route(tokens []string) []string { return m.routeInto(&m.routeBuf, tokens) }

func (m *Miner) routeInto(buf *[]string, tokens []string) []string {
	if !m.cfg.has(offKeys) {
		return tokens
	}
	for i, t := range tokens {
		if i > 0 && isMsgToken(t) {
			r := append((*buf)[:0], t)
			r = append(r, tokens[:i]...)
			r = append(r, tokens[i+1:]...)
			*buf = r
			return r
		}
	}
	return tokens
}

// keyLen is the length of a key=value token's "key=" (identifier keys
// only), or 0.
func keyLen(t string) int {
	k := 0
	for k < len(t) && (isAlpha(t[k]) || isDigit(t[k]) || t[k] == '_' || t[k] == '.' || t[k] == '-') {
		k++
	}
	if k == 0 || k == len(t) || t[k] != '=' || !isAlpha(t[0]) {
		return 0
	}
	return k + 1
}

// keyConflict reports two key=value tokens with different keys.
func keyConflict(a, b string) bool {
	ka, kb := keyLen(a), keyLen(b)
	return ka > 0 && kb > 0 && a[:ka] != b[:kb]
}

// keyWild reports whether tpl is key=<*> and line has the same key.
func keyWild(tpl, line string) bool {
	n := len(tpl) - len(Wildcard)
	return n > 1 && tpl[n-1] == '=' && tpl[n:] == Wildcard && len(line) >= n && line[:n] == tpl[:n]
}

// similarity is Drain3's get_seq_distance: the share of positions where
// the template holds the line's token; template wildcards count only
// when params is set (matching against final templates).
func similarity(tpl, line []string, params, keys bool) (sim float64, wild int) {
	if len(tpl) == 0 {
		return 1, 0
	}
	eq := 0
	for i, t := range tpl {
		if t == Wildcard {
			wild++
			continue
		}
		// Beyond Drain: key=<*> keeps its key as evidence, and a pair
		// with another key is another statement (another format).
		if t == line[i] || keys && keyWild(t, line[i]) {
			eq++
		} else if keys && keyConflict(t, line[i]) {
			return -1, wild
		}
	}
	if params {
		eq += wild
	}
	return float64(eq) / float64(len(tpl)), wild
}

// best is Drain3's fast_match: the most similar cluster, ties to the one
// with more wildcards, then the older one.
func best(clusters []*Cluster, tokens []string, threshold float64, params, keys bool) *Cluster {
	var top *Cluster
	topSim, topWild := -1.0, -1
	for _, c := range clusters {
		s, w := similarity(c.tokens, tokens, params, keys)
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
// may still change as more lines arrive; its id does not).
func (m *Miner) Add(msg string, t time.Time) *Cluster {
	m.toks, m.raws = m.mask.tokens(m.toks[:0], m.raws[:0], msg, m.cfg.has(offRestore))
	return m.addTokens(m.toks, m.raws, t)
}

// Tokens is one message masked and split by Tokenize, for AddTokens.
type Tokens struct{ toks, raws []string }

// Tokenize masks and splits msg into tk, as Add does. It reads nothing Add
// changes, so goroutines may tokenize the next messages while one adds:
// Add is tokenizing and AddTokens, and tokenizing is most of its work.
func (m *Miner) Tokenize(tk *Tokens, msg string) {
	tk.toks, tk.raws = m.mask.tokens(tk.toks[:0], tk.raws[:0], msg, m.cfg.has(offRestore))
}

// Masked is the message's masked tokens: the whole of what MatchInto
// reads of a message, so two messages with the same masked tokens match
// the same cluster.
func (tk *Tokens) Masked() []string { return tk.toks }

// AddTokens is Add of a message tokenized by Tokenize.
func (m *Miner) AddTokens(tk *Tokens, t time.Time) *Cluster { return m.addTokens(tk.toks, tk.raws, t) }

func (m *Miner) addTokens(tokens, raw []string, t time.Time) *Cluster {
	var c *Cluster
	if leaf := m.find(tokens); leaf != nil {
		c = best(leaf.clusters, tokens, m.cfg.Similarity, false, m.cfg.has(offKeys))
	}
	if c == nil {
		first := append([]string(nil), tokens...)
		c = &Cluster{tokens: append([]string(nil), tokens...), first: first, FirstSeen: t, LastSeen: t}
		for _, r := range raw {
			if r != "" {
				c.raw = append([]string(nil), raw...)
				break
			}
		}
		c.id = m.newID(strings.Join(first, " "))
		m.insert(c)
	} else {
		changed := false
		before := ""
		if c.Count+1 == restoreMin && c.raw != nil {
			changed, before = true, c.Template() // constants show from now on
		}
		for i, r := range c.raw {
			if r != "" && raw[i] != r {
				if !changed {
					changed, before = true, c.Template()
				}
				c.raw[i] = ""
			}
		}
		for i, tok := range c.tokens {
			if tok == tokens[i] || tok == Wildcard {
				continue
			}
			to := Wildcard
			// Beyond Drain: key=a and key=b generalize to key=<*>.
			if k := keyLen(tok); k > 0 && m.cfg.has(offKeys) && strings.HasPrefix(tokens[i], tok[:k]) {
				to = tok[:k] + Wildcard
			}
			if to == tok {
				continue
			}
			if !changed {
				changed, before = true, c.Template()
			}
			c.tokens[i] = to
		}
		if changed {
			if after := c.Template(); after != before || c.Count+1 == restoreMin {
				if after != before {
					c.history = append(c.history, before)
				}
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

// newID is the id of a new cluster first seen as text: ID(text), or for
// the k-th later cluster created with the same text (possible once the
// first one generalized) ID of text, NUL and k.
func (m *Miner) newID(text string) string {
	if m.cfg.IDText != nil {
		text = m.cfg.IDText(text)
	}
	id := ID(text)
	for k := 1; m.ids[id]; k++ {
		id = ID(text + "\x00" + fmt.Sprint(k))
	}
	return id
}

// Match finds the cluster of msg without changing the miner (Drain3's
// match with include_params): the second pass that assigns final template
// ids. It returns nil when no cluster is similar enough (a message that
// was never added).
func (m *Miner) Match(msg string) *Cluster {
	sc := MatchScratch{toks: m.toks, route: m.routeBuf}
	c := m.MatchInto(&sc, msg)
	m.toks, m.routeBuf = sc.toks, sc.route
	return c
}

// MatchScratch holds one goroutine's buffers for MatchInto.
type MatchScratch struct{ toks, route []string }

// MatchInto is Match with the caller's buffers: goroutines may match
// concurrently, each with its own scratch, while no line is added (the
// export matches a day's lines on every core once the day is mined).
func (m *Miner) MatchInto(sc *MatchScratch, msg string) *Cluster {
	sc.toks = m.mask.Tokens(sc.toks[:0], msg)
	leaf := m.findInto(&sc.route, sc.toks)
	if leaf == nil {
		return nil
	}
	return best(leaf.clusters, sc.toks, m.cfg.Similarity, true, m.cfg.has(offKeys))
}

// MaskedTemplate is the masked, tokenized message itself: the template of a
// message that matches no cluster.
func (m *Miner) MaskedTemplate(msg string) string {
	m.toks = m.mask.Tokens(m.toks[:0], msg)
	return strings.Join(m.toks, " ")
}

// ID is the id of a text: the first 12 hex digits of its SHA-256. A
// cluster's id is the ID of the first text it had.
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
	// Lineage, published like Template: the text the row's id comes from,
	// and the other texts its clusters had (their earlier texts, the
	// current texts of clusters merged into it), oldest cluster first.
	FirstTemplate     string
	PreviousTemplates []string
}

// Templates returns the final templates, each text passed through publish
// (for example the anonymizer's Text; nil keeps it), sorted by count
// descending then id. Clusters whose published texts are equal (and, beyond
// Drain, clusters the merge pass joins) are one row under the id of the
// oldest. byCluster maps every cluster to its row's index.
func (m *Miner) Templates(publish func(string) string) (rows []Template, byCluster map[*Cluster]int) {
	rep := m.merged()
	byText := map[string]int{}
	byCluster = make(map[*Cluster]int, len(m.clusters))
	for _, c := range m.clusters {
		r0 := rep[c.seq]
		text := r0.Template()
		if publish != nil {
			text = publish(text)
		}
		i, ok := byText[text]
		if !ok {
			i = len(rows)
			byText[text] = i
			first := joinTokens(r0.first)
			if publish != nil {
				first = publish(first)
			}
			rows = append(rows, Template{ID: r0.id, Template: text, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, FirstTemplate: first})
		}
		r := &rows[i]
		for _, h := range append(append([]string(nil), c.history...), c.Template()) {
			if publish != nil {
				h = publish(h)
			}
			if h != text && !slices.Contains(r.PreviousTemplates, h) {
				r.PreviousTemplates = append(r.PreviousTemplates, h)
			}
		}
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
