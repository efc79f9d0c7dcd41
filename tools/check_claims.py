"""Execute notebooks with each assert of their '# Claims checked' cell reported instead of raised.

    python tools/check_claims.py chapters/13_capstone.ipynb
    python tools/check_claims.py --seeds 10,11,12 --all

One run lists every claim that does not hold (its condition, and the assert's message) instead of
stopping at the first. With ``--seeds`` the chapters' multi-seed experiments use those seeds instead of
(0, 1, 2) (through ``REGLIB_SEEDS``, see ``reglib.experiment.SEEDS``): a check that a claim's margin covers
other draws and is not the luck of the committed seeds. The prose's "here" numbers then no longer match,
but every claim should still hold. Notebooks are not written. Exit status 1 if a claim fails or a cell
raises.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reglib.notebooks import cell_error, execute  # noqa: E402

CLAIMS_HEADER = "# Claims checked"
MARK = "CLAIM FAILED:"


class _ReportAsserts(ast.NodeTransformer):
    """``assert cond, msg`` → ``try: assert cond, msg / except AssertionError as e: print(MARK, cond, e)``."""

    def __init__(self, source: str):
        self.source = source

    def visit_Assert(self, node):
        condition = ast.get_source_segment(self.source, node.test) or ast.unparse(node.test)
        report = ast.parse(f"print({MARK!r}, {condition!r}, '|', str(_claim_error)[:300])").body
        handler = ast.ExceptHandler(type=ast.Name("AssertionError", ast.Load()), name="_claim_error", body=report)
        return ast.Try(body=[node], handlers=[handler], orelse=[], finalbody=[])


def soften(source: str) -> str:
    """The claims cell ``source`` with every assert turned into a report line (see :class:`_ReportAsserts`)."""
    tree = _ReportAsserts(source).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def check(path: Path) -> tuple[list[str], float]:
    """Execute ``path`` with its claims softened; return (failed claims and cell errors, seconds)."""
    nb = nbformat.read(path, as_version=4)
    claims = [c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(CLAIMS_HEADER)]
    if not claims:
        return [f"no '{CLAIMS_HEADER}' cell"], 0.0
    for cell in claims:
        cell.source = soften(cell.source)
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
                problems += [line for line in output.get("text", "").splitlines() if line.startswith(MARK)]
    return problems, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every chapter notebook")
    parser.add_argument("--seeds", help="comma-separated seeds for the multi-seed experiments, e.g. 10,11,12")
    args = parser.parse_args(argv)
    if args.seeds:
        os.environ["REGLIB_SEEDS"] = args.seeds  # the kernels inherit it
        from reglib.experiment import _seeds_from_environment
        _seeds_from_environment()  # a bad value stops here, with its message, not in every kernel
    paths = sorted(ROOT.glob("chapters/*.ipynb")) if args.all else args.paths
    if not paths:
        parser.error("name notebooks or use --all")
    failed = 0
    for path in paths:
        problems, seconds = check(path)
        failed += bool(problems)
        print(f"{path.name}: {'all claims hold' if not problems else f'{len(problems)} problem(s)'} ({seconds:.0f} s)")
        for line in problems:
            print("   ", line)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
