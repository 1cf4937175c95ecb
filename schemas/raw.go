package schemas

import "time"

// Tables of a raw export (opsdata raw): every sample of the selected series,
// no aggregation. See docs/decisions/0007-raw-export.md.
const (
	TableSamples   = "samples"
	TableRawSeries = "raw_series"
)

// Sample is one raw sample. Files are Hive-partitioned by the sample's UTC
// date, one per hash bucket of scrape targets, and ordered by series id
// then time (a target's series are adjacent). Stale is true for Prometheus
// staleness markers (the series ended; Value is NaN). PLAIN and dictionary
// encodings only, so Spark 3.2 and fastparquet read it (decision 0037).
type Sample struct {
	SeriesID int64     `parquet:"series_id,dict"`
	TS       time.Time `parquet:"ts,timestamp(millisecond)"`
	Value    float64   `parquet:"value"`
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
