package demo

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Incident types.
const (
	typeCPU     = "cpu_saturation"
	typeLatency = "latency_spike"
	typeOutage  = "node_outage"
	typeDeploy  = "error_burst_after_deploy"
	typeQueue   = "queue_backlog"
	typeLeak    = "memory_leak"
)

// plannedIncident is one entry of the canonical 3-day schedule. Offsets are
// from Start; other durations scale the offset (not the length).
type plannedIncident struct {
	typ      string
	services []string // empty for node_outage: whatever runs on the node
	offset   time.Duration
	length   time.Duration // 0: ongoing at the end of the range
	ticket   bool
	severity string
	nyTicket bool // the ticket written in naive America/New_York time
}

const canonicalRange = 72 * time.Hour

func hms(h, m, s int) time.Duration {
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
}

// schedule is the canonical 72 h plan: at least 2 h between incidents, none
// near the range start, the memory leak late on day 3 and still running.
var schedule = []plannedIncident{
	{typeCPU, []string{"checkout"}, hms(8, 47, 19), hms(0, 27, 33), true, "major", false},
	{typeLatency, []string{"catalog"}, hms(19, 23, 41), hms(0, 34, 25), true, "minor", false},
	{typeOutage, nil, hms(28, 12, 55), hms(0, 45, 36), true, "critical", false},
	{typeDeploy, []string{"payments"}, hms(39, 21, 38), hms(0, 22, 27), true, "major", true},
	{typeQueue, []string{"cart"}, hms(48, 37, 12), hms(0, 42, 36), false, "", false},
	{typeCPU, []string{"frontend"}, hms(58, 52, 31), hms(0, 38, 38), true, "minor", false},
	{typeLeak, []string{"auth"}, hms(69, 4, 26), 0, true, "major", false},
}

const (
	minGap     = 2 * time.Hour    // between one incident's end and the next start
	edgeMargin = 40 * time.Minute // from the range start, and from the end for finished incidents
	// Precursor and recovery tails around the cause interval [start, end).
	leadIn   = 15 * time.Minute
	recovery = 4 * time.Minute
)

// incident is one emitted incident.
type incident struct {
	plannedIncident
	id       string
	start    time.Time
	end      time.Time // zero when ongoing
	services []*service
	node     int // -1 unless node_outage
	ticketID string
}

func (in *incident) ongoing() bool { return in.end.IsZero() }

