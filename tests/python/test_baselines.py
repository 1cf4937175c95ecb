"""The card's Baselines table is reproduced: notebooks/baselines.py runs both
baselines on the version's windows, `opsdata score --split test` scores them,
and every figure equals the one in the card (docs/decisions/0035)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "notebooks"))
import baselines  # noqa: E402  (notebooks/baselines.py)


def opsdata_bin() -> str:
    exe = os.environ.get("OPSDATA_BIN") or str(REPO_ROOT / "bin" / "opsdata")
    if not Path(exe).is_file():
        pytest.fail(f"{exe} missing: run `make build` (or set OPSDATA_BIN)", pytrace=False)
    return exe


@pytest.fixture(scope="module")
def reproduced(version_dir: Path, tmp_path_factory) -> dict:
    return baselines.run(version_dir, tmp_path_factory.mktemp("predictions"), opsdata_bin())


def test_card_table_reproduced(version_dir: Path, manifest: dict, reproduced: dict):
    recorded = manifest.get("baselines")
    assert recorded, "manifest.json has no baselines: the spec needs `baselines: ./datasets/demo-baselines.json`"
    assert not recorded.get("stale"), (f"the card's baselines are stale: {recorded['stale']}; "
                                       "run `make baselines` and export again")
    assert recorded["windows_digest"] == baselines.windows_digest(version_dir) == reproduced["windows_digest"]
    card = (version_dir / "README.md").read_text(encoding="utf-8")
    names = [b["name"] for b in reproduced["baselines"]]
    assert names == ["robust_zscore", "isolation_forest"], names
    for b in reproduced["baselines"]:
        row = baselines.card_row(b)
        assert row + "\n" in card, f"the card has no row\n{row}\nits Baselines section:\n" + \
            card[card.index("## Baselines"):card.index("## Data quality")]
    # Not just the rounded figures: the whole reports, and the thresholds, are the same.
    assert [(b["name"], b["threshold"], b["report"]) for b in recorded["baselines"]] == \
        [(b["name"], b["threshold"], b["report"]) for b in reproduced["baselines"]]


def test_committed_results_file_is_current(reproduced: dict):
    committed = REPO_ROOT / "datasets" / "demo-baselines.json"
    got = json.loads(baselines.dump(reproduced))
    want = json.loads(committed.read_text())
    assert got == want, f"{committed} is out of date: run `make baselines`"


def test_predictions_files_are_what_score_reads(reproduced: dict, tmp_path_factory, version_dir: Path):
    # Every window of the version has a prediction; the test split is what is scored.
    out = tmp_path_factory.mktemp("again")
    again = baselines.run(version_dir, out, opsdata_bin())
    assert again == reproduced, "two runs of the baselines differ"
    for b in again["baselines"]:
        lines = (out / f"{b['name']}.csv").read_text().splitlines()
        assert lines[0] == "entity,window_start,score"
        n_windows = json.loads((version_dir / "manifest.json").read_text())["tables"]["windows"]["rows"]
        assert len(lines) - 1 == n_windows
        r = b["report"]
        assert r["split"] == "test" and r["predictions_matched"] == r["windows"] > 0
        assert r["events"] > 0 and all(math.isfinite(float(x.split(",")[2])) for x in lines[1:])


def test_threshold_maximizes_f1():
    import numpy as np

    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    truth = np.array([1, 1, 0, 0, 1])
    # Cuts: >=0.9 F1 2/4=0.5; >=0.8 tp2 fp1 -> 4/6; >=0.3 tp2 fp2 -> 4/7; >=0.1 tp3 fp2 -> 6/8.
    assert baselines.pick_threshold(scores, truth) == 0.1
    assert baselines.pick_threshold(np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])) == 0.8
    with pytest.raises(ValueError, match="no incident windows"):
        baselines.pick_threshold(scores, np.zeros(5, dtype=int))
