#!/usr/bin/env python3
"""Prints the BENCHMARKS.md section on pruning a day of windows (decision 0029).

Writes one day of 1,000 entities' windows (1m, 8 features) through the
export's writer in both layouts (scripts/prunegen: entity-first with
write.WindowsRowGroups, the published one; and the old (window_start, entity)
order with 128 Ki-row groups), then asks DuckDB for one entity's day and reads
its profile's io.total_bytes_read, and pyarrow's row-group statistics for the
row groups whose entity range admits the entity. Needs pyarrow and duckdb
(the test venv: scripts/venv.sh). Usage: scripts/prune_bench.py [--entities N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
QUERY = "SELECT avg(f0), max(log_lines) FROM read_parquet('{glob}', hive_partitioning=true) WHERE entity = '{entity}'"


def duck_bytes_read(glob: str, entity: str, profile: Path) -> int:
    con = duckdb.connect()
    try:
        con.execute("SET enable_profiling='json'")
        con.execute(f"SET profiling_output='{profile}'")
        con.execute("SET profiling_mode='detailed'")
        con.execute(QUERY.format(glob=glob, entity=entity)).fetchall()
    finally:
        con.close()
    return json.loads(profile.read_text())["io"]["total_bytes_read"]


def groups_admitting(path: Path, entity: str) -> tuple[int, int]:
    md = pq.ParquetFile(path).metadata
    col = pq.ParquetFile(path).schema_arrow.get_field_index("entity")
    hit = 0
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(col).statistics
        if st is None or not st.has_min_max or st.min <= entity <= st.max:
            hit += 1
    return hit, md.num_row_groups


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=1000)
    args = ap.parse_args()
    probes = [f"svc-{i:04d}" for i in (0, args.entities // 2, args.entities - 1)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subprocess.run(["go", "run", "./scripts/prunegen", "-out", str(out), "-entities", str(args.entities)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        print("## Pruning a day of windows (`scripts/prune_bench.py`, decision 0029)")
        print()
        print(f"One day of {args.entities:,} entities × 1,440 windows (1m, 8 features), written by the export's")
        print("writer; the query reads one entity's day (`WHERE entity = ...`, two columns). Bytes read")
        print(f"are DuckDB {duckdb.__version__}'s profile (`io.total_bytes_read`), the worst of entities "
              f"{', '.join(probes)};")
        print("row groups read are those whose `entity` statistics admit the entity.")
        print()
        print("| layout | day file bytes | row groups | row groups read | bytes read | bytes read / day |")
        print("|---|---|---|---|---|---|")
        for layout, label in (("entity_first", "**(entity, window_start)**, whole entity-days per group (published)"),
                              ("time_first", "(window_start, entity), 128 Ki rows per group (before)")):
            files = sorted((out / layout).rglob("*.parquet"))
            day = sum(f.stat().st_size for f in files)
            glob = str(out / layout / "windows" / "*" / "*.parquet")
            read = max(duck_bytes_read(glob, e, out / "profile.json") for e in probes)
            hit = max(groups_admitting(files[0], e)[0] for e in probes)
            total = pq.ParquetFile(files[0]).metadata.num_row_groups
            print(f"| {label} | {day:,} | {total} | {hit} | {read:,} | {read / day:.1%} |")


if __name__ == "__main__":
    main()
