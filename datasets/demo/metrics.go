package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Buckets of the latency histogram, with their label spelling. "1.0", not
// "1": OpenMetrics' canonical form, which Prometheus 3 parsers normalize
// to anyway, so TSDB and text agree whichever promtool backfills.
var (
	bucketBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, math.Inf(1)}
	bucketLabels = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"}
	statusCodes  = []string{"200", "404", "500", "503"}
)

// Per-instance series layout; every instance has the same seriesPerInstance series.
const (
	sReq              = 0            // 4 counters, one per status code
	sBucket           = sReq + 4     // 10 cumulative buckets
	sSum              = sBucket + 10 // histogram sum
	sCount            = sSum + 1     // histogram count
	sCPU              = sCount + 1   // gauges from here on
	sMem              = sCPU + 1
	sQueue            = sMem + 1
	sUp               = sQueue + 1
	seriesPerInstance = sUp + 1
)

// family is one OpenMetrics metric family and the series slots it covers.
type family struct {
	name, typ, help string
	slots           []int
}

var families = []family{
	{"http_requests", "counter", "HTTP requests served, by status code.", []int{0, 1, 2, 3}},
	{"http_request_duration_seconds", "histogram", "HTTP request latency.", []int{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
	{"cpu_utilization_ratio", "gauge", "CPU used as a share of the container's limit (0..1).", []int{sCPU}},
	{"memory_working_set_bytes", "gauge", "Working set memory of the container.", []int{sMem}},
	{"work_queue_depth", "gauge", "Items waiting in the background work queue.", []int{sQueue}},
	{"up", "gauge", "1 if the instance was scraped successfully, 0 if its node was down.", []int{sUp}},
}

// seriesName and extra label of slot j.
func slotMetric(j int) (name, extraName, extraVal string) {
	switch {
	case j < sBucket:
		return "http_requests_total", "code", statusCodes[j-sReq]
	case j < sSum:
		return "http_request_duration_seconds_bucket", "le", bucketLabels[j-sBucket]
	case j == sSum:
		return "http_request_duration_seconds_sum", "", ""
	case j == sCount:
		return "http_request_duration_seconds_count", "", ""
	case j == sCPU:
		return "cpu_utilization_ratio", "", ""
	case j == sMem:
		return "memory_working_set_bytes", "", ""
	case j == sQueue:
		return "work_queue_depth", "", ""
	default:
		return "up", "", ""
	}
}

// grid is the scrape grid: step k is at start + k*step (milliseconds).
type grid struct {
	startMs, stepMs int64
	n               int
}

func (g grid) ts(k int) int64 { return g.startMs + int64(k)*g.stepMs }

// simulate fills vals[inst][slot][step]; NaN means "not scraped".
func simulate(ctx context.Context, c *cluster, incs []*incident, g grid, seed int64, rangeEndMs int64) ([][][]float64, error) {
	vals := make([][][]float64, len(c.insts))
	for ii, inst := range c.insts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vals[ii] = simulateInstance(inst, incs, g, seed, rangeEndMs)
	}
	return vals, nil
}

func simulateInstance(inst *instance, incs []*incident, g grid, seed int64, rangeEndMs int64) [][]float64 {
	r := rand.New(rand.NewPCG(uint64(seed), 0x4d0000+inst.streamID))
	p := inst.svc.prof
	v := make([][]float64, seriesPerInstance)
	backing := make([]float64, seriesPerInstance*g.n)
	for j := range v {
		v[j] = backing[j*g.n : (j+1)*g.n]
	}
	skew := 0.9 + 0.2*r.Float64()
	stepSec := float64(g.stepMs) / 1000
	rangeEnd := msTime(rangeEndMs)

	var req [4]float64
	var buckets [10]float64
	var sum, count float64
	ar, memWalk, saw := 0.0, 0.0, r.Float64()*0.1
	sawPeriod := 420 + r.Float64()*300 // seconds between GC cycles
	prevDown, warm := false, 0

	for k := 0; k < g.n; k++ {
		t := msTime(g.ts(k))
		e := effectAt(incs, inst, t, rangeEnd)
		if e.down {
			for j := range v {
				v[j][k] = math.NaN()
			}
			v[sUp][k] = 0
			prevDown = true
			continue
		}
		if prevDown {
			// The process came back on a fresh node boot: counters start from zero.
			req, buckets, sum, count = [4]float64{}, [10]float64{}, 0, 0
			memWalk, saw, warm = -0.3, 0, 4
			prevDown = false
		}
		ar = 0.98*ar + 0.015*r.NormFloat64()
		load := diurnal(t.Hour(), t.Minute(), t.Second())
		rate := p.peakRPS * skew * load * e.rateMul * math.Exp(ar) * (1 + 0.03*r.NormFloat64())
		n := poissonish(r, math.Max(rate*stepSec, 0))

		// Status codes: a multinomial split of n.
		p404 := 0.02
		p500 := 0.002 + e.p5xx
		p503 := 0.001 + e.p503
		probs := [4]float64{1 - p404 - p500 - p503, p404, p500, p503}
		split(r, n, probs[:], func(j, x int) { req[j] += float64(x) })

		// Latency: log-normal around the service median; bucket split of n.
		median := p.medianLat * e.latMul * (0.9 + 0.2*load)
		const sigma = 0.55
		var bp [10]float64
		prevF := 0.0
		for j, le := range bucketBounds {
			f := 1.0
			if !math.IsInf(le, 1) {
				f = 0.5 * math.Erfc(-(math.Log(le)-math.Log(median))/(sigma*math.Sqrt2))
			}
			bp[j] = f - prevF
			prevF = f
		}
		var inc [10]int
		split(r, n, bp[:], func(j, x int) { inc[j] = x })
		cum := 0
		for j := range buckets {
			cum += inc[j]
			buckets[j] += float64(cum)
		}
		count += float64(n)
		if n > 0 {
			sum += float64(n) * median * math.Exp(sigma*sigma/2) * (1 + 0.02*r.NormFloat64())
		}

		cpu := p.cpuBase + 0.5*load*e.rateMul*skew*math.Exp(ar) + 0.02*r.NormFloat64()
		if e.cpuFloor > 0 {
			cpu = math.Max(cpu, e.cpuFloor+0.07+0.02*r.NormFloat64())
		}
		if warm > 0 { // JIT and cache warm-up after a restart
			cpu = math.Max(cpu, 0.55+0.05*r.Float64())
			warm--
		}
		cpu = math.Min(math.Max(cpu, 0.005), 1)

		memWalk = 0.995*memWalk + 0.004*r.NormFloat64()
		saw += stepSec / sawPeriod * 0.12
		if saw >= 0.12 {
			saw = 0
		}
		mem := p.memBase * skew * (1 + memWalk + saw + e.memAdd)
		mem = math.Round(mem/4096) * 4096

		q := math.Max(0, math.Round(2+3*load+1.5*r.NormFloat64()+e.queueAdd*(1+0.05*r.NormFloat64())))

		for j := range 4 {
			v[sReq+j][k] = req[j]
		}
		for j := range 10 {
			v[sBucket+j][k] = buckets[j]
		}
		v[sSum][k] = math.Round(sum*1e6) / 1e6 // microsecond resolution, short text
		v[sCount][k] = count
		v[sCPU][k] = math.Round(cpu*1e4) / 1e4
		v[sMem][k] = mem
		v[sQueue][k] = q
		v[sUp][k] = 1
	}
	return v
}

// diurnal is the traffic shape over a UTC day: lowest at 03:00, peak at 15:00.
func diurnal(h, m, s int) float64 {
	x := float64(h) + float64(m)/60 + float64(s)/3600
	return 0.35 + 0.65*(1+math.Cos(2*math.Pi*(x-15)/24))/2
}

// poissonish draws a count with mean mu: exact Poisson for small means, a
// rounded normal for large ones.
func poissonish(r *rand.Rand, mu float64) int {
	if mu <= 0 {
		return 0
	}
	if mu < 30 {
		l, k, p := math.Exp(-mu), 0, 1.0
		for {
			p *= r.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	x := math.Round(mu + math.Sqrt(mu)*r.NormFloat64())
	return int(math.Max(x, 0))
}

// split divides n items among categories with probabilities probs by
// sequential binomials, so the parts always sum to n.
func split(r *rand.Rand, n int, probs []float64, put func(j, x int)) {
	rest, mass := n, 1.0
	for j, pj := range probs {
		if j == len(probs)-1 || mass <= 0 {
			put(j, rest)
			rest = 0
			continue
		}
		q := math.Min(math.Max(pj/mass, 0), 1)
		x := binomialish(r, rest, q)
		put(j, x)
		rest -= x
		mass -= pj
	}
}

func binomialish(r *rand.Rand, n int, p float64) int {
	if n == 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	mu := float64(n) * p
	var x int
	if mu < 30 {
		x = poissonish(r, mu)
	} else {
		x = int(math.Max(math.Round(mu+math.Sqrt(mu*(1-p))*r.NormFloat64()), 0))
	}
	return min(x, n)
}

// seriesLabels builds the label set of every (instance, slot).
func seriesLabels(c *cluster) [][]labels.Labels {
	out := make([][]labels.Labels, len(c.insts))
	for ii, inst := range c.insts {
		out[ii] = make([]labels.Labels, seriesPerInstance)
		for j := range seriesPerInstance {
			name, xn, xv := slotMetric(j)
			kv := []string{
				"__name__", name,
				"job", "demo",
				"service", inst.svc.name,
				"namespace", namespaceOf(inst.svc),
				"instance", inst.addr,
				"pod", inst.pod,
				"node", c.nodes[inst.node].host,
			}
			if xn != "" {
				kv = append(kv, xn, xv)
			}
			out[ii][j] = labels.FromStrings(kv...)
		}
	}
	return out
}

const dayMs = int64(24 * 60 * 60 * 1000)

// writeTSDB writes one block per UTC day (epoch-aligned) and an empty wal/.
// Block ids are derived from the seed and the block start so the bytes are
// the same on every run.
func writeTSDB(ctx context.Context, dir string, seed int64, g grid, lbls [][]labels.Labels, vals [][][]float64) (int, error) {
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		return 0, fmt.Errorf("demo: create %s/wal: %w", dir, err)
	}
	logger := slog.New(slog.DiscardHandler)
	total := 0
	for k := 0; k < g.n; {
		blockMin := floorDiv(g.ts(k), dayMs) * dayMs
		blockMax := blockMin + dayMs
		end := k
		for end < g.n && g.ts(end) < blockMax {
			end++
		}
		n, err := writeBlock(ctx, dir, logger, seed, blockMin, g, k, end, lbls, vals)
		if err != nil {
			return total, err
		}
		total += n
		k = end
	}
	return total, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func writeBlock(ctx context.Context, dir string, logger *slog.Logger, seed, blockMin int64, g grid, from, to int, lbls [][]labels.Labels, vals [][][]float64) (samples int, err error) {
	w, err := tsdb.NewBlockWriter(logger, dir, dayMs)
	if err != nil {
		return 0, fmt.Errorf("demo: open block writer in %s: %w", dir, err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: close block writer: %w", cerr)
		}
	}()
	refs := make([][]storage.SeriesRef, len(lbls))
	for i := range refs {
		refs[i] = make([]storage.SeriesRef, seriesPerInstance)
	}
	// Append time-major: the head only accepts samples within half a chunk
	// range of its newest one.
	app := w.Appender(ctx)
	pending := 0
	for k := from; k < to; k++ {
		ts := g.ts(k)
		for ii := range vals {
			for j := range seriesPerInstance {
				v := vals[ii][j][k]
				if math.IsNaN(v) {
					continue
				}
				ref, err := app.Append(refs[ii][j], lbls[ii][j], ts, v)
				if err != nil {
					_ = app.Rollback()
					return 0, fmt.Errorf("demo: append %s at %d: %w", lbls[ii][j], ts, err)
				}
				refs[ii][j] = ref
				samples++
				pending++
			}
		}
		if pending >= 100_000 {
			if err := app.Commit(); err != nil {
				return 0, fmt.Errorf("demo: commit samples: %w", err)
			}
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			app = w.Appender(ctx)
			pending = 0
		}
	}
	if err := app.Commit(); err != nil {
		return 0, fmt.Errorf("demo: commit samples: %w", err)
	}
	id, err := w.Flush(ctx)
	if err != nil {
		return 0, fmt.Errorf("demo: flush block at %d: %w", blockMin, err)
	}
	if err := renameBlock(dir, id, seed, blockMin); err != nil {
		return 0, err
	}
	return samples, nil
}

// renameBlock replaces the compactor's random ULID with one derived from
// (seed, block start), in the directory name and in meta.json.
func renameBlock(dir string, id ulid.ULID, seed, blockMin int64) error {
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], uint64(seed))
	binary.BigEndian.PutUint64(in[8:], uint64(blockMin))
	h := sha256.Sum256(append([]byte("opsdata-demo-block/"), in[:]...))
	newID, err := ulid.New(uint64(max(blockMin, 0)), bytes.NewReader(h[:10]))
	if err != nil {
		return fmt.Errorf("demo: derive block id for %d: %w", blockMin, err)
	}
	oldDir := filepath.Join(dir, id.String())
	metaPath := filepath.Join(oldDir, "meta.json")
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		return fmt.Errorf("demo: read %s: %w", metaPath, err)
	}
	var meta tsdb.BlockMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("demo: parse %s: %w", metaPath, err)
	}
	meta.ULID = newID
	meta.Compaction.Sources = []ulid.ULID{newID}
	out, err := json.MarshalIndent(&meta, "", "\t")
	if err != nil {
		return fmt.Errorf("demo: encode %s: %w", metaPath, err)
	}
	if err := os.WriteFile(metaPath, out, 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", metaPath, err)
	}
	if err := os.Rename(oldDir, filepath.Join(dir, newID.String())); err != nil {
		return fmt.Errorf("demo: rename block %s: %w", oldDir, err)
	}
	return nil
}

