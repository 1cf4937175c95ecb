package demo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
)

// serviceProfile is the steady-state behaviour of one of the six named services.
type serviceProfile struct {
	name      string
	jsonLogs  bool    // jsonl (true) or Berlin-local plain text (false)
	peakRPS   float64 // per instance, at the diurnal peak
	medianLat float64 // seconds
	memBase   float64 // bytes
	cpuBase   float64 // idle CPU ratio
	paths     []string
}

var profiles = []serviceProfile{
	{"frontend", true, 42, 0.035, 260 << 20, 0.08, []string{"/", "/products", "/product/{id}", "/cart", "/static/app.js"}},
	{"checkout", true, 12, 0.060, 380 << 20, 0.10, []string{"/v1/checkout", "/v1/orders/{id}", "/v1/orders"}},
	{"payments", true, 8, 0.120, 310 << 20, 0.07, []string{"/v1/payments", "/v1/payments/{id}", "/v1/refunds"}},
	{"catalog", false, 30, 0.025, 520 << 20, 0.09, []string{"/v1/products", "/v1/products/{id}", "/v1/search"}},
	{"cart", false, 15, 0.020, 190 << 20, 0.06, []string{"/v1/cart/{id}", "/v1/cart/{id}/items"}},
	{"auth", false, 20, 0.045, 230 << 20, 0.07, []string{"/v1/login", "/v1/token/refresh", "/v1/password/reset"}},
}

// nodePattern places instance i of base service s on node nodePattern[s][i%3]
// (0-based). Node 1 (worker-2) hosts frontend, checkout, payments and cart,
// so its outage hits four of the six services; catalog and auth stay clear.
var nodePattern = [6][3]int{
	{0, 1, 2}, // frontend
	{1, 2, 0}, // checkout
	{2, 0, 1}, // payments
	{0, 2, 0}, // catalog
	{1, 2, 1}, // cart
	{2, 0, 2}, // auth
}

const (
	nodeCount   = 3
	outageNode  = 1 // worker-2
	servicePort = 8080
)

type node struct {
	host string // FQDN
	ip   string // kubelet address
}

type instance struct {
	svc      *service
	idx      int // within its service
	node     int
	ip       string
	addr     string // ip:port, the instance label
	pod      string
	gidx     int    // position in cluster.insts
	streamID uint64 // seeds this instance's random streams
}

type service struct {
	idx    int // position in the cluster
	name   string
	base   int // index into profiles
	prof   *serviceProfile
	rsHash string
	insts  []*instance
}

type cluster struct {
	nodes    []node
	services []*service
	insts    []*instance // in service order, then instance order

	// Pools of raw identifiers that log lines and tickets draw from.
	clientIPv4 []string
	ipv6       []string
	tokens     []string
	backends   []backend
}

type backend struct {
	host string
	ip   string
	port int
}

var (
	usernames = []string{"jdoe42", "alice.w", "mkowalski", "rkumar88", "ttanaka", "lmartin_3", "ops_bot9", "bchen7"}
	// Reporters file tickets; customers show up in auth's log lines.
	reporterEmails = []string{"alice.smith@acme-corp.example", "j.doe@acme-corp.example", "m.kowalski@acme-corp.example", "priya.n@acme-corp.example", "oncall-payments@acme-corp.example"}
	customerEmails = []string{"c.lopez84@mailbox.example", "hans.meier@mailbox.example", "yuki.sato@mailbox.example", "ines.f@mailbox.example"}
)

