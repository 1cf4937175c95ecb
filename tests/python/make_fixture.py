#!/usr/bin/env python3
"""Build a tiny opsdata dataset version by hand, for developing the readers.

It has the published layout and the table schemas of schemas/schemas.go
(two services, two hours across midnight, two incidents) so the tests in
this directory and the notebooks can run without the Go export:

    python tests/python/make_fixture.py /tmp/fx
    OPSDATA_VERSION_DIR=/tmp/fx/fixture-cluster/v0-fixture .venv/bin/pytest tests/python -q

The output is deterministic: same pyarrow version, same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATASET = "fixture-cluster"
VERSION = "v0-fixture"
STEP = timedelta(minutes=5)
START = datetime(2024, 3, 1, 23, 0, tzinfo=timezone.utc)
N_WINDOWS = 24  # 23:00 .. 00:55, so two date partitions
PRE_INCIDENT = timedelta(minutes=15)
SERVICES = ["svc-0a1b2c", "svc-9f8e7d"]
FEATURES = [
    "requests_per_second",
    "errors_per_second",
    "error_ratio",
    "latency_p99_seconds",
    "cpu_utilization",
    "memory_bytes",
    "queue_depth",
    "instances_up",
]
LEVELS = ["debug", "info", "warn", "error"]

MS = pa.timestamp("ms", tz="UTC")
US = pa.timestamp("us", tz="UTC")
STR_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))

# Incidents: one resolved with an effect interval, one still open (end null).
INCIDENTS = [
    {
        "incident_id": "inc-0001",
        "entity": SERVICES[0],
        "start": START + timedelta(minutes=40),
        "end": START + timedelta(minutes=70),
        "effect_end": START + timedelta(minutes=80),
        "severity": "critical",
        "type": "error_rate",
        "source": "ticket",
        "source_id": "tkt-100",
        "confidence": 1.0,
        "title": "errors on svc-0a1b2c",
    },
    {
        "incident_id": "inc-0002",
        "entity": SERVICES[1],
        "start": START + timedelta(minutes=100),
        "end": None,
        "effect_end": None,
        "severity": "warning",
        "type": "latency",
        "source": "alert",
        "source_id": "alert-7",
        "confidence": 0.8,
        "title": "latency on svc-9f8e7d",
    },
]


def window_schema() -> pa.Schema:
    fields = [pa.field("window_start", MS, nullable=False), pa.field("entity", pa.string(), nullable=False)]
    fields += [pa.field(f, pa.float64()) for f in FEATURES]
    fields += [pa.field(c, pa.int64(), nullable=False) for c in
               ["log_lines", "log_debug", "log_info", "log_warn", "log_error", "log_other"]]
    fields += [
        pa.field("incident_active", pa.bool_(), nullable=False),
        pa.field("incident_ids", STR_LIST, nullable=False),
        pa.field("severity", pa.string()),
        pa.field("phase", pa.string(), nullable=False),
        pa.field("minutes_to_next_incident", pa.float64()),
        pa.field("label_sources", STR_LIST, nullable=False),
    ]
    return pa.schema(fields)


SCHEMAS = {
    "windows": window_schema(),
    "metrics": pa.schema([
        pa.field("window_start", MS, nullable=False),
        pa.field("series_id", pa.int64(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]),
    "series": pa.schema([
        pa.field("series_id", pa.int64(), nullable=False),
        pa.field("feature", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
    ]),
    "logs": pa.schema([
        pa.field("ts", US, nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("level", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
    ]),
    "tickets": pa.schema([
        pa.field("ticket_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("body", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("created", MS, nullable=False),
        pa.field("impact_start", MS),
        pa.field("resolved", MS),
        pa.field("entities", STR_LIST, nullable=False),
    ]),
    "incidents": pa.schema([
        pa.field("incident_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("start", MS, nullable=False),
        pa.field("end", MS),
        pa.field("effect_end", MS),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
    ]),
}


def label(entity: str, ws: datetime) -> dict:
    """Labels of one window, following the contract in schemas.WindowLabels."""
    we = ws + STEP
    mine = [i for i in INCIDENTS if i["entity"] == entity]
    active = [i for i in mine if i["start"] < we and (i["end"] is None or i["end"] > ws)]
    if active:
        phase = "incident"
        minutes = 0.0
    else:
        upcoming = [i["start"] for i in mine if i["start"] >= we]
        minutes = (min(upcoming) - ws).total_seconds() / 60 if upcoming else None
        recovering = any(i["end"] is not None and i["effect_end"] is not None
                         and i["end"] <= ws < i["effect_end"] for i in mine)
        if recovering:
            phase = "recovery"
        elif minutes is not None and minutes <= PRE_INCIDENT.total_seconds() / 60:
            phase = "pre_incident"
        else:
            phase = "normal"
    rank = {"critical": 2, "warning": 1}
    return {
        "incident_active": bool(active),
        "incident_ids": sorted(i["incident_id"] for i in active),
        "severity": max((i["severity"] for i in active), key=rank.get) if active else None,
        "phase": phase,
        "minutes_to_next_incident": minutes,
        "label_sources": sorted({i["source"] for i in active}),
    }


def build_rows():
    windows, metrics, logs = [], [], []
    series = []
    for fi, feature in enumerate(FEATURES[:2]):
        for ei, entity in enumerate(SERVICES):
            series.append({"series_id": fi * 10 + ei, "feature": feature, "entity": entity,
                           "labels": json.dumps({"job": "api", "service": entity}, sort_keys=True)})
    for w in range(N_WINDOWS):
        ws = START + w * STEP
        for ei, entity in enumerate(SERVICES):
            lab = label(entity, ws)
            bad = lab["incident_active"]
            row = {"window_start": ws, "entity": entity}
            row.update({
                "requests_per_second": 100.0 + 10 * ei + w,
                "errors_per_second": 5.0 if bad else 0.1,
                "error_ratio": (5.0 if bad else 0.1) / (100.0 + 10 * ei + w),
                "latency_p99_seconds": 1.5 if bad else 0.2,
                "cpu_utilization": 0.3 + 0.01 * w,
                "memory_bytes": float(2**28 + w * 2**20),
                # queue_depth is missing for one service: optional features are null, not 0.
                "queue_depth": float(w % 4) if ei == 0 else None,
                "instances_up": 3.0,
            })
            counts = {"debug": w % 2, "info": 3, "warn": 1 if bad else 0, "error": 2 if bad else 0}
            row.update({f"log_{lv}": counts[lv] for lv in LEVELS})
            row["log_other"] = 0
            row["log_lines"] = sum(counts.values())
            row.update(lab)
            windows.append(row)
            for s in series:
                if s["entity"] == entity:
                    metrics.append({"window_start": ws, "series_id": s["series_id"],
                                    "value": row[s["feature"]]})
            n = 0
            for lv in LEVELS:
                for k in range(counts[lv]):
                    logs.append({"ts": ws + timedelta(microseconds=1_000_003 * (n + 1) + k),
                                 "entity": entity, "level": lv,
                                 "message": f"{lv} request from 10.0.{ei}.{k} done",
                                 "source": "app", "file": "handler.go", "line": 40 + n})
                    n += 1
    tickets = [{
        "ticket_id": "tkt-100", "source": "jira", "title": "svc-0a1b2c returns 500s",
        "body": "customers see errors", "status": "resolved", "severity": "critical",
        "created": START + timedelta(minutes=45), "impact_start": START + timedelta(minutes=40),
        "resolved": START + timedelta(minutes=70), "entities": [SERVICES[0]],
    }]
    key = lambda r: (r["entity"], r["window_start"])  # noqa: E731  (decision 0029)
    return {
        "windows": sorted(windows, key=key),
        "metrics": sorted(metrics, key=lambda r: (r["window_start"], r["series_id"])),
        "series": series,
        "logs": sorted(logs, key=lambda r: (r["ts"], r["entity"])),
        "tickets": tickets,
        "incidents": INCIDENTS,
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path) -> Path:
    """Write the fixture under out/<dataset>/<version> and return that directory."""
    vdir = out / DATASET / VERSION
    vdir.mkdir(parents=True, exist_ok=True)
    time_col = {"windows": "window_start", "metrics": "window_start", "logs": "ts"}
    files = []
    for table, rows in build_rows().items():
        groups: dict[str, list] = {}
        for r in rows:
            sub = f"date={r[time_col[table]]:%Y-%m-%d}" if table in time_col else ""
            groups.setdefault(sub, []).append(r)
        for sub, part in sorted(groups.items()):
            rel = Path(table, sub, "part-00000.parquet") if sub else Path(table, "part-00000.parquet")
            path = vdir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(part, schema=SCHEMAS[table]), path)
            entry = {"path": rel.as_posix(), "sha256": sha256(path),
                     "bytes": path.stat().st_size, "rows": len(part), "table": table}
            if sub:
                entry["partition"] = sub
            files.append(entry)
    (vdir / "LICENSE").write_text("CDLA-Permissive-2.0\n")
    (vdir / "README.md").write_text(f"# {DATASET} {VERSION}\n\nHand-made test fixture.\n")
    for name in ["LICENSE", "README.md"]:
        p = vdir / name
        files.append({"path": name, "sha256": sha256(p), "bytes": p.stat().st_size})
    files.sort(key=lambda f: f["path"])
    (vdir / "SHA256SUMS").write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in files))
    tables = {}
    for f in files:
        if "table" in f:
            t = tables.setdefault(f["table"], {"files": 0, "rows": 0, "bytes": 0})
            t["files"] += 1
            t["rows"] += f["rows"]
            t["bytes"] += f["bytes"]
    # The shape of pipeline/publish.Manifest, trimmed to what readers use.
    manifest = {
        "format_version": 1,
        "dataset": DATASET,
        "version": VERSION,
        "licence": "CDLA-Permissive-2.0",
        "from": START.isoformat().replace("+00:00", "Z"),
        "to": (START + N_WINDOWS * STEP).isoformat().replace("+00:00", "Z"),
        "window": "5m0s",
        "window_seconds": STEP.total_seconds(),
        "entity_kind": "service",
        "schema_versions": {t: "1.0" for t in SCHEMAS},
        "rows": sum(t["rows"] for t in tables.values()),
        "bytes": sum(t["bytes"] for t in tables.values()),
        "tables": tables,
        "files": files,
    }
    (vdir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    ddir = vdir.parent
    (ddir / "latest").write_text(VERSION + "\n")
    (ddir / "latest.json").write_text(json.dumps({"version": VERSION}) + "\n")
    (ddir / "catalog.json").write_text(json.dumps({"dataset": DATASET, "versions": [VERSION]}) + "\n")
    return vdir


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="directory to write <dataset>/<version> into")
    args = ap.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
