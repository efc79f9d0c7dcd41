"""Checkers for exercises/02_l1_sparsity.ipynb."""

from __future__ import annotations

import numpy as np
import torch

from .. import linear, penalties
from ..data import load_diabetes
from ._core import (call, diagnose, expect_array, expect_tensor, fail, hash_answer, passed,
                    register_answers)

__all__ = ["soft_threshold", "ista", "ista_data", "diabetes_path_data", "lasso_nonzeros", "lasso_entry_order"]


# --------------------------------------------------------------------------- task 1: soft-thresholding


def _threshold_inputs(dtype=torch.float64):
    """Values on both sides of the threshold, exactly at it, and zero."""
    gen = torch.Generator().manual_seed(2)
    x = 2 * torch.randn(4, 6, generator=gen, dtype=dtype)
    x[0, :5] = torch.tensor([0.5, -0.5, 0.0, 0.3, -0.2], dtype=dtype)
    return x


def soft_threshold(candidate) -> None:
    """``candidate(x, t) -> tensor`` equal to ``sign(x) * max(|x| - t, 0)`` (chapter 02, eq. (5))."""
    name = "soft_threshold"
    for dtype, t in [(torch.float64, 0.5), (torch.float64, 1.3), (torch.float32, 0.5)]:
        x = _threshold_inputs(dtype)
        out = expect_tensor(call(candidate, x, t, name=name), name, shape=x.shape, dtype=dtype)
        expected = penalties.soft_threshold(x, t)
        shrink = torch.clamp(x.abs() - t, min=0)
        diagnose(out, expected, name, atol=1e-6, rtol=1e-5, context=f"for t={t}", mistakes=[
            (x * (x.abs() > t), "this is hard thresholding: entries above the threshold must also move t toward "
                                "zero, sign(x) · max(|x| − t, 0)"),
            (shrink, "negative inputs came out positive: you forgot the sign; multiply max(|x| − t, 0) by sign(x)"),
            (torch.clamp(x - t, min=0), "every negative input became 0: soft-thresholding is symmetric, "
                                        "sign(x) · max(|x| − t, 0), not max(x − t, 0)"),
            (x - t * torch.sign(x), "small entries crossed zero instead of stopping at it: clamp |x| − t at 0 "
                                    "before restoring the sign"),
            (x / (1 + t), "this is the L2 (ridge) shrinkage x / (1 + t), which never reaches zero; "
                          "soft-thresholding subtracts t and clamps at zero"),
        ])
    x = _threshold_inputs()
    same = call(candidate, x, 0.0, name=name)
    if same is x:
        fail(f"`{name}` with t=0 returned the input tensor `x` itself; return a new tensor (e.g. `x.clone()`), "
             "so that changing the result cannot change the caller's x")
    same = expect_tensor(same, name, shape=x.shape)
    if not torch.allclose(same.double(), x):
        fail(f"`{name}` with t=0 should return x unchanged")
    big = torch.tensor([3.0, -3.0, 2.0, -2.0, 0.0], dtype=torch.float64)  # t = 2.5: both signs, and |x| < t
    diagnose(expect_tensor(call(candidate, big, 2.5, name=name), name, shape=big.shape),
             penalties.soft_threshold(big, 2.5), name, atol=1e-12, rtol=1e-12, context="for t=2.5")
    passed(name, "shrinks by t, exact zeros inside [−t, t], sign kept")


# --------------------------------------------------------------------------- task 2: ISTA


def ista_data():
    """The fixed lasso problem of task 2: 80 samples, 12 features (two correlated), a sparse truth, and α."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 12))
    X[:, 1] = X[:, 0] + 0.3 * X[:, 1]
    w_true = np.zeros(12)
    w_true[[0, 3, 7]] = [2.0, -1.5, 1.0]
    y = X @ w_true + 0.5 * rng.normal(size=80)
    return X, y, 0.2


def _ista_variant(X, y, alpha, n_iter, *, lipschitz, grad_scale=1.0, grad_sign=1.0, threshold=None,
                  prox="soft"):
    """ISTA with one ingredient swapped, to recognise a student's mistake by its output."""
    n = len(y)
    step = 1.0 / lipschitz
    t = step * alpha if threshold is None else threshold
    w = np.zeros(X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_iter):
            z = w - step * grad_sign * grad_scale * X.T @ (X @ w - y) / n
            if prox == "soft":
                w = np.sign(z) * np.maximum(np.abs(z) - t, 0.0)
            elif prox == "swapped":  # soft-threshold first, then the gradient step at the thresholded point
                v = np.sign(w) * np.maximum(np.abs(w) - t, 0.0)
                w = v - step * grad_sign * grad_scale * X.T @ (X @ v - y) / n
            elif prox == "hard":
                w = z * (np.abs(z) > t)
            else:  # a subgradient step instead of a proximal one
                w = w - step * (grad_sign * grad_scale * X.T @ (X @ w - y) / n + alpha * np.sign(w))
    return w