// k8sAlphabet is the alphabet Kubernetes uses for generated name suffixes.
const k8sAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randString(r *rand.Rand, alphabet string, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// serviceName names service s: the six base names, then copies suffixed
// -2, -3, ... for scale benchmarks.
// namespaceOf places a service in one of two namespaces: the customer-facing
// shop (the first half of the profiles) and the platform behind it, so specs
// can window by namespace (entity.kind: namespace).
func namespaceOf(s *service) string {
	if s.base < (len(profiles)+1)/2 {
		return "shop"
	}
	return "platform"
}

func serviceName(s int) string {
	base := profiles[s%len(profiles)].name
	if s < len(profiles) {
		return base
	}
	return fmt.Sprintf("%s-%d", base, s/len(profiles)+1)
}

// newCluster lays out nodes, services and instances. Identity comes from its
// own random stream so that the range or scrape interval does not change names.
func newCluster(seed int64, nServices, nInstances int) *cluster {
	r := rand.New(rand.NewPCG(uint64(seed), 0x1d5))
	c := &cluster{}
	for n := range nodeCount {
		c.nodes = append(c.nodes, node{
			host: fmt.Sprintf("worker-%d.prod.acme.internal", n+1),
			ip:   fmt.Sprintf("10.0.1.%d", 11+n),
		})
	}
	// Each node draws pod IPs from its own /24 without repeats; past 240 pods
	// on one node we move to the next /24 so addresses stay unique at scale.
	perm := make([][]int, nodeCount)
	used := make([]int, nodeCount)
	for n := range perm {
		perm[n] = r.Perm(240)
	}
	nextIP := func(n int) string {
		k := used[n]
		used[n]++
		block := k / 240
		host := 10 + perm[n][k%240]
		return fmt.Sprintf("10.42.%d.%d", n+1+nodeCount*block, host)
	}
	for s := range nServices {
		base := s % len(profiles)
		svc := &service{idx: s, name: serviceName(s), base: base, prof: &profiles[base]}
		svc.rsHash = randString(r, k8sAlphabet, 9+r.IntN(2))
		for i := range nInstances {
			nd := nodePattern[base][i%3]
			ip := nextIP(nd)
			in := &instance{
				svc:      svc,
				idx:      i,
				node:     nd,
				ip:       ip,
				addr:     fmt.Sprintf("%s:%d", ip, servicePort),
				pod:      fmt.Sprintf("%s-%s-%s", svc.name, svc.rsHash, randString(r, k8sAlphabet, 5)),
				gidx:     len(c.insts),
				streamID: uint64(len(c.insts)) + 1,
			}
			svc.insts = append(svc.insts, in)
			c.insts = append(c.insts, in)
		}
		c.services = append(c.services, svc)
	}

	// Client addresses come from the documentation ranges (RFC 5737 / 3849).
	seen := map[string]bool{}
	nets := []string{"198.51.100", "203.0.113", "192.0.2"}
	for len(c.clientIPv4) < 24 {
		ip := fmt.Sprintf("%s.%d", nets[r.IntN(len(nets))], 2+r.IntN(250))
		if !seen[ip] {
			seen[ip] = true
			c.clientIPv4 = append(c.clientIPv4, ip)
		}
	}
	for len(c.ipv6) < 8 {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		a[4], a[5] = byte(r.IntN(256)), byte(r.IntN(256))
		a[14], a[15] = byte(1+r.IntN(254)), byte(r.IntN(256))
		ip := netip.AddrFrom16(a).String()
		if !seen[ip] {
			seen[ip] = true
			c.ipv6 = append(c.ipv6, ip)
		}
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 4 {
		c.tokens = append(c.tokens, randString(r, alnum, 40))
	}
	c.backends = []backend{
		{"db-primary.prod.acme.internal", "10.0.2.21", 5432},
		{"db-replica-1.prod.acme.internal", "10.0.2.22", 5432},
		{"redis-0.prod.acme.internal", "10.0.2.31", 6379},
		{"kafka-1.prod.acme.internal", "10.0.2.41", 9092},
		{"payments-gw.prod.acme.internal", "10.0.3.7", 443},
	}
	return c
}

// service looks a base service up by name; nil when the cluster is too small to have it.
func (c *cluster) service(name string) *service {
	for _, s := range c.services {
		if s.name == name {
			return s
		}
	}
	return nil
}

// identifiers records every raw identifier actually written, by kind, so
// the ground truth lists exactly what a leak test must look for.
type identifiers struct {
	sets map[string]map[string]struct{}
}

var identifierKinds = []string{"hostnames", "ipv4", "ipv6", "emails", "usernames", "tokens", "pods", "instances"}

func newIdentifiers() *identifiers {
	id := &identifiers{sets: map[string]map[string]struct{}{}}
	for _, k := range identifierKinds {
		id.sets[k] = map[string]struct{}{}
	}
	return id
}

func (id *identifiers) add(kind string, vals ...string) {
	set, ok := id.sets[kind]
	if !ok {
		panic("demo: unknown identifier kind " + kind) // programming error, not input
	}
	for _, v := range vals {
		set[v] = struct{}{}
	}
}

// merge folds another recorder in (each log stream keeps its own).
func (id *identifiers) merge(o *identifiers) {
	for k, set := range o.sets {
		for v := range set {
			id.sets[k][v] = struct{}{}
		}
	}
}

// sorted returns the sets as sorted lists; empty kinds are [] not null.
func (id *identifiers) sorted() map[string][]string {
	out := map[string][]string{}
	for _, k := range identifierKinds {
		l := make([]string, 0, len(id.sets[k]))
		for v := range id.sets[k] {
			l = append(l, v)
		}
		sort.Strings(l)
		out[k] = l
	}
	return out
}
