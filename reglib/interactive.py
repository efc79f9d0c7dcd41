"""Interactive explorers: one slider, one figure, for chapters 01, 02 and 09.

Each explorer comes as a pair:

* ``*_figure(...)`` draws the picture for one value of the slider and returns a
  :class:`matplotlib.figure.Figure` (made without pyplot: no kernel, no global state needed). The
  committed notebooks, nbval and the website show this static figure.
* ``*_explorer(...)`` returns an :mod:`ipywidgets` widget: a slider and the same figure, redrawn as
  the slider moves. Creating it needs no kernel; the figure is drawn only inside IPython.

:func:`show` displays the explorer when a live front-end (JupyterLab, Colab, Binder) is attached and
the static figure otherwise; batch execution (``reglib.notebooks.execute``, the test suite) sets
``REGLIB_STATIC_FIGURES=1`` so that the committed outputs carry the figure, not a widget.

============================  ====================================================  =========
explorer                      what moves                                            chapter
============================  ====================================================  =========
``ridge_shrinkage``           α: the factors λᵢ/(λᵢ+α) along the eigen-directions   01, eq. (6)
``lasso``                     α: soft-thresholding of each feature, the lasso path  02, eqs. (5), (8)
``label_smoothing``           ε: the smoothed target and the optimal logit gap      09, eqs. (1), (3b)
============================  ====================================================  =========
"""

from __future__ import annotations

import math
import os

import numpy as np

from ._validate import check_int, check_nonneg, check_probability, check_range

__all__ = [
    "ridge_shrinkage_figure", "ridge_shrinkage_explorer",
    "lasso_figure", "lasso_explorer",
    "label_smoothing_figure", "label_smoothing_explorer", "optimal_logit_gap",
    "live_frontend", "show",
]

STATIC_ENV = "REGLIB_STATIC_FIGURES"


def _figure(width: float, height: float, ncols: int = 1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols, **kw)


def _colors():
    from .plot import COLORS

    return COLORS


# ------------------------------------------------------------------------------------------------
# chapter 01: ridge shrinkage


def ridge_shrinkage_figure(X, alpha: float, alphas=None):
    r"""Ridge's shrinkage factors :math:`\lambda_i/(\lambda_i+\alpha)` (chapter 01, eq. (6)) at ``alpha``.

    Left: every factor as a function of α (log scale), the current α marked. Right: the factors at
    α per eigen-direction of :math:`X^\top X`, with the effective number of parameters
    :math:`\mathrm{df}(\alpha) = \sum_i \lambda_i/(\lambda_i+\alpha)`.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    alpha : float
        Penalty strength, >= 0.
    alphas : array, optional
        The α grid of the left panel (default: 10⁻⁴ … 10², or wider to include ``alpha``).
    """
    from .linear import ridge_shrinkage

    X = np.asarray(X, dtype=np.float64)
    alpha = check_nonneg("alpha", alpha)
    if alphas is None:
        low = min(1e-4, alpha / 10) if alpha > 0 else 1e-4
        alphas = np.logspace(np.log10(low), max(2.0, np.log10(max(alpha, 1e-12)) + 1), 121)
    alphas = np.asarray(alphas, dtype=np.float64)
    curves = np.stack([ridge_shrinkage(X, a) for a in alphas])  # (n_alphas, p)
    now = ridge_shrinkage(X, alpha)
    eig = np.zeros(X.shape[1])
    s = np.linalg.svd(X, compute_uv=False)
    eig[: s.size] = s**2
    p = X.shape[1]

    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    fig, (ax_curve, ax_bar) = _figure(10.5, 3.6, 2)
    for i in range(p):
        color = cmap(i / max(p - 1, 1))
        ax_curve.plot(alphas, curves[:, i], color=color, lw=1.4)
        if alpha > 0:
            ax_curve.plot([alpha], [now[i]], "o", color=color, ms=4)
    ax_curve.axvline(alpha if alpha > 0 else alphas[0], color="0.3", ls="--", lw=1)
    ax_curve.set(xscale="log", ylim=(-0.03, 1.03), xlabel="α (log scale)",
                 ylabel=r"factor $\lambda_i/(\lambda_i+\alpha)$", title=f"Shrinkage factors, α = {alpha:.3g}")
    ax_bar.bar(np.arange(1, p + 1), now, color=[cmap(i / max(p - 1, 1)) for i in range(p)])
    for i in range(p):
        ax_bar.text(i + 1, min(now[i] + 0.03, 0.97), f"{eig[i]:.2g}", ha="center", va="bottom", fontsize=7)
    ax_bar.set(ylim=(0, 1.08), xticks=np.arange(1, p + 1), xlabel=r"eigen-direction $i$ (label: $\lambda_i$)",
               ylabel="fraction of least squares kept",
               title=f"df(α) = {now.sum():.2f} of {p} parameters")
    return fig


