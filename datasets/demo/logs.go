package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Berlin and America/New_York on machines without zoneinfo
)

// Plain-text logs are stamped in Berlin local time without an offset, as the
// services' old logging library does.
const (
	textZone   = "Europe/Berlin"
	textLayout = "2006-01-02 15:04:05.000"
	jsonLayout = "2006-01-02T15:04:05.000Z07:00"
)

type logEvent struct {
	ms    int64
	gidx  int // instance, for a stable order among equal timestamps
	seq   int
	level string
	msg   string
	user  string
	inst  *instance
}

// logGen draws one instance's log lines from its own random stream.
type logGen struct {
	r    *rand.Rand
	c    *cluster
	inst *instance
	ids  *identifiers
	out  []logEvent
}

func (g *logGen) emit(t time.Time, level, msg, user string) {
	if user != "" {
		g.ids.add("usernames", user)
	}
	g.out = append(g.out, logEvent{ms: t.UnixMilli(), gidx: g.inst.gidx, seq: len(g.out), level: level, msg: msg, user: user, inst: g.inst})
}

func (g *logGen) pick(l []string) string { return l[g.r.IntN(len(l))] }

func (g *logGen) clientIP() string {
	ip := g.pick(g.c.clientIPv4)
	g.ids.add("ipv4", ip)
	return ip
}

func (g *logGen) clientV6() string {
	ip := g.pick(g.c.ipv6)
	g.ids.add("ipv6", ip)
	return ip
}

func (g *logGen) user() string { return g.pick(usernames) }

func (g *logGen) backend(i int) backend {
	b := g.c.backends[i]
	g.ids.add("hostnames", b.host)
	return b
}

func (g *logGen) nodeHost(n int) string {
	h := g.c.nodes[n].host
	g.ids.add("hostnames", h)
	return h
}

func (g *logGen) path() string {
	p := g.pick(g.inst.svc.prof.paths)
	return strings.ReplaceAll(p, "{id}", strconv.Itoa(1000+g.r.IntN(90000)))
}

func method(path string) string {
	for _, w := range []string{"checkout", "payments", "refunds", "login", "items", "reset", "refresh"} {
		if strings.HasSuffix(path, w) || strings.Contains(path, "/"+w+"/") {
			return "POST"
		}
	}
	return "GET"
}

// latencyMs draws one request's latency under effect e.
func (g *logGen) latencyMs(e effect) int {
	med := g.inst.svc.prof.medianLat * e.latMul * 1000
	return max(1, int(med*math.Exp(0.55*g.r.NormFloat64())))
}

func (g *logGen) status(e effect) int {
	u := g.r.Float64()
	switch p500, p503 := 0.002+e.p5xx, 0.001+e.p503; {
	case u < p500:
		return 500
	case u < p500+p503:
		return 503
	case u < p500+p503+0.02:
		return 404
	}
	return 200
}

