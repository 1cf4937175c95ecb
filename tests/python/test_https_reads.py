"""The catalog page's "Hugging Face datasets over HTTPS" snippet works as
written: the demo is exported with a public_url, the output directory is
served over HTTP, and the snippet copied from the page loads every window
of the version with correct UTC timestamps. (Its DuckDB snippet needs the
httpfs extension, which DuckDB downloads at run time: not testable here.)"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    exe = os.environ.get("OPSDATA_BIN") or str(REPO_ROOT / "bin" / "opsdata")
    assert Path(exe).is_file(), f"{exe} missing: run `make build` (or set OPSDATA_BIN)"
    out = tmp_path_factory.mktemp("https-out")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(out)))
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    spec = (REPO_ROOT / "datasets" / "demo.yaml").read_text()
    assert "\noutput: file://./out\n" in spec, "datasets/demo.yaml changed shape; update this test"
    spec = spec.replace("\noutput: file://./out\n", f"\noutput: file://{out}\npublic_url: {url}/\n", 1)
    spec_path = tmp_path_factory.mktemp("https-spec") / "spec.yaml"
    spec_path.write_text(spec)
    # The last day only (the test split): a quick export. Relative paths are the repo root's.
    cmd = [exe, "export", "--spec", str(spec_path), "--from", "2026-01-07", "--to", "2026-01-08"]
    run = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{run.stdout}\n{run.stderr}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield out / "demo-cluster", url
    srv.shutdown()


def snippet(page: str, marker: str) -> str:
    codes = [html.unescape(c) for c in re.findall(r"<pre[^>]*><code[^>]*>(.*?)</code></pre>", page, re.S)]
    found = [c for c in codes if marker in c]
    assert len(found) == 1, f"want one snippet with {marker!r} on the page, found {len(found)}"
    return found[0]


def test_hf_snippet_loads_over_http(served, tmp_path, monkeypatch):
    dataset_dir, url = served
    page = (dataset_dir / "index.html").read_text()
    code = snippet(page, "load_dataset(")
    version = (dataset_dir / "latest").read_text().strip()
    manifest = json.loads((dataset_dir / version / "manifest.json").read_text())
    urls = re.findall(r'"(http://[^"]+)"', code)
    want = [f"{url}/demo-cluster/{version}/{f['path']}" for f in manifest["files"] if f.get("table") == "windows"]
    assert urls == want, code
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # a fresh cache: really fetched
    ns: dict = {}
    exec(code, ns)  # the snippet as a researcher copies it
    windows = ns["windows"]
    assert list(windows.keys()) == ["test"], windows
    t = windows["test"].with_format("arrow")[:]
    assert t.num_rows == manifest["tables"]["windows"]["rows"]
    assert t.schema.field("window_start").type == pa.timestamp("ms", tz="UTC")
    assert set(t.column("split").to_pylist()) <= {"test", "gap"}
