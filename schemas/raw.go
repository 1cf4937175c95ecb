package schemas

import "time"

// Tables of a raw export (opsdata raw): every sample of the selected series,
// no aggregation. See docs/decisions/0007-raw-export.md.
const (
	TableSamples   = "samples"
	TableRawSeries = "raw_series"
)

// Sample is one raw sample. Files are Hive-partitioned by the sample's UTC
// date and ordered by series (label order) then time. Stale is true for
// Prometheus staleness markers (the series ended; Value is NaN).
type Sample struct {
	SeriesID int64     `parquet:"series_id,delta"`
	TS       time.Time `parquet:"ts,timestamp(millisecond),delta"`
	Value    float64   `parquet:"value,split"`
	Stale    bool      `parquet:"stale"`
}

// RawSeries describes one series of the samples table: its metric name and
// its other labels as a JSON object with sorted keys, anonymized per the
// spec's policy.
type RawSeries struct {
	SeriesID int64  `parquet:"series_id"`
	Metric   string `parquet:"metric,dict"`
	Labels   string `parquet:"labels"`
}