// baseline writes one ordinary line: access logs, housekeeping, and each
// service's own business events.
func (g *logGen) baseline(t time.Time, e effect) {
	u := g.r.Float64() * 100
	switch {
	case u < 50:
		p := g.path()
		code, ms := g.status(e), g.latencyMs(e)
		level := "info"
		if code >= 500 {
			level = "error"
		} else if ms > 1000 {
			level = "warn"
		}
		client := ""
		if g.r.IntN(8) == 0 {
			client = g.clientV6()
		} else {
			client = g.clientIP()
		}
		g.emit(t, level, fmt.Sprintf("%s %s %d %dms client=%s", method(p), p, code, ms, client), "")
	case u < 60:
		g.business(t)
	case u < 65:
		g.emit(t, "debug", fmt.Sprintf("gc pause %.1fms heap=%dMB", 0.3+2*g.r.Float64(), 80+g.r.IntN(200)), "")
	case u < 69:
		b := g.backend(g.r.IntN(4))
		g.ids.add("ipv4", b.ip)
		g.emit(t, "debug", fmt.Sprintf("resolved %s to %s (ttl 30s)", b.host, b.ip), "")
	case u < 73:
		g.emit(t, "info", fmt.Sprintf("health check ok instance=%s node=%s", g.inst.addr, g.nodeHost(g.inst.node)), "")
		g.ids.add("instances", g.inst.addr)
	case u < 77:
		b := g.backend(g.r.IntN(4))
		g.emit(t, "info", fmt.Sprintf("connection pool to %s:%d active=%d idle=%d", b.host, b.port, 1+g.r.IntN(12), g.r.IntN(8)), "")
	case u < 81:
		g.emit(t, "debug", fmt.Sprintf("cache hit ratio %.1f%% over last 60s", 80+19*g.r.Float64()), "")
	case u < 85:
		g.emit(t, "debug", fmt.Sprintf("upstream %s rtt=%.2fms via %s", g.backend(2).host, 0.2+g.r.Float64(), g.clientV6()), "")
	case u < 89:
		usr := g.user()
		g.emit(t, "info", fmt.Sprintf("session refreshed for user %q", usr), usr)
	case u < 90:
		tok := g.pick(g.c.tokens)
		g.ids.add("tokens", tok)
		g.ids.add("hostnames", "api.acme.internal")
		g.emit(t, "info", "export job started: https://api.acme.internal/v1/export?token="+tok, "")
	case u < 95:
		g.emit(t, "info", fmt.Sprintf("processed batch %d items=%d in %dms", 10000+g.r.IntN(90000), 1+g.r.IntN(500), 5+g.r.IntN(400)), "")
	case u < 97:
		p := g.path()
		g.emit(t, "warn", fmt.Sprintf("slow request %s %s took %dms (threshold 500ms)", method(p), p, 500+g.r.IntN(400)), "")
	default:
		b := g.backend(g.r.IntN(4))
		g.emit(t, "warn", fmt.Sprintf("retrying call to %s attempt=%d", b.host, 1+g.r.IntN(2)), "")
	}
}

// business writes a service's own kind of event.
func (g *logGen) business(t time.Time) {
	switch g.inst.svc.prof.name {
	case "frontend":
		g.emit(t, "info", fmt.Sprintf("rendered %s in %dms for client %s", g.path(), 3+g.r.IntN(60), g.clientIP()), "")
	case "checkout":
		usr := g.user()
		g.emit(t, "info", fmt.Sprintf("order ORD-%06d placed total=%d.%02d EUR user=%s", g.r.IntN(1000000), 5+g.r.IntN(400), g.r.IntN(100), usr), usr)
	case "payments":
		g.emit(t, "info", fmt.Sprintf("payment pay_%s authorized via %s in %dms", randString(g.r, "0123456789abcdef", 12), g.backend(4).host, 80+g.r.IntN(300)), "")
	case "catalog":
		g.emit(t, "info", fmt.Sprintf("catalog index refreshed products=%d in %dms", 12000+g.r.IntN(400), 200+g.r.IntN(900)), "")
	case "cart":
		usr := g.user()
		g.emit(t, "info", fmt.Sprintf("cart %d updated items=%d user=%s", 100000+g.r.IntN(900000), 1+g.r.IntN(9), usr), usr)
	case "auth":
		if g.r.IntN(4) == 0 {
			email := g.pick(customerEmails)
			g.ids.add("emails", email)
			g.emit(t, "info", "password reset mail queued for "+email, "")
			return
		}
		usr := g.user()
		g.emit(t, "info", fmt.Sprintf("login succeeded user=%s from %s", usr, g.clientIP()), usr)
	}
}

