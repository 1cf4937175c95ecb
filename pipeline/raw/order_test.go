package raw

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/opsdata/opsdata/schemas"
)

// orderBlock writes a block of one scrape target whose series differ only
// in pod (raw values pod-a … pod-e, in that raw order), for the metrics
// given, 20 samples each at 15 s; pod P's values are P's index × 1000 + i,
// so a written series can be traced back to its raw pod.
func orderBlock(t *testing.T, metrics ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tsdb")
	w, err := tsdb.NewBlockWriter(promslog.NewNopLogger(), dir, int64(100*24*time.Hour/time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range metrics {
		for p, pod := range rawPods {
			app := w.Appender(ctx)
			lset := labels.FromStrings("__name__", m, "job", "api", "instance", "10.0.0.1:9100", "pod", pod)
			for i := range 20 {
				if _, err := app.Append(0, lset, from.Add(time.Duration(i)*15*time.Second).UnixMilli(), float64(p*1000+i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

var rawPods = []string{"pod-a", "pod-b", "pod-c", "pod-d", "pod-e"}

// writeBlock exports the block with the label function anon.
func writeBlock(t *testing.T, dir string, key []byte, anon func(labels.Labels) labels.Labels) string {
	t.Helper()
	out, _ := exportWith(t, dir, Options{Key: key, Labels: anon, Buckets: 1})
	return out
}

// publishedOrder is the file order of the series: raw_series rows (which
// must be in id order) and the order in which the samples file first
// meets each id (which must be the same), as "metric pod"; raw is the raw
// pod of each series of the samples, in that order (from its values).
func publishedOrder(t *testing.T, out string) (series, samples, raw []string) {
	t.Helper()
	rows, err := parquet.ReadFile[schemas.RawSeries](filepath.Join(out, "raw_series", "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	name := map[int64]string{}
	for i, r := range rows {
		if i > 0 && r.SeriesID <= rows[i-1].SeriesID {
			t.Fatalf("raw_series not in id order: %d after %d", r.SeriesID, rows[i-1].SeriesID)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(r.Labels), &m); err != nil {
			t.Fatal(err)
		}
		name[r.SeriesID] = r.Metric + " " + m["pod"]
		series = append(series, name[r.SeriesID])
	}
	files, _ := filepath.Glob(filepath.Join(out, "samples", "date=*", "*.parquet"))
	sort.Strings(files)
	last := int64(-1)
	for _, f := range files {
		ss, err := parquet.ReadFile[schemas.Sample](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if s.SeriesID != last {
				if s.SeriesID < last {
					t.Fatalf("samples not in id order: series %d after %d", s.SeriesID, last)
				}
				samples = append(samples, name[s.SeriesID])
				raw = append(raw, rawPods[int(s.Value)/1000])
				last = s.SeriesID
			}
		}
	}
	return series, samples, raw
}

// TestRowOrderFollowsPseudonyms: within a target the rows (raw_series and
// samples) and the series ids follow the published labels, not the raw
// ones, so neither tells the raw order of pod names. The old order (raw
// label order: pod-a, pod-b, …) fails every case.
func TestRowOrderFollowsPseudonyms(t *testing.T) {
	// Pseudonyms whose order is not the raw order.
	pseud := map[string]string{"pod-a": "p-4", "pod-b": "p-2", "pod-c": "p-5", "pod-d": "p-1", "pod-e": "p-3"}
	mapPod := func(lset labels.Labels) labels.Labels {
		b := labels.NewBuilder(lset)
		b.Set("pod", pseud[lset.Get("pod")])
		b.Set("instance", "host-x")
		return b.Labels()
	}
	dropPod := func(lset labels.Labels) labels.Labels {
		return labels.NewBuilder(lset).Set("pod", "").Labels()
	}
	for _, tc := range []struct {
		name    string
		metrics []string
		anon    func(labels.Labels) labels.Labels
		want    []string
	}{
		{
			name: "pseudonyms order the series", metrics: []string{"m"}, anon: mapPod,
			want: []string{"m p-1", "m p-2", "m p-3", "m p-4", "m p-5"},
		},
		{
			name: "metric first, then pseudonyms", metrics: []string{"z", "a"}, anon: mapPod,
			want: []string{"a p-1", "a p-2", "a p-3", "a p-4", "a p-5", "z p-1", "z p-2", "z p-3", "z p-4", "z p-5"},
		},
		{
			name: "unchanged labels keep label order", metrics: []string{"m"}, anon: nil,
			want: []string{"m pod-a", "m pod-b", "m pod-c", "m pod-d", "m pod-e"},
		},
		{
			name: "pseudonyms in raw order", metrics: []string{"m"},
			anon: func(l labels.Labels) labels.Labels {
				return labels.NewBuilder(l).Set("pod", "q-"+l.Get("pod")).Labels()
			},
			want: []string{"m q-pod-a", "m q-pod-b", "m q-pod-c", "m q-pod-d", "m q-pod-e"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := writeBlock(t, orderBlock(t, tc.metrics...), testKey, tc.anon)
			series, samples, _ := publishedOrder(t, out)
			if !slices.Equal(series, tc.want) {
				t.Errorf("raw_series order %v, want %v", series, tc.want)
			}
			if !slices.Equal(samples, tc.want) {
				t.Errorf("samples order %v, want %v", samples, tc.want)
			}
		})
	}

	// Equal published labels (the pod dropped): ordered by a keyed hash of
	// the raw labels — the same for the same key, and a function of the
	// key, not of the raw order.
	t.Run("ties follow the keyed hash", func(t *testing.T) {
		dir := orderBlock(t, "m")
		orders := map[string][]string{}
		for _, key := range []string{"0123456789abcdef0123456789abcdef", "another key of thirty-two bytes!", "yet another key, thirty-two byte"} {
			a, b := writeBlock(t, dir, []byte(key), dropPod), writeBlock(t, dir, []byte(key), dropPod)
			if sa, sb := dirSums(t, a), dirSums(t, b); !maps.Equal(sa, sb) {
				t.Fatalf("key %q: two runs differ", key)
			}
			tie := seriesTieHash([]byte(key))
			want := slices.Clone(rawPods)
			sort.Slice(want, func(i, j int) bool {
				h := func(p string) uint64 {
					return tie(labels.FromStrings("__name__", "m", "instance", "10.0.0.1:9100", "job", "api", "pod", p))
				}
				return h(want[i]) < h(want[j])
			})
			orders[key] = want
			series, _, raw := publishedOrder(t, a)
			if len(series) != 5 || !slices.Equal(raw, want) {
				t.Errorf("key %q: %d series written in raw order %v, want the tie order %v", key, len(series), raw, want)
			}
		}
		distinct := map[string]bool{}
		for _, o := range orders {
			distinct[fmtOrder(o)] = true
		}
		if len(distinct) < 2 {
			t.Errorf("three keys gave one tie order %v: the order does not depend on the key", orders)
		}
	})
}

func fmtOrder(o []string) string {
	b, _ := json.Marshal(o)
	return string(b)
}
