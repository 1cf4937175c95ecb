#!/usr/bin/env python3
"""Drain3 baseline for the miner benchmark (pip drain3, benchmark venv only).

Reads one message per line from FILE (or stdin), mines it with Drain3's
TemplateMiner with the given settings, and prints one line per input line:
<cluster id> TAB <final template of that cluster>. --masks drain3 applies
the masking instructions of Drain3's examples/drain3.ini (masks become <*>,
Drain3's parameter token); --masks hdfs the two HDFS regexps of logparser's
benchmark settings; --masks none masks nothing. --quiet prints only
the timing on stderr (for the speed rows). --log-format parses each line's
header as logparser does and mines its <Content>.

  /tmp/benchvenv/bin/python scripts/drain3_baseline.py --depth 4 --sim 0.4 --max-children 100 FILE
"""
import argparse
import re
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

# Drain3's examples/drain3.ini masks (ID, IP, SEQ, SEQ, HEX, NUM), each to <*>.
DRAIN3_MASKS = [
    r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)",
]


# The HDFS masks of Loghub/logparser's benchmark settings.
HDFS_MASKS = [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"]


def logformat_regex(fmt):
    """logparser's generate_logformat_regex: the text between <Field>s is a
    regexp, spaces match runs of white space."""
    parts = re.split(r"(<[^<>]+>)", fmt)
    rx = ""
    for k, p in enumerate(parts):
        if k % 2 == 0:
            rx += re.sub(" +", r"\\s+", p)
        else:
            rx += "(?P<%s>.*?)" % p.strip("<>")
    return re.compile("^" + rx + "$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--sim", type=float, default=0.4)
    ap.add_argument("--max-children", type=int, default=100)
    ap.add_argument("--masks", choices=["none", "drain3", "hdfs"], default="drain3")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--log-format", help="a logparser log_format: mine its <Content> (lines that do not match are skipped)")
    ap.add_argument("file", nargs="?", default="-")
    a = ap.parse_args()
    cfg = TemplateMinerConfig()
    cfg.drain_depth = a.depth
    cfg.drain_sim_th = a.sim
    cfg.drain_max_children = a.max_children
    cfg.profiling_enabled = False
    cfg.mask_prefix, cfg.mask_suffix = "<", ">"
    masks = {"none": [], "drain3": DRAIN3_MASKS, "hdfs": HDFS_MASKS}[a.masks]
    cfg.masking_instructions = [MaskingInstruction(p, "*") for p in masks]
    tm = TemplateMiner(config=cfg)
    f = sys.stdin if a.file == "-" else open(a.file, errors="replace")
    ids = []
    head = logformat_regex(a.log_format) if a.log_format else None
    t0 = time.perf_counter()
    for line in f:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if head:
            m = head.match(line)
            if not m:
                continue
            line = m.group("Content")
        ids.append(tm.add_log_message(line)["cluster_id"])
    dt = time.perf_counter() - t0
    print(f"drain3: {len(ids)} lines in {dt:.2f}s: {len(ids) / dt:.0f} lines/s, {len(tm.drain.clusters)} clusters", file=sys.stderr)
    if a.quiet:
        return
    out = sys.stdout
    tpl = {c.cluster_id: c.get_template() for c in tm.drain.clusters}
    for cid in ids:
        out.write(f"{cid}\t{tpl[cid]}\n")


if __name__ == "__main__":
    main()
