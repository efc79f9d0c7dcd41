"""Measure how robust a chapter's claims are: run it under many random streams and count, per claim, where it held.

    python tools/check_claims.py chapters/13_capstone.ipynb              # committed seeds, this CPU's kernels
    python tools/check_claims.py --seeds 10,11,12 --all                  # one other seed set, every chapter
    python tools/check_claims.py --seed-sets 10 --kernels all --jobs 2 chapters/05_early_stopping.ipynb

Every ``assert`` of a ``# Claims checked`` cell is reported instead of raised, so one run lists every claim
that does not hold. A *stream* is one way the chapter's random numbers can come out:

* a **seed set** — the chapters' multi-seed experiments use ``reglib.experiment.SEEDS``, which the tool sets
  through ``REGLIB_SEEDS`` (``--seeds 10,11,12`` names one set; ``--seed-sets N`` derives N disjoint sets of
  ``--seed-count`` seeds from ``--seed-base``, none of them the committed ``0, 1, 2``);
* a **kernel setting** — another CPU runs other PyTorch kernels (AVX-512, AVX2, plain), so the same seed gives
  another trajectory; ``ATEN_CPU_CAPABILITY`` in the kernel's environment simulates it (``--kernels
  native,avx2,default``, or ``all``).

With ``--seed-sets`` the committed seeds run once under every kernel setting named, and the N seed sets are
spread over the kernel settings in turn (``--cross`` runs every set under every setting). The runs go side
by side on ``--jobs`` cores (each kernel then trains serially, ``REGLIB_WORKERS=1``, which gives the same
numbers). The table says, per claim (cell and line of its ``assert``), in how many streams it held; a claim
that failed anywhere is restated or dropped (CONTRIBUTING.md). The prose's "here" numbers change with the
stream; the findings must not. Notebooks are not written. Exit status 1 if any claim failed or a cell raised.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reglib.notebooks import cell_error, execute  # noqa: E402

CLAIMS_HEADER = "# Claims checked"
MARK = "CLAIM FAILED:"
PROBE = "CLAIM PROBE:"
KERNELS = ("native", "avx2", "default")  # native: whatever this CPU supports best (no ATEN_CPU_CAPABILITY)


class _ReportAsserts(ast.NodeTransformer):
    """``assert cond, msg`` → ``try: assert cond, msg / except AssertionError as e: print(MARK, [id], cond, e)``.

    ``label`` prefixes each claim's id with the cell (``c12:L4`` is the assert on line 4 of cell 12).
    """

    def __init__(self, source: str, label: str = ""):
        self.source = source
        self.label = label
        self.claims: list[tuple[str, str]] = []  # (id, condition) of every assert, in source order

    def claim_id(self, node) -> str:
        return f"{self.label}L{node.lineno}"

    def visit_Assert(self, node):
        condition = ast.get_source_segment(self.source, node.test) or ast.unparse(node.test)
        claim = self.claim_id(node)
        self.claims.append((claim, condition))
        prefix = f"[{claim}] " if self.label else ""
        report = ast.parse(f"print({MARK!r}, {prefix + condition!r}, '|', str(_claim_error)[:300])").body
        handler = ast.ExceptHandler(type=ast.Name("AssertionError", ast.Load()), name="_claim_error", body=report)
        return ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[])


def soften(source: str, label: str = "") -> str:
    """The claims cell ``source`` with every assert turned into a report line (see :class:`_ReportAsserts`)."""
    tree = _ReportAsserts(source, label).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def claims_of(source: str, label: str = "") -> list[tuple[str, str]]:
    """``(id, condition)`` of every assert in a claims cell's ``source``."""
    transformer = _ReportAsserts(source, label)
    transformer.visit(ast.parse(source))
    return transformer.claims


def claims_cells(nb) -> list[int]:
    """Indices of the notebook's ``# Claims checked`` code cells."""
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.source.lstrip().startswith(CLAIMS_HEADER)]


def probe_source(probes) -> str:
    """Code that prints each expression of ``probes`` (evaluated in the notebook's namespace) as JSON."""
    lines = ["import json as _json, numpy as _np"]
    for expr in probes:
        lines.append(f"try:\n    print({PROBE!r}, _json.dumps([{expr!r}, _np.asarray({expr}, dtype=float).tolist()]))\n"
                     f"except Exception as _probe_error:\n    print({PROBE!r}, _json.dumps([{expr!r}, repr(_probe_error)]))")
    return "\n".join(lines)