// planIncidents scales the canonical schedule to [start, end). Offsets scale
// with the range; lengths do not. The ongoing leak is placed first; then, in
// order, each other incident is kept only if it is wholly inside the range,
// edgeMargin from its edges and minGap from every kept neighbour. Incidents
// whose services the cluster lacks are dropped.
func planIncidents(c *cluster, start time.Time, dur time.Duration) []*incident {
	scale := float64(dur) / float64(canonicalRange)
	rangeEnd := start.Add(dur)
	place := func(p plannedIncident) time.Time {
		off := time.Duration(math.Round(float64(p.offset)*scale/float64(time.Second))) * time.Second
		if off%time.Minute == 0 { // keep starts off the minute grid
			off += 7 * time.Second
		}
		return start.Add(off)
	}
	resolve := func(p plannedIncident) *incident {
		in := &incident{plannedIncident: p, node: -1}
		if p.typ == typeOutage {
			in.node = outageNode
			for _, s := range c.services {
				if s.idx >= len(profiles) {
					continue // scaled copies stay out of the ground truth
				}
				for _, inst := range s.insts {
					if inst.node == outageNode {
						in.services = append(in.services, s)
						break
					}
				}
			}
		} else {
			for _, name := range p.services {
				if s := c.service(name); s != nil {
					in.services = append(in.services, s)
				}
			}
		}
		if len(in.services) == 0 {
			return nil
		}
		in.start = place(p)
		if p.length > 0 {
			in.end = in.start.Add(p.length)
		}
		return in
	}

	var out []*incident
	var leak *incident
	for _, p := range schedule {
		if p.length == 0 {
			if in := resolve(p); in != nil && !in.start.Before(start.Add(edgeMargin)) && in.start.Before(rangeEnd) {
				leak = in
			}
		}
	}
	prevEnd := start.Add(edgeMargin - minGap)
	for _, p := range schedule {
		if p.length == 0 {
			continue
		}
		in := resolve(p)
		if in == nil || in.start.Before(prevEnd.Add(minGap)) || in.end.After(rangeEnd.Add(-edgeMargin)) {
			continue
		}
		if leak != nil && in.end.Add(minGap).After(leak.start) {
			continue
		}
		out = append(out, in)
		prevEnd = in.end
	}
	if leak != nil {
		out = append(out, leak)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	ticket := 101
	for i, in := range out {
		in.id = "inj-" + itoa(i+1)
		if in.ticket {
			in.ticketID = "OPS-" + itoa(ticket)
			ticket++
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// effect is how incidents bend one instance's behaviour at one moment.
type effect struct {
	down     bool    // node outage: no scrape, no logs
	rateMul  float64 // traffic multiplier
	p5xx     float64 // extra share of 500s
	p503     float64 // extra share of 503s
	latMul   float64 // median latency multiplier
	cpuFloor float64 // CPU pinned at least this high
	memAdd   float64 // fraction of base memory added
	queueAdd float64 // extra queued items
	// active names the incident whose cause interval contains the moment
	// (for log lines); nil otherwise.
	active *incident
	// peer is set for healthy instances of a service that lost pods to an
	// outage: they see connection refused talking to the dead node.
	peer *incident
}

// intensity ramps an incident in over rampIn, holds it, then decays over
// recovery after end; an ongoing incident holds to the end of the range.
func intensity(t, start, end time.Time, rampIn time.Duration) float64 {
	if t.Before(start) {
		return 0
	}
	x := 1.0
	if d := t.Sub(start); d < rampIn {
		x = float64(d) / float64(rampIn)
	}
	if !end.IsZero() && !t.Before(end) {
		d := t.Sub(end)
		if d >= recovery {
			return 0
		}
		x *= math.Exp(-4 * float64(d) / float64(recovery))
	}
	return x
}

// effectAt folds all incidents touching inst at t into one effect.
func effectAt(incs []*incident, inst *instance, t, rangeEnd time.Time) effect {
	e := effect{rateMul: 1, latMul: 1}
	for _, in := range incs {
		if t.Before(in.start.Add(-leadIn)) || (!in.ongoing() && !t.Before(in.end.Add(recovery+time.Minute))) {
			continue
		}
		hit := false
		for _, s := range in.services {
			if s == inst.svc {
				hit = true
			}
		}
		if !hit {
			continue
		}
		inCause := !t.Before(in.start) && (in.ongoing() || t.Before(in.end))
		switch in.typ {
		case typeCPU:
			// Load creeps up for a quarter hour, then CPU pins and latency follows.
			if t.Before(in.start) {
				e.rateMul *= 1 + 0.5*float64(t.Sub(in.start.Add(-leadIn)))/float64(leadIn)
				continue
			}
			x := intensity(t, in.start, in.end, 90*time.Second)
			e.rateMul *= 1 + 0.5*x
			e.cpuFloor = math.Max(e.cpuFloor, 0.9*x)
			e.latMul *= 1 + 3.5*x
			e.p503 += 0.03 * x
		case typeLatency:
			x := intensity(t, in.start, in.end, 60*time.Second)
			e.latMul *= 1 + 14*x
			e.p503 += 0.01 * x
		case typeDeploy:
			x := intensity(t, in.start, in.end, 10*time.Second)
			e.p5xx += 0.28 * x
			e.latMul *= 1 + 0.6*x
		case typeQueue:
			// The backlog starts building before anyone notices, peaks at
			// 80 % of the interval and drains by its end.
			if in.ongoing() {
				continue
			}
			s0 := in.start.Add(-leadIn)
			peak := in.start.Add(in.end.Sub(in.start) * 4 / 5)
			var q float64
			switch {
			case t.Before(in.start):
				q = 40 * float64(t.Sub(s0)) / float64(leadIn)
			case t.Before(peak):
				q = 40 + 440*float64(t.Sub(in.start))/float64(peak.Sub(in.start))
			case t.Before(in.end):
				q = 480 * (1 - float64(t.Sub(peak))/float64(in.end.Sub(peak)))
			}
			e.queueAdd += q
			if inCause {
				e.latMul *= 1 + 0.8*q/480
			}
		case typeLeak:
			if t.Before(in.start) {
				continue
			}
			total := rangeEnd.Sub(in.start)
			if !in.ongoing() {
				total = in.end.Sub(in.start)
			}
			frac := float64(t.Sub(in.start)) / float64(total)
			e.memAdd += 2.6 * frac
			e.latMul *= 1 + 0.7*frac*frac
		case typeOutage:
			if !inCause {
				continue
			}
			if inst.node == in.node {
				e.down = true
			} else {
				e.peer = in
				e.p503 += 0.09
				e.latMul *= 1.9
				e.rateMul *= 1.4 // the survivors take the dead pods' traffic
			}
		}
		if inCause {
			e.active = in
		}
	}
	return e
}
