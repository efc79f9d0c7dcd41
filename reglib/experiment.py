"""Running an experiment over several seeds and reporting mean ± std."""

from __future__ import annotations

import multiprocessing
import numbers
import os
import pickle
import sys

import numpy as np

from ._validate import check_int

__all__ = ["sweep", "results_table", "over_seeds", "over_values", "stack_results", "parallel_map", "default_workers", "mean_std", "show_source",
           "SEEDS", "seeds"]


def _seeds_from_environment() -> tuple[int, ...]:
    """``(0, 1, 2)``, or the seeds named by the environment variable ``REGLIB_SEEDS`` (e.g. ``"10,11,12"``)."""
    env = os.environ.get("REGLIB_SEEDS", "").strip()
    if not env:
        return (0, 1, 2)
    try:
        seeds = tuple(int(part) for part in env.split(","))
    except ValueError:
        raise ValueError(f"REGLIB_SEEDS must be comma-separated integers such as '10,11,12', got {env!r}") from None
    if len(seeds) < 3 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"REGLIB_SEEDS must name at least 3 distinct integers >= 0, got {env!r}")
    return seeds


#: The seeds every multi-seed experiment in the course uses unless it says otherwise: ``(0, 1, 2)``, or
#: those of ``REGLIB_SEEDS``, read once at import. ``tools/check_claims.py --seeds`` sets it to check that a
#: chapter's claims are not the luck of the committed seeds.
SEEDS = _seeds_from_environment()


def seeds(n: int) -> tuple[int, ...]:
    """``n`` seeds for an experiment whose effect is small next to the seed-to-seed spread: the first ``n`` of
    :data:`SEEDS`, continued with consecutive integers after its last (``(0, 1, 2)`` gives ``seeds(5) == (0, 1,
    2, 3, 4)``; ``REGLIB_SEEDS="1000,1001,1002"`` gives ``(1000, ..., 1004)``), so that other seed sets reach
    these experiments too."""
    n = check_int("n", n, 1)
    extra = tuple(range(SEEDS[-1] + 1, SEEDS[-1] + 1 + max(0, n - len(SEEDS))))
    return (SEEDS + extra)[:n]


