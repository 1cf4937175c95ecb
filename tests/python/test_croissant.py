"""croissant.json is valid Croissant 1.0 (mlcroissant validates and loads it) and the
README's Hugging Face header names the licence and one config per table."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import mlcroissant as mlc
import pandas as pd


def mlcroissant_cli() -> str:
    exe = Path(sys.executable).parent / "mlcroissant"
    assert exe.exists() or shutil.which("mlcroissant"), "mlcroissant CLI missing: run scripts/venv.sh"
    return str(exe) if exe.exists() else shutil.which("mlcroissant")


def test_mlcroissant_validate(version_dir: Path):
    res = subprocess.run([mlcroissant_cli(), "validate", "--jsonld", "croissant.json"], cwd=version_dir,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    out = (res.stdout + res.stderr).lower()
    assert "error" not in out.replace("0 error", ""), res.stderr
    # No warnings either: not the @context's, not a missing recommended property (issue 15).
    assert "warning" not in out, res.stderr


def test_croissant_citation(version_dir: Path, manifest: dict):
    doc = json.loads((version_dir / "croissant.json").read_text())
    assert doc["creator"] and all(c["name"] and c["@type"] in ("sc:Person", "sc:Organization") for c in doc["creator"])
    assert doc["publisher"]["name"] == manifest["publisher"]["name"]
    # Deterministic: the spec's date_published or the version's range end, never the clock.
    assert doc["datePublished"] == (manifest.get("date_published") or manifest["to"][:10])
    assert doc["citeAs"].startswith("@misc{"), doc["citeAs"]
    assert manifest["version"].replace("_", "\\_") in doc["citeAs"], "citeAs names the version"


def test_citation_cff_and_bibtex(version_dir: Path, manifest: dict):
    listed = {f["path"] for f in manifest["files"]}
    assert "CITATION.cff" in listed, "CITATION.cff is not in the manifest (so not in SHA256SUMS)"
    cff = (version_dir / "CITATION.cff").read_text()
    for key in ("cff-version: 1.2.0", "type: dataset", f"license: {manifest['licence']}", "authors:",
                f"version: {manifest['version']}", "date-released:"):
        assert key in cff, key
    readme = (version_dir / "README.md").read_text()
    assert "```bibtex\n@misc{" in readme


def test_croissant_matches_manifest(version_dir: Path, manifest: dict):
    doc = json.loads((version_dir / "croissant.json").read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["license"] == manifest["licence_url"]
    assert doc["version"].count(".") >= 2 and doc["citeAs"]
    objects = {d["contentUrl"]: d for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    parquet = {f["path"]: f for f in manifest["files"] if f["path"].endswith(".parquet")}
    assert set(objects) == set(parquet)
    for p, o in objects.items():
        assert o["sha256"] == parquet[p]["sha256"] == hashlib.sha256((version_dir / p).read_bytes()).hexdigest()
    sets = {d["@id"] for d in doc["distribution"] if d["@type"] == "cr:FileSet"}
    assert sets == {f"{t}-files" for t in manifest["tables"]}
    for rs in doc["recordSet"]:
        cols = [c["name"] for c in manifest["tables"][rs["name"]]["columns"]]
        if any(f.get("partition") for f in manifest["files"] if f.get("table") == rs["name"]):
            cols.append("date")  # the Hive partition, a sc:Date from the path
        assert [f["name"] for f in rs["field"]] == cols


def test_every_column_documented_in_croissant(version_dir: Path):
    doc = json.loads((version_dir / "croissant.json").read_text())
    for rs in doc["recordSet"]:
        for f in rs["field"]:
            assert not f["description"].startswith("Parquet type"), f"{f['@id']}: undocumented ({f['description']!r})"
            if f["name"] == "date":
                assert f["dataType"] == "sc:Date"
            if f["dataType"] == "sc:DateTime":
                assert "UTC" in f["description"], f"{f['@id']}: timestamp description names no zone"


def test_every_column_documented_in_card(version_dir: Path, manifest: dict):
    text = (version_dir / "README.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows.setdefault(cells[0].strip("`"), []).append(cells)
    for table, t in manifest["tables"].items():
        for c in t["columns"]:
            assert c["name"] in rows, f"{table}.{c['name']}: no row in the card's column tables"
    for name, rs in rows.items():
        for cells in rs:
            assert cells[4] not in ("", "-"), f"card column {name}: no description"
    feats = {f["name"]: f for f in manifest["features"]}
    for name, f in feats.items():
        if f.get("unit"):
            assert any(cells[3] == f["unit"] for cells in rows[name]), f"feature {name}: unit {f['unit']} not in the card"


def test_date_partition_typed_and_filter_shown(version_dir: Path, manifest: dict):
    import datetime

    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as pads

    text = (version_dir / "README.md").read_text()
    assert 'partitioning=date, filters=[("date", ">=", datetime.date(' in text
    glob = str(version_dir / "windows" / "*" / "*.parquet")
    [(_, duck_type, *_)] = duckdb.sql(f"DESCRIBE SELECT date FROM read_parquet('{glob}', hive_partitioning=true)").fetchall()
    assert duck_type == "DATE"
    assert pl.scan_parquet(glob, hive_partitioning=True).collect_schema()["date"] == pl.Date
    # The card's pandas recipe: date as a DATE, filtered while reading.
    start = datetime.date.fromisoformat(manifest["from"][:10]) + datetime.timedelta(days=1)
    part = pads.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
    w = pd.read_parquet(version_dir / "windows", partitioning=part, filters=[("date", ">=", start)])
    assert len(w) and (w["date"] >= start).all()
    full = pd.read_parquet(version_dir / "windows")
    same = full[full.window_start >= pd.Timestamp(start.isoformat(), tz="UTC")]
    assert len(same) == len(w)


def test_mlcroissant_loads_records(version_dir: Path, manifest: dict, monkeypatch):
    monkeypatch.chdir(version_dir)
    ds = mlc.Dataset(jsonld="croissant.json")
    records = list(ds.records(record_set="incidents"))
    assert len(records) == manifest["tables"]["incidents"]["rows"]
    inc = pd.read_parquet(version_dir / "incidents")
    assert sorted(r["incidents/incident_id"].decode() for r in records) == sorted(inc["incident_id"])


def test_readme_has_hugging_face_header(version_dir: Path, manifest: dict):
    text = (version_dir / "README.md").read_text()
    assert text.startswith("---\n")
    header = text.split("---\n")[1]
    assert f"license: {manifest['licence'].lower()}" in header
    for key in ("pretty_name:", "task_categories:", "size_categories:", "configs:"):
        assert key in header, key
    for table in manifest["tables"]:
        assert f"- config_name: {table}\n" in header
    for section in ("## Motivation", "## Composition", "## Collection process", "## Labels",
                    "**Known gaps.**", "## Anonymization", "## Maintenance"):
        assert section in text, section
