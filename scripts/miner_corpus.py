#!/usr/bin/env python3
"""Builds the miner's evaluation corpora under pipeline/logtemplates/testdata/corpus/.

Each corpus is <name>/content.log (one message per line: what a miner sees,
headers stripped) and <name>/truth.csv (line,event,template): the ground
truth, derived from the emitting statements, never from a miner:

  dpkg          /var/log/dpkg.log: dpkg's log lines come from a handful of
                call sites (src/main: log_message("startup archives %s"),
                "startup packages %s", "status %s %s %s", log_action("install"
                | "upgrade" | "configure" | "trigproc" | "disappear" |
                "remove" | "purge", ...) = "<action> %s %s %s", "conffile %s %s").
  apt-term      /var/log/apt/term.log: the console output of apt and dpkg
                runs, lines of the statements below only (dpkg's gettext
                strings "Selecting previously unselected package %s.",
                "Preparing to unpack %s ...", "Unpacking %s (%s) ...",
                "Unpacking %s (%s) over (%s) ...", "Setting up %s (%s) ...",
                "Processing triggers for %s (%s) ..."; apt's "Log started: %s";
                update-alternatives, invoke-rc.d, debconf, systemctl and
                update-ca-certificates messages); maintainer scripts' free
                output and dpkg's "(Reading database ..." progress are left out.
  prometheus    Prometheus 2.42 (Debian), --log.level=debug, go-kit logfmt.
  alertmanager  Alertmanager 0.25 (Debian), the same.
                A go-kit statement is one caller=file:line with a constant
                msg; the event is caller + msg, the template keeps level,
                component and msg and makes every other value <*>. The
                content is the line without ts= and caller=.
  demo          the demo simulator's logs (go run ./cmd/opsdata demo), the
                event from the format-string regexps of demo_test.go.

Usage: scripts/miner_corpus.py --dpkg F --apt-term F --prometheus F --alertmanager F[,F] --demo DIR
"""
import argparse
import csv
import glob
import json
import os
import re
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "pipeline", "logtemplates", "testdata", "corpus")
MAX = 1000


