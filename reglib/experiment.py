"""Running an experiment over several seeds and reporting mean ± std."""

from __future__ import annotations

import numpy as np

__all__ = ["over_seeds", "mean_std", "show_source", "SEEDS"]

#: The seeds every multi-seed experiment in the course uses unless it says otherwise.
SEEDS = (0, 1, 2)


def over_seeds(run, seeds=SEEDS) -> dict:
    """Call ``run(seed) -> dict of numbers`` for each seed; return ``{key: np.array over seeds}``."""
    results = [run(seed) for seed in seeds]
    if not results:
        raise ValueError("seeds must contain at least one seed, got none")
    return {key: np.array([r[key] for r in results]) for key in results[0]}


def mean_std(values, fmt: str = "{:.1%}") -> str:
    """``"mean ± std"`` of ``values`` (population std over seeds), each formatted with ``fmt``."""
    values = np.asarray(values, dtype=float)
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std())}"


def show_source(obj) -> None:
    """Display the source code of a reglib function or class with syntax highlighting.

    Chapters show the implementation they use instead of re-typing it.
    """
    import inspect

    from IPython.display import Code, display

    display(Code(inspect.getsource(obj), language="python"))