def check(path: Path, labels: bool = False, probes=()) -> tuple[list[str], float]:
    """Execute ``path`` with its claims softened; return (failed claims and cell errors, seconds).

    With ``labels`` each failure line carries its claim's id (``[c12:L4]``, see :func:`claims_of`);
    ``probes`` are expressions whose values are printed after the last claims cell (lines ``PROBE [expr, value]``).
    """
    nb = nbformat.read(path, as_version=4)
    cells = claims_cells(nb)
    if not cells:
        return [f"no '{CLAIMS_HEADER}' cell"], 0.0
    for i in cells:
        nb.cells[i].source = soften(nb.cells[i].source, f"c{i}:" if labels else "")
    if probes:
        nb.cells[cells[-1]].source += "\n" + probe_source(probes)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        nbformat.write(nb, copy)
        out, seconds = execute(copy, allow_errors=True, cwd=path.resolve().parent)
    problems = []
    for i, cell in enumerate(out.cells):
        error = cell_error(cell) if cell.cell_type == "code" else None
        if error:
            problems.append(f"cell {i} raised {error[0]}: {error[1][:300]}")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                problems += [line for line in output.get("text", "").splitlines()
                             if line.startswith(MARK) or line.startswith(PROBE)]
    return problems, seconds


# --------------------------------------------------------------------------- streams: seed sets × kernel settings


@dataclass(frozen=True)
class Stream:
    """One way a chapter's randomness can come out: a seed set (``None``: the committed one) and a kernel."""

    seeds: tuple[int, ...] | None
    kernel: str = "native"

    @property
    def name(self) -> str:
        seeds = "committed" if self.seeds is None else ",".join(map(str, self.seeds))
        return f"{seeds}@{self.kernel}"

    def environment(self, workers: int | None = None) -> dict:
        env = dict(os.environ)
        env.pop("ATEN_CPU_CAPABILITY", None)
        env.pop("REGLIB_SEEDS", None)
        if self.kernel != "native":
            env["ATEN_CPU_CAPABILITY"] = self.kernel
        if self.seeds is not None:
            env["REGLIB_SEEDS"] = ",".join(map(str, self.seeds))
        if workers is not None:
            env["REGLIB_WORKERS"] = str(workers)
        return env


def seed_sets(n: int, count: int = 3, base: int = 1000) -> list[tuple[int, ...]]:
    """``n`` disjoint sets of ``count`` consecutive seeds, ``base + 100 k + (0..count-1)`` for k = 0..n-1."""
    if n < 0:
        raise ValueError(f"--seed-sets must be >= 0, got {n}")
    if not 3 <= count <= 100:
        raise ValueError(f"--seed-count must be in [3, 100], got {count}")
    if base < 3:
        raise ValueError(f"--seed-base must be >= 3 (0, 1, 2 are the committed seeds), got {base}")
    return [tuple(base + 100 * k + j for j in range(count)) for k in range(n)]


def plan_streams(kernels, sets, explicit=None, cross: bool = False) -> list[Stream]:
    """The committed seeds under every kernel setting, then each seed set under one setting in turn
    (under every setting with ``cross``). ``explicit`` (one ``--seeds`` set) replaces the committed seeds."""
    kernels = list(kernels)
    first = [Stream(explicit, k) for k in kernels]
    rest = [Stream(s, k) for s in sets for k in kernels] if cross else \
        [Stream(s, kernels[i % len(kernels)]) for i, s in enumerate(sets)]
    return first + rest


@dataclass
class Result:
    """What one stream gave for one notebook."""

    stream: Stream
    failed: dict = field(default_factory=dict)  # claim id -> message
    errors: list = field(default_factory=list)  # cells that raised
    seconds: float = 0.0
    probes: dict = field(default_factory=dict)  # expression -> value (a list for arrays)


