"""Two anomaly-detection baselines on an opsdata version's `windows` table.

* ``robust_zscore``: per entity, each feature's median and MAD on the train
  split; a window's score is the largest |z| over the features.
* ``isolation_forest``: scikit-learn's IsolationForest (fixed random_state),
  fitted on the train split of every entity, on the same per-entity robustly
  scaled features; a window's score is ``-score_samples`` (higher = more
  anomalous).

Both pick their threshold on the validation split (the one maximizing
point-wise F1) and are scored on the test split by ``opsdata score``, whose
JSON report is what the dataset card shows (docs/decisions/0035). The
notebook 05-baselines.ipynb, ``scripts/baselines.sh`` (which writes
datasets/demo-baselines.json) and tests/python/test_baselines.py all call
:func:`run`, so the card, the notebook and the test compute the same numbers.

Command line::

    python notebooks/baselines.py VERSION_DIR OUT_DIR [--opsdata bin/opsdata] [--results FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices; a shared machine
import numpy as np
import pandas as pd

# Split the benchmark is scored on, and the one thresholds are chosen on.
TEST_SPLIT = "test"
TUNE_SPLIT = "validation"
RANDOM_STATE = 0
# 1.4826 * MAD estimates the standard deviation of normal data; when MAD is 0
# (a feature constant on most train windows), 1.2533 * mean absolute deviation
# does (Iglewicz and Hoaglin's modified z-score).
MAD_SCALE = 1.4826
MEANAD_SCALE = 1.2533
RESULTS_FORMAT = 1


@dataclass
class Baseline:
    """One baseline's predictions and how they are scored."""

    name: str
    description: str
    predictions: pd.DataFrame  # entity, window_start, score (every window of the version)
    threshold: float
    params: dict = field(default_factory=dict)


def windows_digest(version_dir: Path) -> str:
    """sha256 over the windows lines of SHA256SUMS ("<sha256>  <path>\\n",
    sorted by path): identifies the exact windows files results were computed
    on. pipeline/publish computes the same from the manifest."""
    manifest = json.loads((Path(version_dir) / "manifest.json").read_text())
    files = sorted((f["path"], f["sha256"]) for f in manifest["files"] if f.get("table") == "windows")
    if not files:
        raise ValueError(f"{version_dir}/manifest.json lists no windows files")
    h = hashlib.sha256()
    for path, sha in files:
        h.update(f"{sha}  {path}\n".encode())
    return "sha256:" + h.hexdigest()


