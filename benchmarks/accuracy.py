"""Accuracy of the rules on the zoo: per rule, faults detected and healthy runs left quiet, over seeds.

Every fault config (configs/faults/*.yaml) runs over seeds 0-2 and every healthy config
(configs/quickstart.yaml, configs/healthy/*.yaml) over seeds 0-3, each as written (built-in
components) and as its user-code twin (tests/twins.py: the same data and model given through
`target:` files). Each probe is a fresh `python -m trainlint probe CONFIG --seed S --no-plots -q`
process, as a user runs it, one thread each (OMP_NUM_THREADS=1) in a pool of `--jobs` processes;
its report.json is read for the findings.

What counts:
- a fault run *detects* rule X when X is named on the config's first line (`# expect: TLnnn`) and
  X fired at warning or error; a fault run is detected when all its expected codes fired;
- a healthy run is *quiet* for X when X raised no warning or error (info is allowed);
- a config whose line 2 reads `# family: NAME` also counts toward NAME's detection row;
- time to a verdict: from launching the probe process to report.json being written (its mtime),
  start-up included; the median over runs.

Twins exist only for configs with a built-in dataset or model (the others are user code already:
their twin column counts them as "n/a" and leaves them out of its totals).

    python benchmarks/accuracy.py                         # everything, 2 processes, a while
    python benchmarks/accuracy.py --only tl502 --seeds 0  # some configs, one seed
    python benchmarks/accuracy.py --write benchmarks/accuracy.md
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/twins.py generates the twins

FAULT_SEEDS, HEALTHY_SEEDS = (0, 1, 2), (0, 1, 2, 3)
LOUD = ("warning", "error")


@dataclass(frozen=True)
class Job:
    """One probe to run: a zoo config at a seed, as written or as its user-code twin."""

    config: str  # relative to the repository
    seed: int
    twin: bool
    fault: bool


@dataclass
class Outcome:
    """What one probe said: its loud findings (code → severity), or why it gave no report."""

    job: Job
    loud: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None  # no report: exit status and the tail of the output


def expected_codes(path: Path) -> list[str]:
    """The codes a fault config names on its first line (`# expect: TL204`)."""
    match = re.match(r"#\s*expect:\s*(.+)", path.read_text().splitlines()[0])
    return re.findall(r"TL\d{3}", match.group(1)) if match else []


def family(path: Path) -> str | None:
    """The fault family a config declares on its second line (`# family: lr-too-low`), if any."""
    lines = path.read_text().splitlines()
    match = re.match(r"#\s*family:\s*(\S.*)", lines[1]) if len(lines) > 1 else None
    return match.group(1).strip() if match else None


def run_job(job: Job, scratch: str) -> Outcome:
    """Probe one job in a fresh process (the twin is generated first, in this worker)."""
    from twins import make_twin

    where = Path(tempfile.mkdtemp(dir=scratch))
    config = ROOT / job.config
    try:
        spec = make_twin(config, where, job.seed) if job.twin else config
    except Exception as exc:  # noqa: BLE001 - reported as this job's error
        return Outcome(job, error=f"twin generation failed: {type(exc).__name__}: {exc}")
    out = where / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "trainlint", "probe", str(spec), "--seed", str(job.seed), "--out",
               str(out), "--no-plots", "-q"]
    started = time.time()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = out / "report.json"
    if run.returncode not in (0, 1) or not report.exists():
        last = next((line.strip() for line in reversed((run.stdout + run.stderr).splitlines()) if line.strip()), "")
        return Outcome(job, error=f"exit {run.returncode}: {last[:200]}")
    findings = json.loads(report.read_text())["findings"]
    loud = {f["code"]: f["severity"] for f in findings if f["severity"] in LOUD}
    return Outcome(job, loud=loud, seconds=report.stat().st_mtime - started)


def jobs_for(pattern: str | None, fault_seeds: tuple[int, ...], healthy_seeds: tuple[int, ...],
             twins: bool) -> list[Job]:
    """Every (config, seed, twin?) to run, faults first."""
    from twins import is_twinnable

    faults = sorted((ROOT / "configs" / "faults").glob("*.yaml"))
    healthy = [ROOT / "configs" / "quickstart.yaml", *sorted((ROOT / "configs" / "healthy").glob("*.yaml"))]
    chosen = [(p, True) for p in faults] + [(p, False) for p in healthy]
    if pattern:
        chosen = [(p, f) for p, f in chosen if fnmatch.fnmatch(p.stem, pattern) or pattern in p.stem]
    jobs = []
    for path, is_fault in chosen:
        rel = str(path.relative_to(ROOT))
        variants = (False, True) if twins and is_twinnable(path) else (False,)
        for seed in fault_seeds if is_fault else healthy_seeds:
            jobs.extend(Job(rel, seed, twin, is_fault) for twin in variants)
    return jobs


def _ratio(hits: int, total: int) -> str:
    return f"{hits}/{total}" if total else "n/a"


def _cells(outcomes: list[Outcome], good) -> tuple[str, str]:
    """(built-in, twin) cells `good/total` over the outcomes that ran (errors count as not good)."""
    cells = []
    for twin in (False, True):
        runs = [o for o in outcomes if o.job.twin == twin]
        cells.append(_ratio(sum(1 for o in runs if o.error is None and good(o)), len(runs)))
    return cells[0], cells[1]


def rule_rows(outcomes: list[Outcome], codes: list[str]) -> list[str]:
    """One Markdown row per rule: faults detected / total and healthy quiet / total, built-in and twin."""
    faults = [o for o in outcomes if o.job.fault]
    healthy = [o for o in outcomes if not o.job.fault]
    rows = []
    for code in codes:
        expecting = [o for o in faults if code in expected_codes(ROOT / o.job.config)]
        fb, ft = _cells(expecting, lambda o, c=code: c in o.loud)
        hb, ht = _cells(healthy, lambda o, c=code: c not in o.loud)
        rows.append(f"| {code} | {fb} | {ft} | {hb} | {ht} |")
    fb, ft = _cells(faults, lambda o: all(c in o.loud for c in expected_codes(ROOT / o.job.config)))
    hb, ht = _cells(healthy, lambda o: not o.loud)
    rows.append(f"| **all** | {fb} | {ft} | {hb} | {ht} |")
    return rows


def family_rows(outcomes: list[Outcome]) -> list[str]:
    """Per declared family: fault runs with every expected code fired, built-in and twin."""
    by_family: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.job.fault and (name := family(ROOT / o.job.config)):
            by_family[name].append(o)
    rows = []
    for name, runs in sorted(by_family.items()):
        configs = len({o.job.config for o in runs})
        built, twin = _cells(runs, lambda o: all(c in o.loud for c in expected_codes(ROOT / o.job.config)))
        rows.append(f"| {name} | {configs} | {built} | {twin} |")
    return rows


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s" if values else "–"


def _label(o: Outcome) -> str:
    return f"`{Path(o.job.config).stem}` seed {o.job.seed}{' (twin)' if o.job.twin else ''}"


def problems(outcomes: list[Outcome]) -> tuple[list[str], list[str], list[str]]:
    """(misses, false alarms, errors) as Markdown list items."""
    misses, alarms, errors = [], [], []
    for o in sorted(outcomes, key=lambda o: (o.job.config, o.job.seed, o.job.twin)):
        if o.error is not None:
            errors.append(f"- {_label(o)}: {o.error}")
        elif o.job.fault:
            missing = [c for c in expected_codes(ROOT / o.job.config) if c not in o.loud]
            if missing:
                fired = ", ".join(f"{c} {s}" for c, s in sorted(o.loud.items())) or "nothing loud"
                misses.append(f"- {_label(o)}: missed {', '.join(missing)} (fired: {fired})")
        elif o.loud:
            alarms.append(f"- {_label(o)}: " + ", ".join(f"{c} {s}" for c, s in sorted(o.loud.items())))
    return misses, alarms, errors


def render(outcomes: list[Outcome], codes: list[str], seeds: str) -> str:
    """The Markdown report: rule table, families, time to a verdict, then every miss and false alarm."""
    n_configs = len({o.job.config for o in outcomes})
    lines = [
        "# Rule accuracy on the zoo",
        "",
        f"{n_configs} configs, {len(outcomes)} probes ({seeds}); built-in components and their user-code "
        "twins (`tests/twins.py`). Generated by `python benchmarks/accuracy.py`.",
        "",
        "| rule | faults detected (built-in) | faults detected (twin) | healthy quiet (built-in) "
        "| healthy quiet (twin) |",
        "|---|---|---|---|---|",
        *rule_rows(outcomes, codes),
    ]
    families = family_rows(outcomes)
    if families:
        lines += ["", "| family | configs | detected (built-in) | detected (twin) |", "|---|---|---|---|", *families]
    timed = [o for o in outcomes if o.seconds is not None]
    lines += ["", "Median time to a verdict (process start → report.json written, one thread): "
              f"built-in {_median([o.seconds for o in timed if not o.job.twin])}, "
              f"twin {_median([o.seconds for o in timed if o.job.twin])}."]
    misses, alarms, errors = problems(outcomes)
    for title, items in (("Misses", misses), ("False alarms", alarms), ("Probes without a report", errors)):
        lines += ["", f"## {title} ({len(items)})", "", *(items or ["none"])]
    return "\n".join(lines) + "\n"


def table_codes(outcomes: list[Outcome]) -> list[str]:
    """Rules to tabulate: the whole catalog, plus any code a fault expects or a run raised, in code order."""
    from trainlint.rules.catalog import all_rules

    codes = {rule.code for rule in all_rules()} | {c for o in outcomes for c in o.loud}
    codes |= {c for o in outcomes if o.job.fault for c in expected_codes(ROOT / o.job.config)}
    return sorted(codes)


def _seeds(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """`0,2` or `0-3` → seeds; None keeps the default."""
    if text is None:
        return default
    if "-" in text:
        low, high = text.split("-")
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(s) for s in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="probe processes at a time (default 2)")
    parser.add_argument("--only", help="configs whose name matches this glob or contains this text")
    parser.add_argument("--seeds", help="seeds for every config, e.g. 0,1 or 0-3 "
                                        "(default: 0-2 for faults, 0-3 for healthy configs)")
    parser.add_argument("--no-twins", action="store_true", help="built-in configs only")
    parser.add_argument("--write", type=Path, help="also write the Markdown table to this file")
    parser.add_argument("--raw", type=Path, help="write every probe's outcome as JSON to this file")
    parser.add_argument("--scratch", type=Path, help="where probes write (default: a temporary folder)")
    args = parser.parse_args(argv)
    fault_seeds = _seeds(args.seeds, FAULT_SEEDS)
    healthy_seeds = _seeds(args.seeds, HEALTHY_SEEDS)
    jobs = jobs_for(args.only, fault_seeds, healthy_seeds, not args.no_twins)
    if not jobs:
        print("no config matches", file=sys.stderr)
        return 2
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="trainlint-accuracy-"))
    scratch.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_job, job, str(scratch)) for job in jobs]
        for i, future in enumerate(as_completed(futures), 1):
            outcomes.append(future.result())
            print(f"\r{i}/{len(jobs)} probes", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    seeds = f"seeds {','.join(map(str, fault_seeds))} for faults, {','.join(map(str, healthy_seeds))} for healthy"
    text = render(outcomes, table_codes(outcomes), seeds)
    print(text)
    if args.write:
        args.write.write_text(text)
    if args.raw:
        args.raw.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