// incidentLine writes one of the extra lines an incident causes.
func (g *logGen) incidentLine(t time.Time, e effect, in *incident) {
	p := g.path()
	switch in.typ {
	case typeCPU:
		switch g.r.IntN(3) {
		case 0:
			g.emit(t, "warn", fmt.Sprintf("cpu throttled %d%% of periods (limit 2 cores)", 60+g.r.IntN(38)), "")
		case 1:
			g.emit(t, "warn", fmt.Sprintf("slow request %s %s took %dms (threshold 500ms)", method(p), p, max(501, g.latencyMs(e)*3)), "")
		default:
			g.emit(t, "error", fmt.Sprintf("request timed out after 5000ms calling %s", g.backend(0).host), "")
		}
	case typeLatency:
		switch g.r.IntN(3) {
		case 0:
			g.emit(t, "warn", fmt.Sprintf("slow request %s %s took %dms (threshold 500ms)", method(p), p, max(501, g.latencyMs(e))), "")
		case 1:
			b := g.backend(1)
			g.emit(t, "warn", fmt.Sprintf("query on %s:%d took %dms rows=%d", b.host, b.port, 800+g.r.IntN(2500), g.r.IntN(300)), "")
		default:
			g.emit(t, "error", fmt.Sprintf("request timed out after 3000ms calling %s", g.backend(1).host), "")
		}
	case typeDeploy:
		if g.r.IntN(3) == 0 {
			g.emit(t, "error", fmt.Sprintf("panic recovered in %s: runtime error: invalid memory address or nil pointer dereference", p), "")
		} else {
			g.emit(t, "error", fmt.Sprintf("%s %s failed: status=500 err=%q trace_id=%s", method(p), p, "nil map in settlement config", randString(g.r, "0123456789abcdef", 16)), "")
		}
	case typeQueue:
		if g.r.IntN(2) == 0 {
			g.emit(t, "warn", fmt.Sprintf("work queue depth %d above soft limit 100", 100+int(e.queueAdd)), "")
		} else {
			b := g.backend(3)
			g.emit(t, "warn", fmt.Sprintf("consumer lag on %s:%d partition=%d lag=%d", b.host, b.port, g.r.IntN(12), 500+int(e.queueAdd)*20), "")
		}
	case typeLeak:
		memMB := int(g.inst.svc.prof.memBase * (1 + e.memAdd) / (1 << 20))
		switch {
		case e.memAdd > 1.8 && g.r.IntN(3) == 0:
			g.emit(t, "error", fmt.Sprintf("OOMKill risk: working set %dMB approaching limit 1024MB", memMB), "")
		case g.r.IntN(2) == 0:
			g.emit(t, "warn", fmt.Sprintf("memory usage %dMB of 1024MB limit", memMB), "")
		default:
			g.emit(t, "debug", fmt.Sprintf("gc pause %.1fms heap=%dMB", 5+40*e.memAdd*g.r.Float64(), memMB), "")
		}
	case typeOutage:
		down := g.downPeers(in)
		if len(down) == 0 {
			return
		}
		d := down[g.r.IntN(len(down))]
		g.ids.add("ipv4", d.ip)
		switch g.r.IntN(3) {
		case 0:
			g.emit(t, "error", fmt.Sprintf("dial tcp %s: connect: connection refused", d.addr), "")
			g.ids.add("instances", d.addr)
		case 1:
			g.ids.add("pods", d.pod)
			g.emit(t, "error", fmt.Sprintf("lost connection to %s on %s: connection refused", d.pod, g.nodeHost(d.node)), "")
		default:
			g.ids.add("instances", d.addr)
			g.emit(t, "warn", fmt.Sprintf("endpoint %s removed from load balancer after 3 failed probes", d.addr), "")
		}
	}
}

// downPeers lists the instances on the dead node that this instance talks
// to: its own service's first, any affected service's otherwise.
func (g *logGen) downPeers(in *incident) []*instance {
	var own, all []*instance
	for _, s := range in.services {
		for _, x := range s.insts {
			if x.node == in.node {
				all = append(all, x)
				if s == g.inst.svc {
					own = append(own, x)
				}
			}
		}
	}
	if len(own) > 0 {
		return own
	}
	return all
}