def load_windows(version_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """The windows table sorted by (entity, window_start), and the metric
    feature columns the manifest names."""
    version_dir = Path(version_dir)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    features = [f["name"] for f in manifest.get("features", [])]
    w = pd.read_parquet(version_dir / "windows", engine="pyarrow")
    missing = [f for f in features if f not in w.columns]
    if not features or missing:
        raise ValueError(f"{version_dir}: manifest features {features} missing from windows: {missing}")
    if "split" not in w.columns or w["split"].isna().all():
        raise ValueError(f"{version_dir}: windows has no split column; add a split: policy to the spec")
    w = w.sort_values(["entity", "window_start"], kind="stable").reset_index(drop=True)
    return w, features


def robust_z(w: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Signed robust z-scores of every feature, per entity, with the median
    and scale fitted on the entity's train windows. A feature constant on an
    entity's train windows (scale 0) gives NaN for that entity."""
    out = pd.DataFrame(index=w.index, columns=features, dtype="float64")
    train = w["split"] == "train"
    for entity, rows in w.groupby("entity", sort=True).groups.items():
        rows = pd.Index(rows)
        fit = w.loc[rows[train[rows].to_numpy()], features].astype("float64")
        if fit.empty:
            raise ValueError(f"entity {entity!r} has no train windows to fit on")
        med = fit.median()
        mad = (fit - med).abs().median()
        scale = MAD_SCALE * mad
        meanad = (fit - med).abs().mean()
        scale = scale.where(scale > 0, MEANAD_SCALE * meanad)
        scale = scale.where(scale > 0)  # still 0: constant, no information
        out.loc[rows] = (w.loc[rows, features].astype("float64") - med) / scale
    return out


def pick_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The score threshold (one of the scores) maximizing point-wise F1 of
    `score >= threshold` on the given windows; the smallest such on ties."""
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order].astype(np.int64)
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    # Only the last index of a run of equal scores is a realizable cut.
    last = np.append(s[1:] != s[:-1], True)
    positives = t.sum()
    if positives == 0:
        raise ValueError("no incident windows in the tuning split; cannot pick a threshold")
    f1 = np.where(last, 2 * tp / (tp + fp + positives), -1.0)
    best = int(np.argmax(f1))  # first maximum = highest threshold among equals
    return float(s[best])


def _predictions(w: pd.DataFrame, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"entity": w["entity"].to_numpy(), "window_start": w["window_start"].to_numpy(),
                         "score": score})


def robust_zscore(w: pd.DataFrame, features: list[str]) -> Baseline:
    z = robust_z(w, features).abs()
    score = z.max(axis=1, skipna=True).fillna(0.0).to_numpy(dtype="float64")
    tune = (w["split"] == TUNE_SPLIT).to_numpy()
    thr = pick_threshold(score[tune], w["incident_active"].to_numpy()[tune])
    return Baseline(
        name="robust_zscore",
        description=f"per-entity robust z-score (median and {MAD_SCALE}·MAD of each feature on the entity's train windows); score = max |z| over the {len(features)} metric features",
        predictions=_predictions(w, score), threshold=thr,
        params={"features": features, "mad_scale": MAD_SCALE})


def isolation_forest(w: pd.DataFrame, features: list[str]) -> Baseline:
    import sklearn
    from sklearn.ensemble import IsolationForest

    X = robust_z(w, features).fillna(0.0).clip(-50, 50).to_numpy(dtype="float64")
    train = (w["split"] == "train").to_numpy()
    model = IsolationForest(n_estimators=100, random_state=RANDOM_STATE, n_jobs=1)
    model.fit(X[train])
    score = -model.score_samples(X)
    tune = (w["split"] == TUNE_SPLIT).to_numpy()
    thr = pick_threshold(score[tune], w["incident_active"].to_numpy()[tune])
    return Baseline(
        name="isolation_forest",
        description=f"scikit-learn {sklearn.__version__} IsolationForest (100 trees, random_state={RANDOM_STATE}) on the per-entity robust z-scores, fitted on every entity's train windows; score = -score_samples",
        predictions=_predictions(w, score), threshold=thr,
        params={"features": features, "n_estimators": 100, "random_state": RANDOM_STATE,
                "sklearn": sklearn.__version__})


BASELINES = (robust_zscore, isolation_forest)


def write_predictions(p: pd.DataFrame, path: Path) -> None:
    """A CSV `opsdata score` reads: entity, window_start (RFC 3339, UTC),
    score (shortest round-trip repr, so the threshold compares exactly)."""
    lines = ["entity,window_start,score"]
    ts = p["window_start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for e, t, s in zip(p["entity"], ts, p["score"]):
        lines.append(f"{e},{t},{float(s)!r}")
    Path(path).write_text("\n".join(lines) + "\n")


def score_cmd(opsdata: str, version_dir: Path, preds: Path, threshold: float) -> list[str]:
    # urfave/cli reads flags before the arguments only.
    return [opsdata, "score", "--split", TEST_SPLIT, "--threshold", repr(threshold), "--json",
            str(version_dir), str(preds)]


def run(version_dir: Path, out_dir: Path, opsdata: str = "opsdata") -> dict:
    """Run every baseline on version_dir, write its predictions into out_dir
    and score them with `opsdata score` on the test split. Returns the
    results document (the format of datasets/demo-baselines.json)."""
    version_dir, out_dir = Path(version_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w, features = load_windows(version_dir)
    results = []
    for make in BASELINES:
        b = make(w, features)
        preds = out_dir / f"{b.name}.csv"
        write_predictions(b.predictions, preds)
        cmd = score_cmd(opsdata, version_dir, preds, b.threshold)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        results.append({
            "name": b.name,
            "description": b.description,
            "threshold": b.threshold,
            "threshold_chosen_on": TUNE_SPLIT,
            "command": f"opsdata score --split {TEST_SPLIT} --threshold {b.threshold!r} VERSION {b.name}.csv",
            "report": json.loads(proc.stdout),
        })
    manifest = json.loads((version_dir / "manifest.json").read_text())
    return {
        "format": RESULTS_FORMAT,
        "dataset": manifest["dataset"],
        "computed_on": manifest["version"],
        "windows_digest": windows_digest(version_dir),
        "split": TEST_SPLIT,
        "generator": "notebooks/baselines.py (scripts/baselines.sh)",
        "baselines": results,
    }


def card_row(b: dict) -> str:
    """A baseline's row of the card's Baselines table, formatted from its
    results entry exactly as pipeline/publish.BaselineRow renders it (ratios
    to 3 decimals, minutes to 1, "-" for none)."""
    r = b["report"]

    def minutes(v):
        return "-" if v is None else f"{v:.1f}"

    ev, n = r["event_recall"], r["events"]
    return (f"| `{b['name']}` | {b['threshold']:.4g} | {r['point']['precision']:.3f} | {r['point']['recall']:.3f} | "
            f"{r['point']['f1']:.3f} | {r['point_adjusted']['f1']:.3f} | {ev:.3f} ({int(ev * n + 0.5)} of {n}) | "
            f"{minutes(r['mean_delay_minutes'])} | {r['early_warned_fraction']:.3f} ({r['early_warned']} of {n}) | "
            f"{minutes(r['mean_lead_minutes'])} | {r['false_alarms_per_day']:.1f} |")


def dump(results: dict) -> str:
    """The results file's bytes: sorted keys, two-space indent, newline."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("version_dir", type=Path)
    ap.add_argument("out_dir", type=Path, help="where the predictions CSVs go")
    ap.add_argument("--opsdata", default=os.environ.get("OPSDATA_BIN", "opsdata"), help="the opsdata binary")
    ap.add_argument("--results", type=Path, help="write the results document here (default: stdout)")
    a = ap.parse_args(argv)
    doc = dump(run(a.version_dir, a.out_dir, a.opsdata))
    if a.results:
        a.results.write_text(doc)
    else:
        sys.stdout.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