def _ista_mistakes(X, y, alpha, n_iter):
    n = len(y)
    L = np.linalg.norm(X, 2) ** 2 / n
    return [
        (_ista_variant(X, y, alpha, n_iter, lipschitz=np.linalg.norm(X) ** 2 / n),
         "wrong step size: np.linalg.norm(X) is the Frobenius norm; the Lipschitz constant L = ‖X‖₂²/n needs the "
         "spectral norm, np.linalg.norm(X, 2) (the largest singular value), and the step is 1/L"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L * n),
         "wrong step size: your step is n times too small; L = ‖X‖₂²/n because the loss averages over n samples"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L / n),
         "wrong step size: your step is n times too large; the Lipschitz constant is L = ‖X‖₂²/n, step 1/L"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, grad_scale=n),
         "the gradient is missing its 1/n: ∇f(w) = Xᵀ(Xw − y)/n for the loss 1/(2n)‖y − Xw‖²"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, threshold=alpha),
         "you soft-thresholded by α; the threshold of a proximal step is step · α (the prox of step · α‖w‖₁)"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, threshold=alpha * L),
         "you soft-thresholded by α/step; the threshold of a proximal step is step · α"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, threshold=alpha / L / n),
         "your threshold is n times too small: this is ISTA for ½‖y − Xw‖² + α‖w‖₁ (gradient Xᵀ(Xw − y), step "
         "1/‖X‖₂², threshold α/‖X‖₂²); the exercise's loss is 1/(2n)‖y − Xw‖², whose step is 1/L = n/‖X‖₂², so "
         "the threshold step · α is n times larger"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, grad_sign=-1.0),
         "sign error in the gradient: ∇f(w) = Xᵀ(Xw − y)/n, and the step goes against it, w − step · ∇f(w)"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, prox="hard"),
         "you hard-thresholded: the proximal operator of the L1 penalty is soft-thresholding, which also shrinks "
         "the entries it keeps"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, prox="swapped"),
         "the two halves of the step are in the wrong order: you soft-threshold w and then take the gradient step, "
         "so the w you return has just had a gradient step and has no exact zeros; take the gradient step first "
         "and soft-threshold its result, w ← S_{step·α}(w − step · ∇f(w))"),
        (_ista_variant(X, y, alpha, n_iter, lipschitz=L, prox="subgradient"),
         "this is a subgradient step, w − step · (∇f(w) + α sign(w)), which never produces exact zeros; take a "
         "gradient step on the data term, then soft-threshold"),
    ]