def write(name, rows):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "content.log"), "w") as f:
        for content, _, _ in rows:
            f.write(content + "\n")
    with open(os.path.join(d, "truth.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["line", "event", "template"])
        for i, (_, ev, tpl) in enumerate(rows, 1):
            w.writerow([i, ev, tpl])
    print(f"{name}: {len(rows)} lines, {len(set(r[1] for r in rows))} events", file=sys.stderr)


DPKG = [
    (re.compile(r"^startup (archives|packages) (\S+)$"), lambda m: f"startup {m[1]} <*>"),
    (re.compile(r"^status \S+ \S+ \S+$"), lambda m: "status <*> <*> <*>"),
    (re.compile(r"^(install|upgrade|configure|trigproc|disappear|remove|purge) \S+ \S+ \S+$"), lambda m: f"{m[1]} <*> <*> <*>"),
    (re.compile(r"^conffile \S+ \S+$"), lambda m: "conffile <*> <*>"),
]


def dpkg(path):
    rows = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line):
            continue
        content = line[20:]
        for rx, tpl in DPKG:
            m = rx.match(content)
            if m:
                t = tpl(m)
                rows.append((content, t, t))
                break
        else:
            sys.exit(f"dpkg: no statement for {content!r}")
    return rows[:MAX]


S = r"\S+"
APT_TERM = [(re.compile("^" + rx + "$"), tpl) for rx, tpl in [
    (r"Selecting previously unselected package \S+\.", "Selecting previously unselected package <*>."),
    (r"Preparing to unpack \S+ \.\.\.", "Preparing to unpack <*> ..."),
    (r"Unpacking \S+ \(\S+\) over \(\S+\) \.\.\.", "Unpacking <*> (<*>) over (<*>) ..."),
    (r"Unpacking \S+ \(\S+\) \.\.\.", "Unpacking <*> (<*>) ..."),
    (r"Setting up \S+ \(\S+\) \.\.\.", "Setting up <*> (<*>) ..."),
    (r"Processing triggers for \S+ \(\S+\) \.\.\.", "Processing triggers for <*> (<*>) ..."),
    (r"Log started: .+", "Log started: <*>"),
    (r"Log ended: .+", "Log ended: <*>"),
    (r"update-alternatives: using \S+ to provide \S+ \(\S+\) in auto mode", "update-alternatives: using <*> to provide <*> (<*>) in auto mode"),
    (r"invoke-rc\.d: could not determine current runlevel", "invoke-rc.d: could not determine current runlevel"),
    (r"invoke-rc\.d: policy-rc\.d denied execution of \S+\.", "invoke-rc.d: policy-rc.d denied execution of <*>."),
    (r"debconf: unable to initialize frontend: \S+", "debconf: unable to initialize frontend: <*>"),
    (r"debconf: falling back to frontend: \S+", "debconf: falling back to frontend: <*>"),
    (r"debconf: \(This frontend requires a controlling tty\.\)", "debconf: (This frontend requires a controlling tty.)"),
    (r"debconf: \(TERM is not set, so the dialog frontend is not usable\.\)", "debconf: (TERM is not set, so the dialog frontend is not usable.)"),
    (r"Adding debian:\S+", "Adding debian:<*>"),
    (r"Updating certificates in /etc/ssl/certs\.\.\.", "Updating certificates in /etc/ssl/certs..."),
    (r"\d+ added, \d+ removed; done\.", "<*> added, <*> removed; done."),
    (r"done\.", "done."),
    (r"Created symlink \S+ → \S+\.", "Created symlink <*> → <*>."),
]]


def apt_term(path):
    rows = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n").strip()
        for rx, tpl in APT_TERM:
            if rx.match(line):
                rows.append((line, tpl, tpl))
                break
    return rows[:MAX]


# logfmt pairs: key=value, value bare or "quoted with \" escapes".
PAIR = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def gokit(paths):
    rows = []
    for path in paths:
        for line in open(path, errors="replace"):
            line = line.rstrip("\n")
            pairs = []
            pos = 0
            while pos < len(line):
                m = PAIR.match(line, pos)
                if not m:
                    sys.exit(f"{path}: not logfmt at {pos}: {line!r}")
                pairs.append((m[1], m[2], m.start(), m.end()))
                pos = m.end()
                while pos < len(line) and line[pos] == " ":
                    pos += 1
            kv = {k: v for k, v, _, _ in pairs}
            if "ts" not in kv or "caller" not in kv:
                continue
            content = " ".join(line[s:e] for k, _, s, e in pairs if k not in ("ts", "caller"))
            tpl = " ".join(f"{k}={v}" if k in ("level", "msg", "component") else f"{k}=<*>"
                           for k, v, _, _ in pairs if k not in ("ts", "caller"))
            ev = kv["caller"] + "|" + kv.get("msg", "")
            rows.append((content, ev, tpl))
    return rows[:MAX]


def demo_regexps():
    src = open(os.path.join(os.path.dirname(__file__), "..", "pipeline", "logtemplates", "demo_test.go")).read()
    out = []
    for name, rx in re.findall(r'\{"(\w+)", `([^`]*)`\}', src):
        out.append((name, rx, re.compile(rx)))
    return out


def regexp_template(rx, m):
    """The template text of a demo regexp: literal tokens kept, tokens with a
    pattern become <*>, captured alternatives take the line's value."""
    groups = iter(m.groups())
    toks = []
    for tok in rx.strip("^$").split(" "):
        if re.fullmatch(r"\([^?][^)]*\)", tok):
            toks.append(next(groups))
            continue
        lit = re.sub(r"\\([().])", r"\1", tok)
        toks.append("<*>" if re.search(r"\\[Sd]|\[|\+|\*|\(\?:", lit) else lit)
    return " ".join(toks)


DEMO_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [A-Z]+ \[[a-z0-9-]+\] (.*)$")


def demo(d):
    regs = demo_regexps()
    msgs = []
    for f in sorted(glob.glob(os.path.join(d, "*"))):
        for line in open(f, errors="replace"):
            line = line.rstrip("\n")
            if f.endswith(".jsonl"):
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if not v.get("ts") or "msg" not in v:
                    continue
                msgs.append(v["msg"])
            else:
                m = DEMO_TEXT.match(line)
                if m and not line.startswith(("2026-13", "2026-00")):
                    msgs.append(m[1])
    rows = []
    for msg in msgs:
        hits = [(n, rx, m) for n, rx, r in regs for m in [r.match(msg)] if m]
        if len(hits) != 1:
            sys.exit(f"demo: {msg!r} matches {len(hits)} statements")
        n, rx, m = hits[0]
        rows.append((msg, n + "".join(" " + g for g in m.groups()), regexp_template(rx, m)))
    # Keep every line of a rare event and an even sample of the rest.
    count = {}
    for _, ev, _ in rows:
        count[ev] = count.get(ev, 0) + 1
    rare = sum(c for c in count.values() if c <= 20)
    stride = max(1, (len(rows) - rare) // (MAX - rare))
    out, k = [], 0
    for r in rows:
        if count[r[1]] <= 20:
            out.append(r)
        else:
            if k % stride == 0:
                out.append(r)
            k += 1
    return out[:MAX]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpkg")
    ap.add_argument("--apt-term")
    ap.add_argument("--prometheus")
    ap.add_argument("--alertmanager")
    ap.add_argument("--demo")
    a = ap.parse_args()
    if a.dpkg:
        write("dpkg", dpkg(a.dpkg))
    if a.apt_term:
        write("apt-term", apt_term(a.apt_term))
    if a.prometheus:
        write("prometheus", gokit(a.prometheus.split(",")))
    if a.alertmanager:
        write("alertmanager", gokit(a.alertmanager.split(",")))
    if a.demo:
        write("demo", demo(a.demo))


if __name__ == "__main__":
    main()
