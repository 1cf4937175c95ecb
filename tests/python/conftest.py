"""Shared fixtures: where the dataset version is and what its manifest says.

The version directory comes from OPSDATA_VERSION_DIR, or else from
out/demo-cluster/latest at the repo root (written by `make demo`). A missing
dataset fails every test with instructions; it is never skipped silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASET_DIR = REPO_ROOT / "out" / "demo-cluster"


class DatasetMissing(Exception):
    pass


def locate_version_dir() -> Path:
    """Return the dataset version directory to test, or raise DatasetMissing."""
    env = os.environ.get("OPSDATA_VERSION_DIR")
    if env:
        vdir = Path(env).resolve()
        if not (vdir / "manifest.json").is_file():
            raise DatasetMissing(f"OPSDATA_VERSION_DIR={env} has no manifest.json; "
                                 "point it at a version directory (<out>/<dataset>/<version>)")
        return vdir
    latest = DEFAULT_DATASET_DIR / "latest"
    if not latest.exists():
        raise DatasetMissing(f"no demo dataset: {latest} does not exist; run `make demo` at the "
                             "repo root first, or set OPSDATA_VERSION_DIR to a version directory")
    # `latest` is a text file holding the version name; accept a symlink to the directory too.
    vdir = latest.resolve() if latest.is_dir() else DEFAULT_DATASET_DIR / latest.read_text().strip()
    if not (vdir / "manifest.json").is_file():
        raise DatasetMissing(f"{latest} points at {vdir}, which has no manifest.json; "
                             "re-run `make demo`")
    return vdir


def load_manifest(vdir: Path) -> dict:
    with open(vdir / "manifest.json", encoding="utf-8") as f:
        return json.load(f)


def manifest_tables(manifest: dict) -> list[str]:
    """Tables named by the manifest's parquet files, sorted."""
    return sorted({f["table"] for f in manifest.get("files", [])
                   if f.get("table") and f["path"].endswith(".parquet")})


def pytest_generate_tests(metafunc):
    # Tables come from the manifest, so parametrizing needs it at collection time.
    # Without a dataset, one placeholder param keeps the tests visible (and failing).
    if "table" not in metafunc.fixturenames:
        return
    try:
        tables = manifest_tables(load_manifest(locate_version_dir()))
    except DatasetMissing:
        tables = ["<no-dataset>"]
    metafunc.parametrize("table", tables)


@pytest.fixture(scope="session")
def version_dir() -> Path:
    try:
        return locate_version_dir()
    except DatasetMissing as e:
        msg = str(e)
    pytest.fail(msg, pytrace=False)  # outside except: no chained traceback noise


@pytest.fixture(scope="session")
def manifest(version_dir: Path) -> dict:
    m = load_manifest(version_dir)
    assert isinstance(m.get("files"), list) and m["files"], "manifest.json has no files list"
    return m


@pytest.fixture(scope="session")
def tables(manifest: dict) -> list[str]:
    return manifest_tables(manifest)


@pytest.fixture
def table_files(manifest: dict, table: str) -> list[dict]:
    """The manifest's entries for one table's parquet files."""
    files = [f for f in manifest["files"] if f.get("table") == table and f["path"].endswith(".parquet")]
    assert files, f"manifest.json lists no parquet files for table {table!r}"
    return files