def ridge_shrinkage_explorer(X, alpha: float = 0.1, alpha_range=(1e-4, 1e2)):
    """A slider over α (log scale) and :func:`ridge_shrinkage_figure`."""
    alpha = check_nonneg("alpha", alpha)
    low, high = _check_range_pair("alpha_range", alpha_range)
    return _explorer(lambda a: ridge_shrinkage_figure(X, a), "α", alpha, low, high, log=True)


# ------------------------------------------------------------------------------------------------
# chapter 02: soft-thresholding and the lasso path


def lasso_figure(X, y, alpha: float, names=None, alphas=None, path=None):
    r"""The lasso at ``alpha`` as soft-thresholding, and the whole path (chapter 02, eqs. (5), (8)).

    At the lasso solution of :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1`, every coefficient is the
    soft-threshold of its inner product with the partial residual: with :math:`r_j = y - \sum_{k\ne j} x_k w_k`,
    :math:`w_j = S_{n\alpha}(x_j^\top r_j)/\|x_j\|^2`. Left: :math:`S_{n\alpha}` and every feature's point
    :math:`(x_j^\top r_j,\ \|x_j\|^2 w_j)` on it; the features inside :math:`[-n\alpha, n\alpha]` are exactly
    zero. Right: the lasso path with the current α marked.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    y : array, shape (n_samples,)
    alpha : float
        Penalty strength, > 0.
    names : list of str, optional
        Feature names (default ``x0, x1, ...``).
    alphas, path : arrays, optional
        A precomputed path (``reglib.linear.lasso_path``) to draw on the right; computed if omitted.
    """
    from . import linear

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    alpha = check_range("alpha", alpha, 0.0, None, low_open=True)
    n, p = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(p)]
    if path is None:
        alphas = linear.alpha_grid(X, y, n_alphas=100, eps=1e-3)
        path = linear.lasso_path(X, y, alphas)
    w = linear.lasso(X, y, alpha)
    norms = (X**2).sum(axis=0)
    partial = X.T @ (y - X @ w) + norms * w  # x_jᵀ r_j
    t = n * alpha
    colors = _colors()

    fig, (ax_s, ax_p) = _figure(11, 3.8, 2, gridspec_kw={"width_ratios": [1, 1.4]})
    reach = max(np.abs(partial).max(), t) * 1.15
    z = np.linspace(-reach, reach, 401)
    ax_s.plot(z, z, color="0.6", lw=1, ls=":", label="identity (least squares)")
    ax_s.plot(z, np.sign(z) * np.maximum(np.abs(z) - t, 0), color=colors[0], label=f"$S_{{n\\alpha}}$, $n\\alpha$ = {t:.3g}")
    ax_s.axvspan(-t, t, color=colors[0], alpha=0.08)
    for j in range(p):
        ax_s.plot(partial[j], norms[j] * w[j], "o", ms=5, color=colors[1] if w[j] != 0 else "0.5")
        if w[j] != 0:
            ax_s.annotate(names[j], (partial[j], norms[j] * w[j]), fontsize=7, xytext=(3, 3),
                          textcoords="offset points")
    ax_s.set(xlabel=r"inner product $x_j^\top r_j$ with the partial residual", ylabel=r"$\|x_j\|^2\, w_j$",
             title=f"{int((w != 0).sum())} of {p} features nonzero")
    ax_s.legend(fontsize=8, loc="upper left")

    for j in range(p):
        ax_p.plot(alphas, path[j], lw=1.6 if w[j] != 0 else 1.0, color=colors[j % len(colors)] if w[j] != 0 else "0.65",
                  label=names[j] if w[j] != 0 else None)
    ax_p.axvline(alpha, color="0.3", ls="--", lw=1)
    ax_p.set(xscale="log", xlabel="α (log scale; the penalty weakens to the right)", ylabel="coefficient $w_j$",
             title=f"Lasso path, α = {alpha:.3g}")
    ax_p.invert_xaxis()
    if (w != 0).any():
        ax_p.legend(fontsize=8, ncol=2, loc="lower left", title="nonzero at α")
    return fig


def lasso_explorer(X, y, alpha=None, names=None):
    """A slider over α (log scale, from α_max down to 10⁻³ α_max) and :func:`lasso_figure`."""
    from . import linear

    alphas = linear.alpha_grid(X, y, n_alphas=100, eps=1e-3)
    path = linear.lasso_path(X, y, alphas)
    top = float(alphas[0])
    alpha = top / 10 if alpha is None else check_range("alpha", alpha, 0.0, None, low_open=True)
    return _explorer(lambda a: lasso_figure(X, y, a, names, alphas, path), "α", alpha, top * 1e-3, top, log=True)


# ------------------------------------------------------------------------------------------------
# chapter 09: label smoothing


def optimal_logit_gap(eps: float, num_classes: int = 10) -> float:
    r"""Chapter 09, eq. (3b): :math:`\Delta^*(\varepsilon) = \log(1 + K(1-\varepsilon)/\varepsilon)`, the gap
    between the true and every other logit at the minimum of the smoothed cross-entropy (∞ at ε = 0)."""
    eps = check_probability("eps", eps)
    num_classes = check_int("num_classes", num_classes, 2)
    return math.inf if eps == 0 else math.log1p(num_classes * (1 - eps) / eps)


