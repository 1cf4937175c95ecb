package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ticketJSON is one entry of tickets.json.
type ticketJSON struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Body        string   `json:"body"`
	Status      string   `json:"status"`
	Severity    string   `json:"severity"`
	Type        string   `json:"type"`
	Created     string   `json:"created"`
	ImpactStart string   `json:"impact_start"`
	Resolved    *string  `json:"resolved"`
	Services    []string `json:"services"`
	Timezone    string   `json:"timezone,omitempty"`
}

// incidentJSON is one entry of ground_truth/incidents.json.
type incidentJSON struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Entities []string `json:"entities"`
	Nodes    []string `json:"nodes"`
	Start    string   `json:"start"`
	End      *string  `json:"end"`
	Ticket   *string  `json:"ticket"`
}

const ticketZone = "America/New_York"

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func serviceNames(ss []*service) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.name
	}
	return out
}

func groundTruth(c *cluster, incs []*incident) []incidentJSON {
	out := make([]incidentJSON, 0, len(incs))
	for _, in := range incs {
		g := incidentJSON{ID: in.id, Type: in.typ, Entities: serviceNames(in.services), Nodes: []string{}, Start: rfc3339(in.start)}
		if in.node >= 0 {
			g.Nodes = append(g.Nodes, c.nodes[in.node].host)
		}
		if !in.ongoing() {
			s := rfc3339(in.end)
			g.End = &s
		}
		if in.ticketID != "" {
			s := in.ticketID
			g.Ticket = &s
		}
		out = append(out, g)
	}
	return out
}

// makeTickets writes what an on-call engineer would have filed. Raw
// identifiers in bodies are recorded in ids.
func makeTickets(c *cluster, incs []*incident, seed int64, rangeEnd time.Time, ids *identifiers) ([]ticketJSON, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x71c))
	ny, err := time.LoadLocation(ticketZone)
	if err != nil {
		return nil, fmt.Errorf("demo: load zone %s: %w", ticketZone, err)
	}
	var out []ticketJSON
	for _, in := range incs {
		if in.ticketID == "" {
			continue
		}
		// The first affected instance supplies the host and address quoted.
		inst := in.services[0].insts[0]
		if in.node >= 0 {
			for _, x := range in.services[0].insts {
				if x.node != in.node {
					inst = x
					break
				}
			}
		}
		host := c.nodes[inst.node].host
		reporter := reporterEmails[r.IntN(len(reporterEmails))]
		ids.add("emails", reporter)
		ids.add("hostnames", host)
		ids.add("ipv4", inst.ip)
		svcs := serviceNames(in.services)
		name := svcs[0]

		var title, detail string
		switch in.typ {
		case typeCPU:
			title = name + ": CPU saturated, p99 latency above SLO"
			detail = fmt.Sprintf("%s pods pinned at 100%% CPU on %s; %s answers in over a second. Customers see timeouts.", name, host, inst.ip)
		case typeLatency:
			title = name + ": slow responses on search and product pages"
			detail = fmt.Sprintf("p95 latency of %s above 2 s, %s (on %s) waits on db-replica-1.prod.acme.internal.", name, inst.ip, host)
			ids.add("hostnames", "db-replica-1.prod.acme.internal")
		case typeOutage:
			down := c.nodes[in.node]
			title = "Worker node unreachable, " + strings.Join(svcs, "/") + " degraded"
			detail = fmt.Sprintf("%s unreachable from %s (%s); pods on it not responding, survivors returning 503s.", down.host, inst.ip, host)
			ids.add("hostnames", down.host)
		case typeDeploy:
			title = fmt.Sprintf("%s: 5xx errors after release %s", name, deployTo)
			detail = fmt.Sprintf("Error rate jumped right after the %s rollout; %s on %s logs nil pointer panics. Rolled back to %s.", deployTo, inst.ip, host, deployFrom)
		case typeLeak:
			title = name + ": memory growing steadily, OOM risk"
			detail = fmt.Sprintf("Working set of %s on %s (%s) climbing since the evening, no plateau.", name, host, inst.ip)
		default:
			title = name + ": " + strings.ReplaceAll(in.typ, "_", " ")
			detail = fmt.Sprintf("%s on %s affected.", inst.ip, host)
		}

		// Filed 3..20 minutes into the incident, but never after the range ends.
		created := in.start.Add(time.Duration(180+r.IntN(1020)) * time.Second)
		if !created.Before(rangeEnd) {
			created = in.start.Add(rangeEnd.Sub(in.start) / 2).Truncate(time.Second)
		}
		t := ticketJSON{
			ID: in.ticketID, Title: title, Body: "Reported by " + reporter + ". " + detail,
			Severity: in.severity, Type: in.typ, Services: svcs,
			Status: "resolved",
		}
		stamp := rfc3339
		if in.nyTicket {
			// This tracker stores naive local times and names the zone apart.
			stamp = func(x time.Time) string { return x.In(ny).Format(time.DateTime) }
			t.Timezone = ticketZone
		}
		t.Created = stamp(created)
		t.ImpactStart = stamp(in.start)
		if in.ongoing() {
			t.Status = "open"
		} else {
			s := stamp(in.end)
			t.Resolved = &s
		}
		out = append(out, t)
	}
	return out, nil
}