// writeOpenMetrics writes the same samples as text, family by family and
// series by series (OpenMetrics forbids interleaving families).
func writeOpenMetrics(ctx context.Context, path string, c *cluster, g grid, vals [][][]float64) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo: create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: close %s: %w", path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	// Timestamps in seconds, with milliseconds only when needed.
	tss := make([][]byte, g.n)
	for k := range tss {
		tss[k] = []byte(" " + secondsText(g.ts(k)) + "\n")
	}
	var line []byte
	for _, fam := range families {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", fam.name, fam.help, fam.name, fam.typ)
		for _, inst := range c.insts {
			for _, j := range fam.slots {
				name, xn, xv := slotMetric(j)
				var prefix strings.Builder
				fmt.Fprintf(&prefix, `%s{job="demo",service="%s",namespace="%s",instance="%s",pod="%s",node="%s"`,
					name, inst.svc.name, namespaceOf(inst.svc), inst.addr, inst.pod, c.nodes[inst.node].host)
				if xn != "" {
					fmt.Fprintf(&prefix, `,%s="%s"`, xn, xv)
				}
				prefix.WriteString("} ")
				pre := []byte(prefix.String())
				series := vals[inst.gidx][j]
				for k, v := range series {
					if math.IsNaN(v) {
						continue
					}
					line = append(line[:0], pre...)
					line = strconv.AppendFloat(line, v, 'f', -1, 64)
					line = append(line, tss[k]...)
					if _, err := bw.Write(line); err != nil {
						return fmt.Errorf("demo: write %s: %w", path, err)
					}
				}
			}
		}
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

func secondsText(ms int64) string {
	s := strconv.FormatInt(floorDiv(ms, 1000), 10)
	if frac := ms - floorDiv(ms, 1000)*1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
