// Command prunegen writes one day of a windows table for many entities
// through the export's own writer (pipeline/write, pipeline/align), in the
// published layout and in the old (window_start, entity) layout, for
// scripts/prune_bench.py to measure how much of a day a one-entity query
// reads (decision 0029). Values are seeded noise: deterministic output.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

func main() {
	out := flag.String("out", "", "directory to write <layout>/windows/date=.../part-00000.parquet into")
	entities := flag.Int("entities", 1000, "entities")
	windows := flag.Int("windows", 1440, "windows per entity in the day (1m steps)")
	features := flag.Int("features", 8, "feature columns")
	flag.Parse()
	if *out == "" {
		log.Fatal("prunegen: -out is required")
	}
	names := make([]string, *features)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	table := align.NewWindowTable(names)
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	row := func(e, i int, rng *rand.Rand) any {
		feats := make([]float64, *features)
		for k := range feats {
			feats[k] = float64(100*(k+1)) + rng.NormFloat64()*float64(k+1)
		}
		n := int64(rng.IntN(50))
		return table.Row(schemas.WindowKey{WindowStart: day.Add(time.Duration(i) * time.Minute), Entity: fmt.Sprintf("svc-%04d", e)},
			feats, schemas.WindowLogs{LogLines: n, LogInfo: n}, schemas.WindowLabels{Phase: schemas.PhaseNormal})
	}
	layouts := []struct {
		name    string
		extra   []parquet.WriterOption
		sortBy  []string
		emitAll func(emit func(e, i int) error) error
	}{
		{"entity_first", write.WindowsRowGroups(*windows), []string{"entity", "window_start"}, func(emit func(e, i int) error) error {
			for e := 0; e < *entities; e++ {
				for i := 0; i < *windows; i++ {
					if err := emit(e, i); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"time_first", nil, []string{"window_start", "entity"}, func(emit func(e, i int) error) error {
			for i := 0; i < *windows; i++ {
				for e := 0; e < *entities; e++ {
					if err := emit(e, i); err != nil {
						return err
					}
				}
			}
			return nil
		}},
	}
	for _, l := range layouts {
		rel := write.PartPath(schemas.TableWindows, day.Format(time.DateOnly), 0)
		w, err := write.CreateDynamic(filepath.Join(*out, l.name), rel, table.Type(), l.extra, l.sortBy...)
		if err != nil {
			log.Fatal(err)
		}
		// One seeded stream per (entity, window): both layouts hold the same rows.
		err = l.emitAll(func(e, i int) error {
			return w.Write(row(e, i, rand.New(rand.NewPCG(uint64(e), uint64(i)))))
		})
		if err != nil {
			w.Abort()
			log.Fatal(err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		fmt.Println(filepath.Join(*out, l.name, rel))
	}
}
