"""A partial pull loads with the metadata loaders (issue 15, decision 0030).

`opsdata pull --tables windows,incidents --from <second day>` of the demo
version: README.md lists only the pulled configs, so Hugging Face
`datasets.load_dataset(dir)` (and per config) loads exactly the pulled rows;
croissant.json describes only the pulled files and validates without
warnings; a range outside the version is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import datasets
import pyarrow.dataset as ds
import pytest

from conftest import REPO_ROOT


def opsdata_bin() -> str:
    exe = os.environ.get("OPSDATA_BIN") or str(REPO_ROOT / "bin" / "opsdata")
    assert Path(exe).is_file(), f"{exe} missing: run `make demo` (or set OPSDATA_BIN)"
    return exe


def pull(version_dir: Path, target: Path, *flags: str) -> subprocess.CompletedProcess:
    ref = f"file://{version_dir.parent.parent}/{version_dir.parent.name}@{version_dir.name}"
    return subprocess.run([opsdata_bin(), "pull", *flags, ref, str(target)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def partial(version_dir: Path, manifest: dict, tmp_path_factory) -> tuple[Path, str]:
    second = (datetime.fromisoformat(manifest["from"].replace("Z", "+00:00")) + timedelta(days=1)).strftime("%Y-%m-%d")
    target = tmp_path_factory.mktemp("partial") / "pulled"
    res = pull(version_dir, target, "--tables", "windows,incidents", "--from", second)
    assert res.returncode == 0, res.stdout + res.stderr
    return target, second


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    # Local files only: never the Hub.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_partial_pull_sums_pass(partial):
    target, _ = partial
    res = subprocess.run(["sha256sum", "--strict", "--quiet", "-c", "SHA256SUMS"], cwd=target, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_load_dataset_on_partial_pull(partial):
    target, second = partial
    want = ds.dataset(target / "windows", format="parquet", partitioning="hive").count_rows()
    default = datasets.load_dataset(str(target))
    # The default config is the pulled windows (in its train/validation/test splits when the version has a split).
    assert sum(part.num_rows for part in default.values()) == want
    inc = datasets.load_dataset(str(target), "incidents")
    assert inc["train"].num_rows == ds.dataset(target / "incidents").count_rows()
    with pytest.raises(ValueError):
        datasets.load_dataset(str(target), "metrics")  # not pulled: no such config
    days = {p.name for p in (target / "windows").iterdir()}
    assert min(days) == f"date={second}"


def test_croissant_of_partial_pull(partial):
    target, second = partial
    doc = json.loads((target / "croissant.json").read_text())
    assert {r["name"] for r in doc["recordSet"]} == {"windows", "incidents"}
    urls = {d["contentUrl"] for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    on_disk = {p.relative_to(target).as_posix() for p in target.rglob("*.parquet")}
    assert urls == on_disk
    assert doc["temporalCoverage"].startswith(f"{second}T00:00:00Z/")
    exe = Path(sys.executable).parent / "mlcroissant"
    res = subprocess.run([str(exe), "validate", "--jsonld", "croissant.json"], cwd=target,
                         capture_output=True, text=True, timeout=120)
    out = (res.stdout + res.stderr).lower()
    assert res.returncode == 0 and "warning" not in out and "error" not in out.replace("0 error", ""), out


def test_range_outside_version_refused(version_dir, manifest, tmp_path):
    res = pull(version_dir, tmp_path / "none", "--from", "2030-01-01")
    assert res.returncode != 0
    assert "range outside the version" in res.stderr, res.stderr
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())