def ista(candidate) -> None:
    """``candidate(X, y, alpha, n_iter) -> w``: ISTA from w = 0 with step 1/L (chapter 02, eq. (7))."""
    name = "ista"
    X, y, alpha = ista_data()
    p = X.shape[1]
    out = expect_array(call(candidate, X, y, alpha, 0, name=name), name, shape=(p,))
    if not np.allclose(out, 0):
        fail(f"`{name}` with n_iter=0 should return the starting point, w = 0")
    outputs = {}
    for n_iter in (1, 2, 25):
        out = expect_array(call(candidate, X, y, alpha, n_iter, name=name), name, shape=(p,), finite=False)
        if out.dtype.kind not in "fiu":
            fail(f"`{name}` should return a float array of shape ({p},), got dtype {out.dtype}")
        outputs[n_iter] = out.astype(np.float64)

    def diverged(w):
        return not np.isfinite(w).all() or np.abs(w).max() > 1e6

    # a recognised mistake first, then divergence. A mistake is named only if it reproduces the output at every
    # iteration count where the output is finite: some mistakes agree after one iteration (swapping the gradient
    # step and the soft-threshold gives the same first step as a subgradient step) and part later
    off = [k for k, out in outputs.items()
           if not diverged(out) and not np.allclose(out, linear.ista(X, y, alpha, k), atol=1e-8, rtol=1e-6)]
    if off:
        finite = [k for k, out in outputs.items() if not diverged(out)]
        mistakes = {k: _ista_mistakes(X, y, alpha, k) for k in finite}
        for i, (_, hint) in enumerate(mistakes[finite[0]]):
            if all(not diverged(mistakes[k][i][0]) and np.allclose(outputs[k], mistakes[k][i][0], atol=1e-8,
                                                                    rtol=1e-6) for k in finite):
                fail(f"`{name}`: {hint}")
    for n_iter, out in outputs.items():
        if diverged(out):
            fail(f"`{name}` diverged (NaN, inf or huge values after {n_iter} iterations): check the step size 1/L "
                 "with L = ‖X‖₂²/n, the 1/n in the gradient Xᵀ(Xw − y)/n, and its sign")
    for n_iter, out in outputs.items():
        diagnose(out, linear.ista(X, y, alpha, n_iter), name, atol=1e-8, rtol=1e-6, context=f"after n_iter={n_iter}")
    # non-default arguments: another α and other data (wide, p > n, uncentred): a function that ignores its
    # arguments, or keeps the exercise's α, fails here
    rng = np.random.default_rng(5)
    X2 = rng.normal(size=(20, 30)) + 0.5
    y2 = X2[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=20)
    for Xk, yk, ak in ((X, y, 0.05), (X2, y2, 0.3)):
        for n_iter in (1, 7):
            got = expect_array(call(candidate, Xk, yk, ak, n_iter, name=name), name, shape=(Xk.shape[1],))
            diagnose(got, linear.ista(Xk, yk, ak, n_iter), name, atol=1e-8, rtol=1e-6,
                     context=f"for alpha={ak}, X of shape {Xk.shape}, n_iter={n_iter} (use the arguments "
                             "X, y, alpha, not the exercise's data)",
                     mistakes=[(linear.ista(Xk, yk, alpha, n_iter), f"the result is that of α = {alpha} (the "
                                                                    "exercise's value): use the `alpha` argument")])
    out = expect_array(call(candidate, X, y, alpha, 500, name=name), name, shape=(p,))
    exact = linear.lasso(X, y, alpha)
    if not np.array_equal(out == 0, exact == 0):
        fail(f"`{name}` after 500 iterations should have exact zeros where the lasso has them "
             f"({int(np.sum(exact == 0))} of {p}); it has {int(np.sum(out == 0))}")
    passed(name, f"matches proximal gradient descent step for step, with {int(np.sum(exact == 0))} exact zeros")


# --------------------------------------------------------------------------- task 3: the lasso path


def diabetes_path_data():
    """Task 3's data: diabetes ``X, y, names`` and 300 alphas log-spaced from alpha_max to 1e-3 alpha_max."""
    X, y, names = load_diabetes()
    return X, y, names, linear.alpha_grid(X, y, n_alphas=300, eps=1e-3)


def _reference_path():
    X, y, names, alphas = diabetes_path_data()
    return X, y, names, alphas, linear.lasso_path(X, y, alphas)


def lasso_nonzeros(candidate_counts) -> None:
    """The number of nonzero lasso coefficients at each alpha of :func:`diabetes_path_data` (in that order)."""
    name = "n_nonzero"
    X, y, names, alphas, coefs = _reference_path()
    counts = expect_array(candidate_counts, name)
    if counts.ndim != 1:
        fail(f"`{name}` should be a 1-D array with one count per alpha, got shape {counts.shape}")
    if counts.shape == (coefs.shape[0],):
        fail(f"`{name}` has one entry per feature ({len(counts)}); it should have one per alpha ({len(alphas)}): "
             "count along axis 0 of the (n_features, n_alphas) coefficient array")
    if counts.shape != (len(alphas),):
        fail(f"`{name}` should have one entry per alpha ({len(alphas)}), got {counts.shape[0]}")
    expected = (coefs != 0).sum(axis=0)
    diagnose(counts.astype(float), expected.astype(float), name, atol=0.0, rtol=0.0, mistakes=[
        (X.shape[1] - expected, "you counted the zero coefficients; count the nonzero ones (coefs != 0)"),
        (expected[::-1].copy(), "the counts are in reverse order: keep the order of the alphas, which decrease "
                                "from alpha_max, so the model grows from 0 features"),
    ])
    if not np.array_equal(counts, expected):
        fail(f"`{name}` differs from the exact path; compute it with reglib.linear.lasso_path (an ISTA run with a "
             "fixed number of iterations has not converged)")
    passed(name, f"the model grows from 0 to {expected.max()} features, and shrinks once on the way")


