package nightly

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readersScript reads DIR/windows with pandas, pyarrow, DuckDB, polars and
// Hugging Face datasets (local files, its cache in argv[2]) in one line
// each and reports rows, duplicate (window_start, entity) and pandas'
// timestamp dtype.
const readersScript = `
import json, sys
import duckdb, pandas as pd, polars as pl, pyarrow.dataset as pads
d = sys.argv[1]
w = pd.read_parquet(d + "/windows")
out = {"pandas": len(w), "pandas_dups": int(w.duplicated(["window_start", "entity"]).sum()), "dtype": str(w["window_start"].dtype)}
out["pyarrow"] = pads.dataset(d + "/windows", partitioning="hive").count_rows()
out["duckdb"], out["duckdb_dups"] = duckdb.sql(f"SELECT count(*), count(*) - count(DISTINCT (window_start, entity)) FROM read_parquet('{d}/windows/*/*.parquet', hive_partitioning = true)").fetchall()[0]
out["polars"] = pl.scan_parquet(d + "/windows/*/*.parquet", hive_partitioning=True).select(pl.len()).collect().item()
from datasets import load_dataset
hf = load_dataset("parquet", data_files=d + "/windows/*/*.parquet", split="train", cache_dir=sys.argv[2])
out["hf"], out["hf_dups"] = hf.num_rows, hf.num_rows - len(set(zip(hf["window_start"], hf["entity"])))
print(json.dumps(out))
`

// python finds an interpreter with the readers: $OPSDATA_PYTHON, then the
// repo's .venv (scripts/venv.sh). None: the caller skips the check.
func python(t testing.TB) string {
	for _, p := range []string{os.Getenv("OPSDATA_PYTHON"), filepath.Join(repoRoot(t), ".venv", "bin", "python")} {
		if p == "" {
			continue
		}
		if err := exec.Command(p, "-c", "import datasets, duckdb, pandas, polars, pyarrow").Run(); err == nil {
			return p
		}
	}
	return ""
}

// checkReaders: one line of each reader sees every window exactly once.
func checkReaders(t *testing.T, dir string, want int64) {
	t.Helper()
	py := python(t)
	if py == "" {
		t.Log("no Python with pandas, pyarrow, duckdb, polars and datasets (set OPSDATA_PYTHON or run scripts/venv.sh): reader check skipped")
		return
	}
	cmd := exec.Command(py, "-c", readersScript, dir, t.TempDir())
	cmd.Env = append(os.Environ(), "HF_DATASETS_OFFLINE=1", "HF_HUB_OFFLINE=1", "HF_DATASETS_DISABLE_PROGRESS_BARS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("readers on %s: %v\n%s%s", dir, err, out, stderr.String())
	}
	var r struct {
		Pandas, PandasDups, Pyarrow, DuckDB, DuckDBDups, Polars, HF, HFDups int64
		Dtype                                                               string
	}
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("readers: %s", out)
	}
	get := func(k string) int64 { v, _ := raw[k].(float64); return int64(v) }
	r.Pandas, r.PandasDups, r.Pyarrow, r.DuckDB, r.DuckDBDups, r.Polars = get("pandas"), get("pandas_dups"), get("pyarrow"), get("duckdb"), get("duckdb_dups"), get("polars")
	r.HF, r.HFDups = get("hf"), get("hf_dups")
	r.Dtype, _ = raw["dtype"].(string)
	if r.Pandas != want || r.Pyarrow != want || r.DuckDB != want || r.Polars != want || r.HF != want || r.PandasDups != 0 || r.DuckDBDups != 0 || r.HFDups != 0 {
		t.Errorf("readers on %s: %s; want %d rows each, no duplicates", dir, out, want)
	}
	if r.Dtype != "datetime64[ms, UTC]" && r.Dtype != "datetime64[ns, UTC]" {
		t.Errorf("pandas reads window_start as %s, want UTC-aware", r.Dtype)
	}
}