// jitter returns a duration uniformly in [lo, hi) at millisecond resolution.
func jitter(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64((hi-lo)/time.Millisecond)))*time.Millisecond
}

// instanceLogs generates all of one instance's lines in [start, end).
func instanceLogs(c *cluster, inst *instance, incs []*incident, seed int64, start, end time.Time) ([]logEvent, *identifiers) {
	g := &logGen{r: rand.New(rand.NewPCG(uint64(seed), 0x109000+inst.streamID)), c: c, inst: inst, ids: newIdentifiers()}
	g.ids.add("hostnames", c.nodes[inst.node].host) // the JSON host field
	g.ids.add("pods", inst.pod)
	for t := start.Add(jitter(g.r, 0, 15*time.Second)); t.Before(end); t = t.Add(jitter(g.r, 15*time.Second, 30*time.Second)) {
		e := effectAt(incs, inst, t, end)
		if e.down {
			continue // the node is gone, and so are its logs
		}
		g.baseline(t, e)
	}
	for _, in := range incs {
		hit := false
		for _, s := range in.services {
			hit = hit || s == inst.svc
		}
		if !hit {
			continue
		}
		stop := in.end
		if in.ongoing() {
			stop = end
		}
		g.oneOffs(in, end)
		for t := in.start.Add(jitter(g.r, 2*time.Second, 10*time.Second)); t.Before(stop) && t.Before(end); {
			e := effectAt(incs, inst, t, end)
			if !e.down && e.active == in {
				g.incidentLine(t, e, in)
			}
			gap := jitter(g.r, 4*time.Second, 12*time.Second)
			if in.typ == typeLeak { // warnings grow denser as memory climbs
				frac := float64(t.Sub(in.start)) / float64(stop.Sub(in.start))
				gap = time.Duration(float64(jitter(g.r, 20*time.Second, 40*time.Second)) * (1 - 0.8*frac))
				gap = gap.Truncate(time.Millisecond)
			}
			t = t.Add(gap)
		}
	}
	return g.out, g.ids
}

const (
	deployFrom = "v2.14.3"
	deployTo   = "v2.15.0"
)

// oneOffs writes the single lines that frame an incident: the deploy before
// the error burst and the rollback ending it, the node going NotReady, and
// the restart when it comes back.
func (g *logGen) oneOffs(in *incident, end time.Time) {
	before := func(t time.Time) bool { return t.Before(end) }
	svc := g.inst.svc
	switch in.typ {
	case typeDeploy:
		if g.inst.idx != 0 {
			return
		}
		usr := g.user()
		t0 := in.start.Add(-jitter(g.r, 100*time.Second, 150*time.Second))
		g.emit(t0, "info", fmt.Sprintf("deploy started: %s %s -> %s by user=%s", svc.name, deployFrom, deployTo, usr), usr)
		t1 := in.start.Add(-jitter(g.r, 10*time.Second, 30*time.Second))
		g.emit(t1, "info", fmt.Sprintf("deploy finished: %s %s rollout complete (%d/%d pods ready)", svc.name, deployTo, len(svc.insts), len(svc.insts)), "")
		if t2 := in.end.Add(-jitter(g.r, time.Second, 3*time.Second)); !in.ongoing() && before(t2) {
			usr2 := g.user()
			g.emit(t2, "info", fmt.Sprintf("rollback to %s complete, initiated by user=%s", deployFrom, usr2), usr2)
		}
	case typeOutage:
		if g.inst.node == in.node {
			if t := in.end.Add(jitter(g.r, 5*time.Second, 30*time.Second)); !in.ongoing() && before(t) {
				g.ids.add("pods", g.inst.pod)
				g.emit(t, "info", fmt.Sprintf("starting %s %s on %s pod=%s", svc.name, deployFrom, g.nodeHost(g.inst.node), g.inst.pod), "")
			}
			return
		}
		// The first healthy instance of each service notices the node going away.
		for _, x := range svc.insts {
			if x.node != in.node {
				if x == g.inst {
					n := g.c.nodes[in.node]
					g.ids.add("ipv4", n.ip)
					t := in.start.Add(jitter(g.r, 20*time.Second, 60*time.Second))
					g.emit(t, "warn", fmt.Sprintf("node %s (%s) NotReady: kubelet stopped posting node status", g.nodeHost(in.node), n.ip), "")
				}
				break
			}
		}
	}
}

