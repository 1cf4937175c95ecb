"""Executes the notebooks against a dataset version and writes rendered
copies: `make notebooks` (OPSDATA_VERSION_DIR names the version, OPSDATA_BIN
the binary notebook 05 scores with).

    python scripts/render_notebooks.py notebooks notebooks/rendered

For each notebooks/NN-*.ipynb, writes rendered/NN-*.ipynb, the executed
notebook with its outputs (committed: GitHub shows it), and rendered/NN-*.html,
the same as a page (plots embedded as PNG; not committed, ~300 KB of it is the
template's CSS), for readers who do not run them. Deterministic for the same version and package versions: no execution
timings are recorded and the kernel's own metadata is dropped. Fails when a
notebook raises or a rendered copy exceeds MAX_BYTES.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

MAX_BYTES = 1_000_000


def execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False, coalesce_streams=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    # The kernel writes its Python version here; the source notebook's is enough.
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def render(nb: nbformat.NotebookNode, title: str) -> str:
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    exporter.exclude_input_prompt = False
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    if not os.environ.get("OPSDATA_VERSION_DIR"):
        print("render_notebooks.py: set OPSDATA_VERSION_DIR to a version directory (make notebooks does)", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLBACKEND", "Agg")
    dst.mkdir(parents=True, exist_ok=True)
    failed = False
    for path in sorted(src.glob("[0-9][0-9]-*.ipynb")):
        nb = execute(path)
        nbformat.write(nb, dst / path.name)
        (dst / (path.stem + ".html")).write_text(render(nb, path.stem), encoding="utf-8")
        for out in (dst / path.name, dst / (path.stem + ".html")):
            size = out.stat().st_size
            print(f"{out}: {size} bytes")
            if size > MAX_BYTES:
                print(f"render_notebooks.py: {out} is {size} bytes, over {MAX_BYTES}: shrink its plots (dpi, figsize)", file=sys.stderr)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