def over_seeds(run, seeds=SEEDS, *, parallel: bool = False) -> dict:
    """Call ``run(seed) -> dict of numbers`` for each seed; return ``{key: np.array over seeds}``.

    With ``parallel=True`` the seeds run side by side in worker processes (:func:`parallel_map`); the
    numbers are the same, but ``run`` must not rely on side effects (appending to a list, say), which
    stay in the workers.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must contain at least one seed, got none")
    return stack_results(parallel_map(run, seeds) if parallel else [run(seed) for seed in seeds])


def _is_numeric(value) -> bool:
    return isinstance(value, (numbers.Number, np.ndarray, np.generic)) or type(value).__name__ == "Tensor"


def stack_results(results) -> dict:
    """``{key: np.array over results}`` for a non-empty list of dicts with the same keys (one per run); a key
    whose values are not numbers or arrays (a trained model, a training history) gets a list instead."""
    return {key: _stack([r[key] for r in results]) for key in results[0]}


def _stack(values: list):
    """``np.array(values)`` when they are numbers, arrays or lists of numbers; else the list itself."""
    if all(_is_numeric(v) or isinstance(v, (list, tuple)) for v in values):
        try:
            stacked = np.array(values)
        except ValueError:  # ragged
            return values
        if stacked.dtype != object:
            return stacked
    return values


def sweep(run, values, seeds=SEEDS, *, parallel: bool = True) -> dict:
    """A sweep in one call: ``{value: {key: results over seeds}}`` of ``run(value, seed) -> dict`` for every
    value and seed.

    ``sweep(train, [0.0, 1e-3])[1e-3]["val_acc"]`` is the array of validation accuracies over the seeds;
    entries that are not numbers (a model, a history) come back as lists in seed order, so
    ``[...]["model"][0]`` is the first seed's network. For two knobs, make each value a tuple. The runs go
    side by side on the CPU's cores (:func:`parallel_map`; ``parallel=False`` runs a loop with the same
    numbers), so ``run`` must seed itself and return what it wants kept. Values must be hashable.
    """
    values, seeds = list(values), list(seeds)
    if not values:
        raise ValueError("values must contain at least one value, got none")
    if not seeds:
        raise ValueError("seeds must contain at least one seed, got none")
    if len(set(values)) != len(values):
        raise ValueError(f"values must be distinct, got {values!r}")
    rows = _sweep(run, values, seeds, parallel)
    return {value: stack_results(row) for value, row in zip(values, rows)}


def results_table(results: dict, columns: dict, *, label: str = "value", marks: dict | None = None):
    """A Markdown table with a row per key of ``results`` (``{row label: {key: values over seeds}}``, what
    :func:`sweep` returns) and a column per entry of ``columns``: ``{header: key}`` shows mean ± std as a
    percentage, ``{header: (key, fmt)}`` with the format ``fmt`` (``"{:.2f}"``). ``marks`` adds a note to
    some rows' labels (``{best: " (chosen)"}``). Display it with ``display(...)`` or as a cell's last line."""
    from IPython.display import Markdown

    if not columns:
        raise ValueError("columns must name at least one column, got none")
    marks = marks or {}
    specs = {header: spec if isinstance(spec, tuple) else (spec, "{:.1%}") for header, spec in columns.items()}
    lines = ["| " + " | ".join([label, *specs]) + " |", "|" + "---|" * (len(specs) + 1)]
    for row, values in results.items():
        name = f"{row:g}" if isinstance(row, float) else str(row)
        cells = [mean_std(values[key], fmt) for key, fmt in specs.values()]
        lines.append("| " + " | ".join([name + marks.get(row, ""), *cells]) + " |")
    return Markdown("\n".join(lines))


def over_values(make_run, values, seeds=SEEDS, *, parallel: bool = False) -> dict:
    """``{value: over_seeds(make_run(value), seeds)}`` for each of ``values`` (a sweep of one knob).

    ``make_run(value)`` returns a ``run(seed) -> dict of numbers``. With ``parallel=True`` all
    ``len(values) * len(seeds)`` runs go to one :func:`parallel_map`, so the cores stay busy across values
    as well as seeds; the numbers are the same as in a loop. Values must be hashable (they become keys).
    """
    values, seeds = list(values), list(seeds)
    if not values:
        raise ValueError("values must contain at least one value, got none")
    if not seeds:
        raise ValueError("seeds must contain at least one seed, got none")
    rows = _sweep(lambda value, seed: make_run(value)(seed), values, seeds, parallel)
    return {value: stack_results(row) for value, row in zip(values, rows)}


def _sweep(run, values: list, seeds: list, parallel: bool) -> list:
    """``[[run(value, seed) for seed in seeds] for value in values]``; with ``parallel``, all the calls
    go to one :func:`parallel_map`, so the cores stay busy across values as well as seeds."""
    jobs = [(value, seed) for value in values for seed in seeds]
    outputs = parallel_map(lambda job: run(*job), jobs) if parallel else [run(*job) for job in jobs]
    return [outputs[i * len(seeds):(i + 1) * len(seeds)] for i in range(len(values))]


# --------------------------------------------------------------------------- independent runs in parallel

_TASK = None        # the function a worker process calls; set before the workers are forked
_IN_WORKER = False  # inside a worker, parallel_map runs serially (no processes of processes)
_WARM = False       # whether this process has loaded PyTorch's lazily imported optimizer code


def default_workers() -> int:
    """Worker processes :func:`parallel_map` uses by default: ``REGLIB_WORKERS`` if set, else one per
    CPU core this process may run on. 1 means serial."""
    env = os.environ.get("REGLIB_WORKERS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"REGLIB_WORKERS must be an integer >= 1, got {env!r}") from None
        return check_int("REGLIB_WORKERS", value, 1)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _can_fork() -> bool:
    """Forking is safe for our trainings on Linux, on the CPU, outside a worker: every run seeds itself and
    the kernels run one thread each. On macOS and Windows (no safe fork) and when a GPU is present (a
    forked process cannot use CUDA) runs stay serial."""
    import torch

    return (sys.platform.startswith("linux") and not _IN_WORKER and not torch.cuda.is_available()
            and "fork" in multiprocessing.get_all_start_methods())


def _warm_up() -> None:
    """Take one optimizer step on a throw-away parameter, once per process, before the first fork.

    PyTorch loads parts of itself (about 2 s of imports) lazily at the first optimizer step; done in the
    parent, the forked workers inherit them instead of each paying for them again.
    """
    global _WARM
    if not _WARM:
        import torch

        param = torch.zeros(1, requires_grad=True)
        param.grad = torch.ones(1)
        torch.optim.SGD([param], lr=0.1).step()
        _WARM = True


def _run_task(item) -> bytes:
    global _IN_WORKER
    _IN_WORKER = True
    os.environ["REGLIB_PROGRESS"] = "0"  # no progress bars from the workers
    return pickle.dumps(_TASK(item))  # plain pickle: tensors travel as bytes, not as shared memory


def parallel_map(fn, items, workers: int | None = None) -> list:
    """``[fn(item) for item in items]``, computed by up to ``workers`` processes at once.

    Independent trainings are embarrassingly parallel, and a single small training keeps only one core
    busy (its operations are too small to split), so two cores finish two runs in little more than the
    time of one (two hyper-threads of one core gain less: about 1.4x on the course's test machine). Each
    run must seed itself (every ``fit`` does) so the results are the same as in a loop; results come back
    in the order of ``items``. ``fn`` may be a lambda or a function defined in the
    notebook (workers are forked, so nothing is re-imported), but its return value must pickle, and its
    side effects stay in the worker. Serial when ``workers`` (default :func:`default_workers`) is 1,
    there is one item, or forking is not safe here (see ``_can_fork``).
    """
    global _TASK
    items = list(items)
    workers = default_workers() if workers is None else check_int("workers", workers, 1)
    workers = min(workers, len(items))
    if workers <= 1 or not _can_fork():
        return [fn(item) for item in items]
    _warm_up()
    _TASK = fn
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [pickle.loads(b) for b in pool.map(_run_task, items, chunksize=1)]
    finally:
        _TASK = None


def mean_std(values, fmt: str = "{:.1%}") -> str:
    """``"mean ± std"`` of ``values`` (population std over seeds), each formatted with ``fmt``."""
    values = np.asarray(values, dtype=float)
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std())}"


def _is_check(node) -> bool:
    """Whether a statement only validates arguments: ``check_x(...)``, ``_check_x(...)`` or ``y = check_x(...)``
    (also unpacked, ``a, b = _check_ab(...)``), the calls of ``reglib._validate`` and the modules' own checkers."""
    import ast

    value = node.value if isinstance(node, (ast.Expr, ast.Assign)) else None
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name.startswith(("check_", "_check"))


def _bound_names(stmt, source_lines) -> str | None:
    """For a checking assignment that binds a name other than the one it checks (``eps = check_probability(
    "smoothing", smoothing)``, ``self.p = check_probability("p", p)``), the plain assignment it stands for
    (``eps = smoothing``, ``self.p = p``); None when it only re-binds its own arguments (``p = check_x("p", p)``)."""
    import ast

    if not isinstance(stmt, ast.Assign):
        return None
    call = stmt.value
    labels = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    names = [ast.unparse(arg) for arg in call.args if not isinstance(arg, ast.Constant)]
    targets = [ast.unparse(t) for t in stmt.targets]
    if not names or all(t in (", ".join(names), "(" + ", ".join(names) + ")") for t in targets):
        return None  # re-binds its own arguments: nothing to show
    if not labels:  # an unlabelled helper (w = _check_w0(w0, d)) may compute its result: show it whole
        return "\n".join(source_lines[stmt.lineno - 1:stmt.end_lineno])
    # check_x("name", name, bounds...): the checked value is the argument called `name`
    names = [n for n in names if n == labels[0]] or names[:1]
    line = source_lines[stmt.lineno - 1]
    return f"{line[:len(line) - len(line.lstrip())]}{' = '.join(targets)} = {', '.join(names)}"


def source_without_checks(obj) -> tuple[str, int]:
    """``obj``'s source with its argument-checking statements left out (see :func:`_is_check`), and how many.

    A check that also binds a new name (``self.p = check_probability("p", p)``) is shown as the plain
    assignment it performs (``self.p = p``), so the code that remains still defines every name it uses."""
    import ast
    import inspect
    import textwrap

    source = textwrap.dedent(inspect.getsource(obj))
    lines = source.splitlines()
    checks = [stmt for node in ast.walk(ast.parse(source)) for field in ("body", "orelse", "finalbody")
              if isinstance(getattr(node, field, None), list)
              for stmt in getattr(node, field) if isinstance(stmt, ast.stmt) and _is_check(stmt)]
    replace = {stmt.lineno: _bound_names(stmt, lines) for stmt in checks}
    drop = {line for stmt in checks for line in range(stmt.lineno, stmt.end_lineno + 1)}
    kept = [replace[i] if replace.get(i) else line for i, line in enumerate(lines, start=1)
            if i not in drop or replace.get(i)]
    return "\n".join(kept) + "\n", len(checks)


def show_source(obj, checks: bool = False) -> None:
    """Display the source code of a reglib function or class with syntax highlighting.

    Chapters show the implementation they use instead of re-typing it. The statements that only check the
    arguments (``p = check_probability("p", p)``, ...) are left out, with a note saying how many, so that the
    lines that carry the equation come first; ``checks=True`` shows the source whole.
    """
    import inspect

    from IPython.display import Code, display

    if checks:
        display(Code(inspect.getsource(obj), language="python"))
        return
    source, count = source_without_checks(obj)
    if count:
        source += f"# ({count} argument check{'s' if count > 1 else ''} left out: show_source(..., checks=True) shows them)\n"
    display(Code(source, language="python"))