def label_smoothing_figure(eps: float, num_classes: int = 10, true_class: int = 0):
    r"""The smoothed target :math:`(1-\varepsilon)e_y + \varepsilon/K` and the optimal logit gap (3b) at ``eps``.

    Left: the target's K probabilities beside the one-hot target. Right: :math:`\Delta^*(\varepsilon)`
    over ε with the current ε marked (the logits a network is pushed toward: finite for every ε > 0).
    """
    import torch

    from .losses import smooth_labels

    eps = check_probability("eps", eps)
    k = check_int("num_classes", num_classes, 2)
    true_class = check_int("true_class", true_class, 0, k - 1)
    q = smooth_labels(torch.tensor(true_class), k, eps, dtype=torch.float64).numpy()
    colors = _colors()

    fig, (ax_q, ax_g) = _figure(10, 3.4, 2)
    classes = np.arange(k)
    ax_q.bar(classes, np.eye(k)[true_class], color="none", edgecolor="0.5", ls="--", label="one-hot $e_y$")
    other = classes != true_class
    ax_q.bar(classes[~other], q[~other], width=0.6, color=colors[1],
             label=f"smoothed, true class: 1 − ε + ε/K, ε = {eps:.2f}")
    ax_q.bar(classes[other], q[other], width=0.6, color=colors[0], label="smoothed, other classes: ε/K")
    ax_q.set(xticks=classes, ylim=(0, 1.05), xlabel=f"class k (true class y = {true_class})",
             ylabel="target probability $q_k$", title=f"$q_y$ = {q[true_class]:.3f}, $q_k$ = {eps / k:.3f}")
    ax_q.legend(fontsize=8)
    grid = np.linspace(0.005, 0.995, 300)
    ax_g.plot(grid, [optimal_logit_gap(e, k) for e in grid], color=colors[0])
    gap = optimal_logit_gap(eps, k)
    if math.isfinite(gap):
        ax_g.plot([eps], [gap], "o", color=colors[1], label=f"Δ*({eps:.2f}) = {gap:.2f}")
    else:
        ax_g.axvline(0, color=colors[1], label="ε = 0: Δ* = ∞ (the gap grows for ever)")
    ax_g.set(xlabel="smoothing ε", ylabel=r"optimal logit gap $\Delta^*(\varepsilon)$", ylim=(0, None),
             title=f"Eq. (3b), K = {k}")
    ax_g.legend(fontsize=8)
    return fig


def label_smoothing_explorer(eps: float = 0.1, num_classes: int = 10):
    """A slider over ε ∈ [0, 0.9] and :func:`label_smoothing_figure`."""
    eps = check_probability("eps", eps)
    return _explorer(lambda e: label_smoothing_figure(e, num_classes), "ε", eps, 0.0, 0.9, log=False, step=0.01)


# ------------------------------------------------------------------------------------------------
# showing


def _check_range_pair(name, pair):
    low, high = (float(v) for v in pair)
    if not (0 < low < high):
        raise ValueError(f"{name} must be (low, high) with 0 < low < high, got {pair!r}")
    return low, high


def live_frontend() -> bool:
    """True inside a Jupyter kernel with a front-end to draw widgets, unless ``REGLIB_STATIC_FIGURES=1``."""
    if os.environ.get(STATIC_ENV) == "1":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(figure, explorer, *args, **kwargs):
    """Display ``explorer(*args, **kwargs)`` (a widget) in a live front-end, else ``figure(*args, **kwargs)``.

    ``figure`` and ``explorer`` are a pair from this module, e.g.
    ``show(ridge_shrinkage_figure, ridge_shrinkage_explorer, X, alpha=0.1)``. Returns what was displayed.
    """
    from IPython.display import display

    shown = (explorer if live_frontend() else figure)(*args, **kwargs)
    display(shown)
    return shown


def _explorer(draw, label, value, low, high, *, log, step=None):
    """A slider and an output area showing ``draw(value)``; the last figure is kept as ``.figure``."""
    import ipywidgets as widgets

    value = min(max(value, low), high)
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="480px")
    if log:
        slider = widgets.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.05,
                                        description=label, readout_format=".3g", continuous_update=False,
                                        style=style, layout=layout)
    else:
        slider = widgets.FloatSlider(value=value, min=low, max=high, step=step or (high - low) / 100,
                                     description=label, readout_format=".2f", continuous_update=False,
                                     style=style, layout=layout)
    out = widgets.Output()
    box = widgets.VBox([slider, out])

    def render(change=None):
        box.figure = draw(slider.value)
        if _in_ipython():
            from IPython.display import display

            out.clear_output(wait=True)
            with out:
                display(box.figure)

    slider.observe(render, names="value")
    render()
    return box


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
