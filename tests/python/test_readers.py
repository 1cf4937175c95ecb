"""A published dataset version reads correctly with the researchers' tools.

Checks pyarrow, pandas and DuckDB against the manifest and the contract in
schemas/schemas.go: row counts, UTC timestamps, column types, the windows
table's ordering, keys and labels, and the checksums.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

# Timestamp columns and their units, per schemas/schemas.go.
TIME_COLUMNS = {
    "windows": {"window_start": "ms"},
    "metrics": {"window_start": "ms"},
    "logs": {"ts": "us"},
    "tickets": {"created": "ms", "impact_start": "ms", "resolved": "ms"},
    "incidents": {"start": "ms", "end": "ms", "effect_end": "ms"},
    "series": {},
    "log_templates": {"first_seen": "us", "last_seen": "us"},
    "log_counts": {"window_start": "ms"},
}
# Hive-partitioned tables (schemas.Partitioned) and the column their date= comes from.
PARTITION_TIME = {"windows": "window_start", "metrics": "window_start", "logs": "ts",
                  "log_counts": "window_start"}
REQUIRED_TABLES = {"windows", "incidents"}

WINDOW_KEY = ["window_start", "entity"]
LOG_COUNTS = ["log_lines", "log_debug", "log_info", "log_warn", "log_error", "log_other"]
LABELS = ["incident_active", "incident_ids", "severity", "phase",
          "minutes_to_next_incident", "label_sources"]
PHASES = {"normal", "pre_incident", "incident", "recovery"}
DATE_DIR = re.compile(r"^date=\d{4}-\d{2}-\d{2}$")


def arrow_dataset(version_dir: Path, table: str) -> ds.Dataset:
    return ds.dataset(version_dir / table, format="parquet", partitioning="hive")


def duck_glob(version_dir: Path, table: str) -> str:
    return str(version_dir / table / "**" / "*.parquet")


def duck(sql: str, version_dir: Path, table: str) -> list[tuple]:
    """Run sql with {t} standing for the table read the way a researcher would."""
    con = duckdb.connect()
    try:
        src = "read_parquet($glob, hive_partitioning=true)"
        return con.execute(sql.format(t=src), {"glob": duck_glob(version_dir, table)}).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def windows(version_dir: Path) -> pa.Table:
    return arrow_dataset(version_dir, "windows").to_table()


@pytest.fixture(scope="module")
def incidents(version_dir: Path) -> pa.Table:
    return arrow_dataset(version_dir, "incidents").to_table()


def feature_columns(schema: pa.Schema) -> list[str]:
    fixed = set(WINDOW_KEY + LOG_COUNTS + LABELS + ["date", "split"])
    return [n for n in schema.names if n not in fixed and not n.startswith("tpl_")]


def template_columns(schema: pa.Schema) -> list[str]:
    """The tpl_<template_id> count columns (spec log_features.top_templates)."""
    return [n for n in schema.names if n.startswith("tpl_")]


# --- manifest, files and checksums -------------------------------------------

def test_manifest_names_core_tables(tables):
    missing = REQUIRED_TABLES - set(tables)
    assert not missing, f"manifest.json lists no files for tables {sorted(missing)}"


def test_sha256sums_check_passes(version_dir):
    res = subprocess.run(["sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"],
                         cwd=version_dir, capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"sha256sum -c SHA256SUMS failed in {version_dir}:\n{res.stdout}{res.stderr}"


def test_manifest_files_match_disk_and_sums(version_dir, manifest):
    sums = {}
    for line in (version_dir / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        sums[path.removeprefix("*")] = digest  # "*" marks binary mode
    for f in manifest["files"]:
        path = version_dir / f["path"]
        assert path.is_file(), f"manifest names {f['path']}, which does not exist"
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == f["sha256"], f"{f['path']}: sha256 differs from manifest"
        assert path.stat().st_size == f["bytes"], f"{f['path']}: size differs from manifest"
        assert sums.get(f["path"]) == f["sha256"], f"{f['path']}: missing or different in SHA256SUMS"


def test_manifest_table_totals_add_up(manifest, table, table_files):
    totals = manifest.get("tables", {}).get(table)
    if totals is None:
        assert "tables" not in manifest, f"manifest.tables has no entry for {table}"
        return
    assert totals["files"] == len(table_files)
    assert totals["rows"] == sum(f["rows"] for f in table_files)
    assert totals["bytes"] == sum(f["bytes"] for f in table_files)


def test_table_directory_holds_exactly_manifest_files(version_dir, table, table_files):
    on_disk = {p.relative_to(version_dir).as_posix() for p in (version_dir / table).rglob("*.parquet")}
    listed = {f["path"] for f in table_files}
    assert on_disk == listed, f"{table}: files on disk and in manifest differ"
    for path in listed:
        parts = Path(path).parts
        if table in PARTITION_TIME:
            assert len(parts) == 3 and DATE_DIR.match(parts[1]), f"{path}: want {table}/date=YYYY-MM-DD/<file>"
        else:
            assert len(parts) == 2, f"{path}: unpartitioned table wants {table}/<file>"


# --- every table reads, with the right counts and UTC timestamps -------------

def test_pyarrow_reads_manifest_row_counts(version_dir, table, table_files):
    for f in table_files:
        assert pq.ParquetFile(version_dir / f["path"]).metadata.num_rows == f["rows"], f["path"]
    dset = arrow_dataset(version_dir, table)
    assert dset.count_rows() == sum(f["rows"] for f in table_files)
    assert dset.to_table().num_rows == sum(f["rows"] for f in table_files)
    if table in PARTITION_TIME:
        assert "date" in dset.schema.names, f"{table}: hive partitioning gave no date column"


def test_duckdb_reads_manifest_row_counts(version_dir, table, table_files):
    [(n,)] = duck("SELECT count(*) FROM {t}", version_dir, table)
    assert n == sum(f["rows"] for f in table_files)


def test_pyarrow_timestamps_are_utc(version_dir, table):
    schema = arrow_dataset(version_dir, table).schema
    stamps = {f.name: f.type for f in schema if pa.types.is_timestamp(f.type)}
    want = TIME_COLUMNS.get(table)
    if want is not None:
        assert {n: t.unit for n, t in stamps.items()} == want, f"{table}: timestamp columns/units"
    for name, typ in stamps.items():
        assert typ.tz == "UTC", f"{table}.{name}: timestamp tz is {typ.tz!r}, want 'UTC'"
    if table in PARTITION_TIME:
        assert not pa.types.is_timestamp(schema.field("date").type)


def test_pandas_timestamps_are_utc(version_dir, table):
    df = pd.read_parquet(version_dir / table, engine="pyarrow")
    for name in TIME_COLUMNS.get(table, {}):
        dtype = df[name].dtype
        assert isinstance(dtype, pd.DatetimeTZDtype), f"{table}.{name}: pandas dtype {dtype}, want datetime64[*, UTC]"
        assert str(dtype.tz) == "UTC", f"{table}.{name}: pandas tz {dtype.tz}"
    naive = [c for c in df.columns if pd.api.types.is_datetime64_dtype(df[c].dtype)
             and not isinstance(df[c].dtype, pd.DatetimeTZDtype)]
    assert not naive, f"{table}: tz-naive timestamp columns {naive}"


def test_duckdb_timestamps_are_timestamptz(version_dir, table):
    types = {name: typ for name, typ, *_ in duck("DESCRIBE SELECT * FROM {t}", version_dir, table)}
    for name in TIME_COLUMNS.get(table, {}):
        assert types.get(name) == "TIMESTAMP WITH TIME ZONE", f"{table}.{name}: DuckDB type {types.get(name)}"
    naive = [n for n, t in types.items() if t.startswith("TIMESTAMP") and t != "TIMESTAMP WITH TIME ZONE"]
    assert not naive, f"{table}: DuckDB reads tz-naive timestamps {naive}"


def test_partition_date_matches_row_time(version_dir, table):
    if table not in PARTITION_TIME:
        names = arrow_dataset(version_dir, table).schema.names
        assert "date" not in names, f"{table} is not partitioned but reads with a date column"
        return
    col = PARTITION_TIME[table]
    [(bad,)] = duck(f"SELECT count(*) FROM {{t}} WHERE CAST(timezone('UTC', {col}) AS DATE) <> date",
                    version_dir, table)
    assert bad == 0, f"{table}: {bad} rows whose {col} is not in their date= partition"


# --- the windows table --------------------------------------------------------

def test_windows_column_order_and_types(windows):
    schema = windows.schema
    feats = feature_columns(schema)
    assert feats, "windows has no feature columns"
    names = [n for n in schema.names if n != "date"]
    tpls = template_columns(schema)
    assert names == WINDOW_KEY + feats + LOG_COUNTS + tpls + LABELS + ["split"]
    for name in tpls:
        assert schema.field(name).type == pa.int64(), f"{name}: {schema.field(name).type}, want int64"
    assert schema.field("entity").type == pa.string()
    for name in feats:
        assert schema.field(name).type == pa.float64(), f"feature {name}: {schema.field(name).type}, want double"
    for name in LOG_COUNTS:
        assert schema.field(name).type == pa.int64(), f"{name}: {schema.field(name).type}, want int64"
    assert schema.field("incident_active").type == pa.bool_()
    assert pa.types.is_list(schema.field("incident_ids").type)
    assert pa.types.is_list(schema.field("label_sources").type)
    assert schema.field("minutes_to_next_incident").type == pa.float64()


def test_windows_numeric_in_pandas_and_duckdb(version_dir, windows):
    df = pd.read_parquet(version_dir / "windows", engine="pyarrow")
    feats = feature_columns(windows.schema)
    for name in feats + LOG_COUNTS + ["minutes_to_next_incident"]:
        assert pd.api.types.is_numeric_dtype(df[name].dtype), f"pandas {name}: {df[name].dtype}"
    for name in LOG_COUNTS:
        assert pd.api.types.is_integer_dtype(df[name].dtype), f"pandas {name}: {df[name].dtype}"
    types = {n: t for n, t, *_ in duck("DESCRIBE SELECT * FROM {t}", version_dir, "windows")}
    assert {n: types[n] for n in feats} == {n: "DOUBLE" for n in feats}
    assert {n: types[n] for n in LOG_COUNTS} == {n: "BIGINT" for n in LOG_COUNTS}


def test_windows_log_counts_add_up(windows):
    total = windows["log_lines"]
    parts = pc.add(pc.add(pc.add(windows["log_debug"], windows["log_info"]),
                          pc.add(windows["log_warn"], windows["log_error"])), windows["log_other"])
    assert pc.all(pc.equal(total, parts)).as_py(), "log_lines != sum of per-level counts"
    for name in LOG_COUNTS:
        assert pc.min(windows[name]).as_py() is None or pc.min(windows[name]).as_py() >= 0, name


def test_windows_on_epoch_aligned_grid(version_dir, manifest):
    step = manifest.get("window_seconds")
    assert step, "manifest.json has no window_seconds"
    step_ms = round(step * 1000)
    [(off_grid,)] = duck(f"SELECT count(*) FROM {{t}} WHERE epoch_ms(window_start) % {step_ms} <> 0",
                         version_dir, "windows")
    assert off_grid == 0, f"{off_grid} windows not on the {step}s grid aligned to the epoch"


def test_windows_sorted_within_each_file(version_dir, manifest):
    for f in (f for f in manifest["files"] if f.get("table") == "windows" and f["path"].endswith(".parquet")):
        t = pq.read_table(version_dir / f["path"], columns=WINDOW_KEY)
        # Entity first (decision 0029): a row group holds whole entity-days.
        order = pc.sort_indices(t, sort_keys=[("entity", "ascending"), ("window_start", "ascending")])
        assert order.to_pylist() == list(range(t.num_rows)), f"{f['path']}: rows not sorted by (entity, window_start)"
        sorting = pq.ParquetFile(version_dir / f["path"]).metadata.row_group(0).sorting_columns
        names = pq.ParquetFile(version_dir / f["path"]).schema_arrow.names
        assert [names[c.column_index] for c in sorting or ()] == ["entity", "window_start"], \
            f"{f['path']}: footer sorting columns"


def test_windows_key_unique(version_dir):
    [(rows, keys)] = duck("SELECT count(*), count(DISTINCT (window_start, entity)) FROM {t}",
                          version_dir, "windows")
    assert rows == keys, f"{rows - keys} duplicate (window_start, entity) rows"


def test_windows_phase_values(windows):
    phases = set(pc.unique(windows["phase"]).to_pylist())
    assert phases <= PHASES, f"unexpected phases {sorted(phases - PHASES)}"


def test_windows_incident_active_iff_phase_incident(windows):
    is_incident = pc.equal(windows["phase"], "incident")
    mismatch = pc.sum(pc.cast(pc.not_equal(windows["incident_active"], is_incident), pa.int64())).as_py()
    assert not mismatch, f"{mismatch} rows where incident_active != (phase == 'incident')"


def test_windows_labels_consistent(windows):
    rows = windows.select(LABELS).to_pylist()
    for i, r in enumerate(rows):
        where = f"windows row {i}"
        if r["incident_active"]:
            assert r["incident_ids"], f"{where}: active but no incident_ids"
            assert r["severity"] is not None, f"{where}: active but no severity"
            assert r["label_sources"], f"{where}: active but no label_sources"
            assert r["minutes_to_next_incident"] == 0, f"{where}: active but minutes_to_next_incident={r['minutes_to_next_incident']}"
        else:
            assert not r["incident_ids"], f"{where}: inactive with incident_ids {r['incident_ids']}"
            m = r["minutes_to_next_incident"]
            assert m is None or m > 0, f"{where}: inactive with minutes_to_next_incident={m}"
        if r["phase"] == "pre_incident":
            assert r["minutes_to_next_incident"] is not None, f"{where}: pre_incident without a next incident"
        assert r["incident_ids"] == sorted(r["incident_ids"]), f"{where}: incident_ids not sorted"


def test_windows_incidents_exist_for_their_entity(windows, incidents):
    # An incident (e.g. one ticket) may affect several entities: the incidents
    # table has one row per (incident_id, entity), and a window may only name
    # incidents of its own entity.
    owners = {}
    for iid, ent in zip(incidents["incident_id"].to_pylist(), incidents["entity"].to_pylist()):
        owners.setdefault(iid, set()).add(ent)
    for entity, ids in zip(windows["entity"].to_pylist(), windows["incident_ids"].to_pylist()):
        for iid in ids:
            assert iid in owners, f"windows names incident {iid}, not in the incidents table"
            assert entity in owners[iid], f"incident {iid} belongs to {sorted(owners[iid])}, labelled on {entity}"


def test_incidents_ids_unique_and_intervals_ordered(incidents):
    keys = list(zip(incidents["incident_id"].to_pylist(), incidents["entity"].to_pylist()))
    assert len(keys) == len(set(keys)), "duplicate (incident_id, entity)"
    for r in incidents.to_pylist():
        if r["end"] is not None:
            assert r["end"] >= r["start"], f"incident {r['incident_id']}: end before start"
        if r["effect_end"] is not None and r["end"] is not None:
            assert r["effect_end"] >= r["end"], f"incident {r['incident_id']}: effect_end before end"


# --- the benchmark split (spec split policy, manifest split) -------------------

SPLITS = {"train", "validation", "test", "gap"}


def test_windows_split_follows_policy(version_dir, manifest, windows):
    policy = manifest.get("split")
    values = set(pc.unique(windows["split"]).to_pylist())
    if policy is None:
        assert values == {None}, "split values without a split policy"
        return
    assert values <= SPLITS and {"train", "test"} <= values | {"validation"}, values
    df = windows.select(["window_start", "split"]).to_pandas()
    step = pd.Timedelta(seconds=manifest["window_seconds"])
    embargo = pd.Timedelta(seconds=policy["embargo_seconds"])
    bounds = [pd.Timestamp(policy[k]) for k in ("validation", "test") if policy.get(k)]
    for b in bounds:
        near = df[(df.window_start < b) & (df.window_start + step + embargo > b)]
        assert (near.split == "gap").all(), f"windows within the embargo before {b} are not gap"
        after = df[(df.window_start >= b) & (df.window_start < b + step)]
        assert not (after.split == "gap").any()
    if policy.get("test"):
        assert (df[df.window_start >= pd.Timestamp(policy["test"])].split == "test").all()


def test_hugging_face_splits(version_dir, manifest, windows, monkeypatch, tmp_path):
    if manifest.get("split") is None:
        pytest.skip("the version declares no split policy")
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    d = datasets.load_dataset(str(version_dir))
    counts = pc.value_counts(windows["split"]).to_pylist()
    by = {c["values"]: c["counts"] for c in counts}
    for name, part in d.items():
        assert name in ("train", "validation", "test")
        got = set(part.unique("split")) - {"gap"}
        assert got == {name}, f"HF split {name} holds windows of split {got}"
    assert sum(p.num_rows for p in d.values()) == windows.num_rows
    assert d["test"].num_rows == by["test"]
