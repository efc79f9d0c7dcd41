"""One consistent figure style for the whole course, and the plots that recur."""

from __future__ import annotations

import numpy as np

__all__ = ["use_style", "COLORS", "plot_history", "mean_std_band", "bar_mean_std"]

#: Colour-blind-safe palette (Okabe & Ito 2008), in the order the course uses them.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_style() -> None:
    """Apply the course's matplotlib style (call once at the top of a notebook)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.constrained_layout.use": True,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "lines.linewidth": 1.8,
        "axes.prop_cycle": cycler(color=COLORS),
        "image.cmap": "viridis",
    })


def plot_history(history, axes=None, title=None, x: str = "epoch"):
    """Loss (left) and accuracy (right) against epochs or steps, train solid, validation dashed."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    xs = getattr(history, x)
    ax_loss, ax_acc = axes
    ax_loss.plot(xs, history.train_loss, label="train (batch mean)", color=COLORS[0])
    if history.val_loss:
        ax_loss.plot(xs, history.val_loss, "--", label="validation", color=COLORS[1])
    ax_loss.set(xlabel=x, ylabel="cross-entropy loss", yscale="log")
    if history.train_acc:
        ax_acc.plot(xs, history.train_acc, label="train", color=COLORS[0])
    if history.val_acc:
        ax_acc.plot(xs, history.val_acc, "--", label="validation", color=COLORS[1])
    ax_acc.set(xlabel=x, ylabel="accuracy")
    if history.best_index is not None:
        for ax in axes:
            ax.axvline(xs[history.best_index], color="gray", lw=1, ls=":", label="best (restored)")
    ax_acc.legend()
    ax_loss.legend()
    if title:
        ax_loss.figure.suptitle(title)
    return axes


def mean_std_band(ax, x, values, label=None, color=None, **kwargs):
    """Plot the mean over seeds (rows of ``values``) with a ±1 std band; returns the line."""
    values = np.asarray(values, dtype=float)
    mean, std = values.mean(0), values.std(0)
    (line,) = ax.plot(x, mean, label=label, color=color, **kwargs)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
    return line


def bar_mean_std(ax, labels, values, color=None, fmt="{:.1%}"):
    """Bars of the mean over seeds with ±1 std error bars and the mean written above each error bar."""
    values = [np.asarray(v, dtype=float) for v in values]
    means = [v.mean() for v in values]
    stds = [v.std() for v in values]
    bars = ax.bar(labels, means, yerr=stds, capsize=4, color=color or COLORS[: len(labels)])
    for bar, m, s in zip(bars, means, stds):  # the label sits above the error bar, not on it
        ax.annotate(fmt.format(m), (bar.get_x() + bar.get_width() / 2, m + s), ha="center",
                    va="bottom", xytext=(0, 3), textcoords="offset points", fontsize=9)
    return bars


