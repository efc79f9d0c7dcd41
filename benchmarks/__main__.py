"""``python -m benchmarks [substring]``: time every case (or those whose name contains the substring)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import torch

from .harness import format_table, time_case


def collect_cases():
    cases = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("bench_"):
            cases += importlib.import_module(f"benchmarks.{info.name}").CASES
    return cases


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pattern = argv[0] if argv else ""
    torch.set_num_threads(torch.get_num_threads())
    rows = [time_case(c) for c in collect_cases() if pattern in c.name]
    print(f"forward+backward, CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          "ratio = reglib / PyTorch (median of 30 interleaved runs)\n")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