def lasso_entry_order(candidate_names) -> None:
    """The names of the first four features to enter the diabetes lasso path, in order of entry."""
    name = "first_four"
    X, y, names, alphas, coefs = _reference_path()
    if isinstance(candidate_names, str) or not isinstance(candidate_names, (list, tuple, np.ndarray)):
        fail(f"`{name}` should be a list of four feature names such as ['age', 'sex', ...], "
             f"got {candidate_names!r}")
    got = [str(v).strip().lower() for v in candidate_names]
    if len(got) != 4:
        fail(f"`{name}` should hold four names, got {len(got)}")
    unknown = [g for g in got if g not in names]
    if unknown:
        fail(f"`{name}`: {unknown} are not feature names; choose from {names}")
    nonzero = coefs != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), len(alphas))
    order = [names[j] for j in np.argsort(first, kind="stable")]
    if got == order[:4]:
        passed(name, f"{', '.join(order[:4])} — the order of least angle regression (Efron et al. 2004)")
        return
    by_correlation = [names[j] for j in np.argsort(-np.abs(X.T @ y))]
    by_size = [[names[j] for j in np.argsort(-np.abs(w))][:4] for w in (coefs[:, -1], linear.ridge(X, y, 0.0))]
    if got == by_correlation[:4]:
        fail(f"`{name}`: this ranks the features by their correlation with y; that decides only the first entry. "
             "Later features enter when their correlation with the *residual* reaches α; read the order off the path")
    if got in by_size:
        fail(f"`{name}`: this ranks the features by the size of their coefficient (at the smallest α, or in least "
             "squares); the question is the order in which they first become nonzero as α decreases")
    if got == order[::-1][:4] or got == order[-4:]:
        fail(f"`{name}`: these are the last features to enter; α decreases along the path, so the first to enter "
             "are those nonzero at the largest α")
    if sorted(got) == sorted(order[:4]):
        fail(f"`{name}`: the right four features, in the wrong order")
    fail(f"`{name}` is not the order of entry: for each feature find the first α (largest first) at which its "
         "coefficient is nonzero")


# --------------------------------------------------------------------------- task 4: conceptual questions

register_answers({
    "02.adam_zeros": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("02.adam_zeros", "b"),
        "hints": {
            hash_answer("02.adam_zeros", "a"): "the lasso's zeros come from an exact minimiser (or proximal steps); "
                                               "a gradient step on the penalty moves a small weight by a step of fixed "
                                               "size and jumps across zero — with Adam, which divides by the gradient's "
                                               "running scale, about ±lr, not ±lr·λ as with plain SGD — see chapter "
                                               "02 §4 and §8",
            hash_answer("02.adam_zeros", "c"): "the penalty pulls small weights toward zero but the data gradient "
                                               "keeps the useful ones large; and even the small ones are not exactly 0",
        },
        "explain": "(sub)gradient steps hover around zero; proximal steps or pruning give exact zeros",
    },
    "02.laplace_scale": {
        "choices": "a positive number",
        "correct": hash_answer("02.laplace_scale", 4.0),
        "hints": {
            hash_answer("02.laplace_scale", 200.0): "you dropped the n: in the 1/(2n) scaling, α = σ²/(n b)",
            hash_answer("02.laplace_scale", 0.25): "you inverted the relation: α = σ²/(n b), so b = σ²/(n α)",
            hash_answer("02.laplace_scale", 2.0): "use the noise variance σ² = 4, not the standard deviation",
        },
        "explain": "b = σ²/(n α) = 4 / (50 · 0.02)",
    },
})
