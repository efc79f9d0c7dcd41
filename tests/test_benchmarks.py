"""The benchmark harness works, and every registered case runs and gives outputs of matching shape."""

import torch

from benchmarks.__main__ import collect_cases
from benchmarks.harness import Case, format_table, time_case


def test_harness_times_and_formats():
    case = Case("relu (64, 64)", lambda: (torch.randn(64, 64, requires_grad=True),),
                lambda x: torch.relu(x), lambda x: torch.nn.functional.relu(x), note="identical ops")
    row = time_case(case, repeats=3, warmup=1)
    assert row["reglib_ms"] > 0 and row["torch_ms"] > 0 and row["ratio"] > 0
    table = format_table([row])
    assert "relu (64, 64)" in table and "identical ops" in table


def test_cases_run_and_match_shapes():
    cases = collect_cases()
    assert cases, "no benchmark cases registered"
    for case in cases:
        torch.manual_seed(0)
        inputs = case.make_inputs()
        torch.manual_seed(1)
        ours = case.reglib_fn(*inputs)
        torch.manual_seed(1)
        theirs = case.torch_fn(*inputs)
        if isinstance(ours, torch.Tensor) and not case.extra.get("random", False):
            assert ours.shape == theirs.shape, case.name