// Deliberately malformed lines the pipeline must count, not drop silently.
var (
	malformedText = []string{
		"2026-13-45 99:99:99.000 INFO [cart] cart sync finished items=3",
		"2026-00-00 25:61:00.000 WARN [cart] retry budget exhausted for upstream",
	}
	malformedJSON = []string{
		`{"ts":"2026-01-05T03:12:44.018Z","level":"info","service":"checkout","msg":"order ORD-`,
		`{"level":"warn","service":"checkout","msg":"retry budget exhausted for upstream"}`,
	}
)

type jsonLine struct {
	TS        string `json:"ts"`
	Level     string `json:"level"`
	Service   string `json:"service"`
	Namespace string `json:"namespace"`
	Host      string `json:"host"`
	Pod       string `json:"pod"`
	User      string `json:"user,omitempty"`
	Msg       string `json:"msg"`
}

// writeServiceLogs writes one service's file; it returns the number of lines
// written and how many of them are deliberately malformed.
func writeServiceLogs(ctx context.Context, dir string, c *cluster, svc *service, events []logEvent) (lines, malformed int, file string, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, "", err
	}
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if a.ms != b.ms {
			return a.ms < b.ms
		}
		if a.gidx != b.gidx {
			return a.gidx < b.gidx
		}
		return a.seq < b.seq
	})
	var bad []string
	ext := ".log"
	if svc.prof.jsonLogs {
		ext = ".jsonl"
	}
	// Only the base services carry the malformed lines the ground truth counts.
	switch svc.name {
	case "cart":
		bad = malformedText
	case "checkout":
		bad = malformedJSON
	}
	file = svc.name + ext
	path := filepath.Join(dir, file)
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, "", fmt.Errorf("demo: create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: close %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<18)
	berlin, err := time.LoadLocation(textZone)
	if err != nil {
		return 0, 0, "", fmt.Errorf("demo: load zone %s: %w", textZone, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Malformed lines sit at a third and two thirds of the file.
	badAt := map[int]string{}
	for i, b := range bad {
		badAt[len(events)*(i+1)/(len(bad)+1)] = b
	}
	for i, ev := range events {
		if b, ok := badAt[i]; ok {
			bw.WriteString(b + "\n")
			malformed++
		}
		t := time.UnixMilli(ev.ms)
		if svc.prof.jsonLogs {
			buf.Reset()
			if err := enc.Encode(jsonLine{
				TS: t.UTC().Format(jsonLayout), Level: ev.level, Service: svc.name, Namespace: namespaceOf(svc),
				Host: c.nodes[ev.inst.node].host, Pod: ev.inst.pod, User: ev.user, Msg: ev.msg,
			}); err != nil {
				return 0, 0, "", fmt.Errorf("demo: encode %s line %d: %w", file, i+1, err)
			}
			bw.Write(buf.Bytes())
		} else {
			bw.WriteString(t.In(berlin).Format(textLayout))
			bw.WriteByte(' ')
			bw.WriteString(strings.ToUpper(ev.level))
			bw.WriteString(" [")
			bw.WriteString(svc.name)
			bw.WriteString("] ")
			bw.WriteString(ev.msg)
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, "", fmt.Errorf("demo: write %s: %w", path, err)
	}
	return len(events) + malformed, malformed, file, nil
}