def _run_one(path: Path, stream: Stream, workers: int | None, probes=()) -> Result:
    """Check ``path`` in a fresh process with ``stream``'s environment (its kernels inherit it)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path)]
    cmd += [arg for expr in probes for arg in ("--probe", expr)]
    proc = subprocess.run(cmd, env=stream.environment(workers), capture_output=True, text=True, cwd=ROOT)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return Result(stream, errors=[f"the run failed: {(proc.stderr or proc.stdout)[-500:]}"])
    failed = {}
    for line in data["problems"]:
        if line.startswith(MARK):
            rest = line[len(MARK):].strip()
            claim = rest[1:rest.index("]")] if rest.startswith("[") and "]" in rest else f"unlabelled: {line[:120]!r}"
            failed.setdefault(claim, rest.split("|", 1)[-1].strip())
    values = dict(json.loads(line[len(PROBE):]) for line in data["problems"] if line.startswith(PROBE))
    errors = [line for line in data["problems"] if not line.startswith(MARK) and not line.startswith(PROBE)]
    return Result(stream, failed, errors, data["seconds"], values)


def robustness(paths, streams: list[Stream], jobs: int = 1, probes=()) -> dict:
    """Run every notebook of ``paths`` under every stream, ``jobs`` runs at a time; return
    ``{path: (claims, [Result per stream])}``."""
    workers = 1 if jobs > 1 else None
    todo = [(path, stream) for path in paths for stream in streams]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda job: _run_one(job[0], job[1], workers, probes), todo))
    out = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        claims = [claim for i in claims_cells(nb) for claim in claims_of(nb.cells[i].source, f"c{i}:")]
        out[path] = (claims, [r for (p, _), r in zip(todo, done) if p == path])
    return out


def _error_cell(error: str) -> int:
    """The cell index of a ``"cell N raised ..."`` line (-1, i.e. before every cell, for a failed run)."""
    try:
        return int(error.split()[1]) if error.startswith("cell ") else -1
    except (IndexError, ValueError):
        return -1


def held(claim: str, result: Result) -> bool:
    """A claim holds in a stream when it did not fail and no cell up to its own raised (so it was reached)."""
    cell = int(claim[1:claim.index(":")]) if claim.startswith("c") and ":" in claim else 10**9
    return claim not in result.failed and not any(_error_cell(e) <= cell for e in result.errors)


def table(path: Path, claims, results, markdown: bool = False) -> str:
    """Per claim: in how many streams it held, and where it failed."""
    n = len(results)
    lines = [f"{path.name}: {n} stream(s); run times {min(r.seconds for r in results):.0f}–"
             f"{max(r.seconds for r in results):.0f} s" if results else f"{path.name}: no streams"]
    if markdown:
        lines += ["", "| claim | condition | held | failed in |", "|---|---|---|---|"]
    for claim, condition in claims:
        ok = sum(held(claim, r) for r in results)
        where = ", ".join(r.stream.name for r in results if not held(claim, r))
        short = " ".join(condition.split())
        short = short if len(short) <= 70 else short[:67] + "..."
        if markdown:
            lines.append(f"| {claim} | `{short}` | {ok}/{n} | {where} |")
        else:
            lines.append(f"  {'ok  ' if ok == n else 'FAIL'} {ok:>2}/{n}  {claim:<10} {short}"
                         + (f"   <- {where}" if where else ""))
    known = {claim for claim, _ in claims}
    for r in results:
        for error in r.errors:
            lines.append(f"  ERROR in {r.stream.name}: {error[:300]}")
        for claim in r.failed:
            if claim not in known:
                lines.append(f"  FAILED in {r.stream.name}, not matched to a claim: {claim}")
    for expr in (results[0].probes if results else {}):
        lines.append(f"  probe {expr}:")
        for r in results:
            lines.append(f"      {r.stream.name:<24} {r.probes.get(expr)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every chapter notebook")
    parser.add_argument("--seeds", help="one seed set for the multi-seed experiments, e.g. 10,11,12")
    parser.add_argument("--seed-sets", type=int, default=0, help="also run N other seed sets (see --seed-base)")
    parser.add_argument("--seed-count", type=int, default=3, help="seeds per derived set (default 3)")
    parser.add_argument("--seed-base", type=int, default=1000, help="first seed of the derived sets")
    parser.add_argument("--kernels", default="native",
                        help="comma-separated ATEN_CPU_CAPABILITY settings: native, avx2, default, avx512; or all")
    parser.add_argument("--cross", action="store_true", help="every seed set under every kernel setting")
    parser.add_argument("--jobs", type=int, default=1, help="streams run side by side (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--json", type=Path, help="also write every stream's result to this file")
    parser.add_argument("--probe", action="append", default=[],
                        help="an expression to print after the claims in every stream (repeatable), to see "
                             "how a claimed effect is distributed before setting its margin")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: one run, JSON on stdout
    args = parser.parse_args(argv)
    if args.one:
        problems, seconds = check(args.one, labels=True, probes=args.probe)
        print(json.dumps({"problems": problems, "seconds": seconds}))
        return 0
    explicit = None
    if args.seeds:
        os.environ["REGLIB_SEEDS"] = args.seeds
        from reglib.experiment import _seeds_from_environment
        explicit = _seeds_from_environment()  # a bad value stops here, with its message, not in every kernel
    kernels = list(KERNELS) if args.kernels == "all" else [k.strip() for k in args.kernels.split(",") if k.strip()]
    bad = [k for k in kernels if k not in KERNELS + ("avx512",)]
    if bad or not kernels:
        parser.error(f"--kernels must name some of native, avx2, default, avx512 (or 'all'), got {args.kernels!r}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    try:
        sets = seed_sets(args.seed_sets, args.seed_count, args.seed_base)
    except ValueError as error:
        parser.error(str(error))
    paths = sorted(ROOT.glob("chapters/*.ipynb")) if args.all else args.paths
    if not paths:
        parser.error("name notebooks or use --all")
    streams = plan_streams(kernels, sets, explicit, args.cross)
    report, failed = {}, 0
    for path, (claims, results) in robustness(paths, streams, args.jobs, args.probe).items():
        known = {c for c, _ in claims}
        failed += any(not held(c, r) for c, _ in claims for r in results) or not claims \
            or any(c not in known for r in results for c in r.failed)
        print(table(path, claims, results, args.markdown) if claims else f"{path.name}: no '{CLAIMS_HEADER}' cell")
        report[str(path)] = {"claims": claims, "streams": [
            {"stream": r.stream.name, "failed": r.failed, "errors": r.errors, "seconds": r.seconds,
             "probes": r.probes} for r in results]}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