def heatmap_mean_std(ax, values, xticklabels, yticklabels, fmt="{:.1%}", show_std=True, **imshow_kwargs):
    """A heatmap of the mean over seeds of a grid of results, each cell labelled with its mean (and ±std).

    Chapter 11 draws its learning-rate × λ grids with it.

    Parameters
    ----------
    ax : matplotlib Axes
    values : array, shape (seeds, rows, columns)
        One grid of results per seed; the heatmap shows the mean over axis 0.
    xticklabels, yticklabels : sequence of str
        Labels of the columns and of the rows.
    fmt : str
        Format of the numbers written in the cells (``"{:.1%}"`` for accuracies).
    show_std : bool
        Write ``±std`` (over the seeds) under each mean.
    **imshow_kwargs
        Passed to ``ax.imshow`` (``cmap``, ``vmin``, ``vmax``, ...).

    Returns
    -------
    The ``AxesImage``; a colour bar is added next to ``ax``. Text is white on the darker cells (mean below
    60 % of the colour scale's maximum), black elsewhere.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 3:
        raise ValueError(f"values must have shape (seeds, rows, columns), got {values.shape}")
    mean, std = values.mean(0), values.std(0)
    if len(xticklabels) != mean.shape[1] or len(yticklabels) != mean.shape[0]:
        raise ValueError(f"xticklabels and yticklabels must name the {mean.shape[1]} columns and {mean.shape[0]} rows, "
                         f"got {len(xticklabels)} and {len(yticklabels)}")
    image = ax.imshow(mean, aspect="auto", **imshow_kwargs)
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            text = fmt.format(mean[i, j]) + (f"\n±{fmt.format(std[i, j])}" if show_std else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if mean[i, j] < image.norm.vmax * 0.6 else "k")
    ax.set_xticks(range(mean.shape[1]), list(xticklabels))
    ax.set_yticks(range(mean.shape[0]), list(yticklabels))
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    return image


def sweep_bands(ax, results, keys, xs=None, *, markers="os^v", color=None, **axes_settings):
    """A sweep's results as mean ± std bands against the swept values (chapter 06 draws its rate sweeps with it).

    Parameters
    ----------
    ax : matplotlib Axes
    results : dict
        ``{value: {key: values over seeds}}``, what :func:`reglib.experiment.sweep` returns; one point per value,
        in the dict's order.
    keys : dict
        ``{legend label: key}``: one band per entry.
    xs : sequence of float, optional
        The x position of each value (default: the values themselves, which must then be numbers).
    markers : str
        Markers of the bands, in turn.
    color : optional
        One colour for every band (default: the style's cycle).
    **axes_settings
        Passed to ``ax.set`` (``xlabel``, ``ylabel``, ``title``, ...).

    Returns
    -------
    ``ax``, with a legend.
    """
    if not keys:
        raise ValueError("keys must name at least one {label: key} band, got none")
    xs = list(results) if xs is None else list(xs)
    if len(xs) != len(results):
        raise ValueError(f"xs must give one position per value of results ({len(results)}), got {len(xs)}")
    for i, (label, key) in enumerate(keys.items()):
        values = np.stack([np.asarray(r[key], dtype=float) for r in results.values()], axis=1)
        mean_std_band(ax, xs, values, label=label, color=color, marker=markers[i % len(markers)])
    ax.set(**axes_settings)
    ax.legend()
    return ax


def smoothed_bands(ax, curves, window: int = 10, **kwargs):
    """Per-step curves (one row per seed, e.g. every training batch's loss) as a ±1 std band around their mean,
    after a moving average over ``window`` steps (chapter 07 draws its training curves with it).

    The point for steps ``t - window + 1 ... t`` is drawn at ``x = t`` (steps counted from 1), so the first point
    sits at ``window``. ``kwargs`` go to :func:`mean_std_band` (``label``, ``color``, ``ls``, ...). Returns the line.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    if not isinstance(window, (int, np.integer)) or not 1 <= window <= curves.shape[1]:
        raise ValueError(f"window must be an integer in [1, {curves.shape[1]}] (the curves' length), got {window!r}")
    kernel = np.ones(window) / window
    smoothed = np.stack([np.convolve(c, kernel, mode="valid") for c in curves])
    return mean_std_band(ax, np.arange(smoothed.shape[1]) + window, smoothed, **kwargs)


def grouped_bars(ax, results, keys, xticklabels=None, *, width: float = 0.76, **axes_settings):
    """Bars of the mean over seeds with ±1 std error bars, grouped: one group per row of ``results``
    (``{row: {key: values over seeds}}``, what :func:`reglib.experiment.sweep` returns), one bar per entry of
    ``keys`` (``{legend label: key}``) in each group, in the course's colours (chapter 07 §6).

    ``xticklabels`` names the groups (default: the rows); ``axes_settings`` go to ``ax.set``. Returns ``ax``,
    with a legend.
    """
    if not keys:
        raise ValueError("keys must name at least one {label: key} bar, got none")
    rows = list(results)
    labels = [str(r) for r in rows] if xticklabels is None else list(xticklabels)
    if len(labels) != len(rows):
        raise ValueError(f"xticklabels must name the {len(rows)} rows of results, got {len(labels)}")
    bar = width / len(keys)
    xs = np.arange(len(rows))
    for k, (label, key) in enumerate(keys.items()):
        values = [np.asarray(results[r][key], dtype=float) for r in rows]
        ax.bar(xs + (k - (len(keys) - 1) / 2) * bar, [v.mean() for v in values], bar, yerr=[v.std() for v in values],
               capsize=3, label=label, color=COLORS[k % len(COLORS)])
    ax.set_xticks(xs, labels)
    ax.set(**axes_settings)
    ax.legend()
    return ax


def plot_sweep(ax, results, keys, reference=None, name="λ", colors=None, marker="o", log=True):
    """:func:`sweep_bands` with one swept value set apart as a reference: every other value's mean ± std over seeds
    as a band, and the reference (e.g. λ = 0, which a logarithmic axis cannot show) as a dashed horizontal line at
    its mean in the band's colour (chapter 01's λ sweeps).

    Parameters
    ----------
    ax : matplotlib Axes
    results : dict
        ``{value: {key: values over seeds}}``, what :func:`reglib.experiment.sweep` returns; the x axis shows every
        value but ``reference``, in this order.
    keys : dict
        ``{key: label}``: one band per measurement, in ``colors`` in turn (default :data:`COLORS`).
    reference : optional
        A key of ``results``. Its line is labelled ``"{label}, {name} = {reference:g}"`` and the bands
        ``"{label}, {name} > {reference:g}"`` (the swept values lie above it, as λ > 0 above λ = 0);
        without a reference the bands carry the labels alone.
    marker : str
        The bands' marker.
    log : bool
        Logarithmic x axis, labelled ``"{name} (log scale)"`` (else ``name``).

    Returns
    -------
    list of the bands' lines.
    """
    if not keys:
        raise ValueError("keys must name at least one measurement, got none")
    if reference is not None and reference not in results:
        raise ValueError(f"reference must be a key of results, got {reference!r}")
    swept = {value: r for value, r in results.items() if value != reference}
    if not swept:
        raise ValueError("results must hold at least one value besides the reference")
    lines = []
    for color, (key, label) in zip(colors or COLORS, keys.items()):
        sweep_bands(ax, swept, {label if reference is None else f"{label}, {name} > {reference:g}": key},
                    markers=marker, color=color)
        lines.append(ax.get_lines()[-1])
        if reference is not None:
            ax.axhline(np.mean(results[reference][key]), color=lines[-1].get_color(), ls="--", lw=1,
                       label=f"{label}, {name} = {reference:g}")
    ax.set(xscale="log" if log else "linear", xlabel=f"{name} (log scale)" if log else name)
    return lines
