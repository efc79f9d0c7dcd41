"""Checkers for exercises/07_normalization.ipynb (batch and layer normalization)."""

from __future__ import annotations

import copy
import functools

import torch

from .. import normalization as ref
from ._core import (call, diagnose, expect_scalar, expect_tensor, fail, hash_answer, passed,
                    register_answers, tolerance)

__all__ = ["batch_norm_forward", "batch_norm_backward", "layer_norm_forward", "train_mode_accuracy",
           "train_mode_results", "bn_exercise_setup", "TRAIN_MODE_BATCHES"]

#: Batch sizes of the exercise's training-mode experiment (task 4).
TRAIN_MODE_BATCHES = (2, 8, 32, 100, 800)

_F64 = torch.float64
#: float64 tolerances that accept legitimate alternatives (PyTorch's own ops, a float32 intermediate step)
_ATOL, _RTOL = tolerance(_F64)


def _inputs(n: int, d: int, seed: int, scales, shifts):
    """Float64 test data whose features have very different spreads (some far below eps = 0.1)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=_F64) * torch.tensor(scales, dtype=_F64) + torch.tensor(shifts, dtype=_F64)
    gamma = torch.rand(d, generator=gen, dtype=_F64) + 0.5
    beta = torch.randn(d, generator=gen, dtype=_F64)
    return x, gamma, beta


def _first(out):
    """Accept ``out`` or a CS231n-style ``(out, cache)`` pair."""
    return out[0] if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor) else out


def _normalize(x, dim, eps, unbiased=False, eps_outside=False):
    """(x - mean) / spread over ``dim``, with the correct or a mistaken spread."""
    centred = x - x.mean(dim, keepdim=True)
    var = x.var(dim, unbiased=unbiased, keepdim=True)
    spread = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    return centred / spread, spread


def _forward_mistakes(x, gamma, beta, eps, dim, other_axis_name):
    """(wrong output, hint) pairs shared by the batch-norm and layer-norm forward checkers."""
    x_hat, _ = _normalize(x, dim, eps)
    return [
        (gamma * _normalize(x, dim, eps, unbiased=True)[0] + beta,
         "you normalized with the unbiased variance (dividing by n - 1). Normalization uses the biased "
         "variance, the mean of squared deviations (1/n); the unbiased one only enters the running estimate"),
        (gamma * _normalize(x, dim, eps, eps_outside=True)[0] + beta,
         "eps is outside the square root: divide by sqrt(var + eps), not by sqrt(var) + eps"),
        (gamma * _normalize(x, dim, 1e-5)[0] + beta,
         "your function ignores its eps argument (it behaves as if eps were 1e-5); use the eps passed in"),
        (gamma * _normalize(x, dim, 0.0)[0] + beta,
         "your function ignores its eps argument (it behaves as if eps were 0); use the eps passed in"),
        (gamma * _normalize(x, 1 - dim, eps)[0] + beta, other_axis_name),
        (gamma * (x - x.mean()) / (x.var(unbiased=False) + eps).sqrt() + beta,
         "you used one mean and one variance for the whole tensor; compute them per "
         + ("feature (column), over the batch: dim 0" if dim == 0 else "sample (row), over its features: dim 1")),
        (beta * x_hat + gamma, "gamma and beta are swapped: y = gamma * x_hat + beta"),
        (x_hat, "you returned x_hat: apply the learned scale and shift, y = gamma * x_hat + beta"),
        (x_hat * gamma, "the shift beta is missing: y = gamma * x_hat + beta"),
    ]


def _check_forward(candidate, name, reference, dim, other_axis_name, cases):
    for x, gamma, beta, eps in cases:
        out = _first(call(candidate, x, gamma, beta, eps, name=name))
        out = expect_tensor(out, name, shape=x.shape, dtype=x.dtype)
        diagnose(out, reference(x, gamma, beta, eps), name, atol=_ATOL, rtol=_RTOL,
                 mistakes=_forward_mistakes(x, gamma, beta, eps, dim, other_axis_name),
                 context=f"for x of shape {tuple(x.shape)}, eps={eps}")
    x, gamma, beta, _ = cases[0]
    out = expect_tensor(_first(call(candidate, x, gamma, beta, name=name)), name, shape=x.shape)
    diagnose(out, reference(x, gamma, beta, 1e-5), name + " (default eps)", atol=_ATOL, rtol=_RTOL,
             context="when called without eps: the default must be eps=1e-5")


# --------------------------------------------------------------------------- task 1: batch-norm forward


def _bn_cases():
    x, gamma, beta = _inputs(6, 4, 0, [0.2, 1.0, 3.0, 0.3], [1.0, -2.0, 0.5, 0.0])
    x2, gamma2, beta2 = _inputs(3, 5, 1, [1.0, 0.1, 2.0, 0.5, 1.0], [0.0, 3.0, -1.0, 0.0, 10.0])
    return [(x, gamma, beta, 0.1), (x2, gamma2, beta2, 0.05)]


def batch_norm_forward(candidate) -> None:
    """``candidate(x, gamma, beta, eps=1e-5) -> out``: training-mode batch norm of an (N, D) tensor."""
    _check_forward(candidate, "batch_norm_forward", lambda x, g, b, e: ref.batch_norm_forward(x, g, b, e)[0], 0,
                   "your statistics run over the features of each sample (that is layer norm). Batch norm "
                   "computes one mean and variance per feature, over the batch: dim 0", _bn_cases())
    passed("batch_norm_forward", "matches eqs. (1)-(3) and F.batch_norm in training mode")


# --------------------------------------------------------------------------- task 2: batch-norm backward


def _dx(g, x_hat, spread):
    n = g.shape[0]
    return (n * g - g.sum(0) - x_hat * (g * x_hat).sum(0)) / (n * spread)


def batch_norm_backward(candidate) -> None:
    """``candidate(dout, x, gamma, eps=1e-5) -> (dx, dgamma, dbeta)`` for training-mode batch norm on (N, D)."""
    name = "batch_norm_backward"
    x, gamma, beta = _inputs(8, 4, 2, [0.2, 1.0, 3.0, 0.3], [1.0, -2.0, 0.5, 0.0])
    dout = torch.randn(8, 4, generator=torch.Generator().manual_seed(3), dtype=_F64)
    for eps in (0.1, 1e-5):
        out = call(candidate, dout, x, gamma, eps, name=name)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            fail(f"`{name}` should return three tensors (dx, dgamma, dbeta), got {type(out).__name__}"
                 + (" (did you forget `return`?)" if out is None else ""))
        dx = expect_tensor(out[0], name + " (dx)", shape=x.shape, dtype=_F64)
        dgamma = expect_tensor(out[1], name + " (dgamma)", shape=gamma.shape, dtype=_F64)
        dbeta = expect_tensor(out[2], name + " (dbeta)", shape=gamma.shape, dtype=_F64)
        ref_dx, ref_dgamma, ref_dbeta = ref.batch_norm_backward(dout, ref.batch_norm_forward(x, gamma, beta, eps)[1])

        x_hat, spread = _normalize(x, 0, eps)
        g = gamma * dout
        xh_u, s_u = _normalize(x, 0, eps, unbiased=True)
        xh_o, s_o = _normalize(x, 0, eps, eps_outside=True)
        ctx = f"for eps={eps}"
        diagnose(dgamma, ref_dgamma, name + " (dgamma)", atol=_ATOL, rtol=_RTOL, context=ctx, mistakes=[
            (dout.sum(0), "dgamma is the sum of dout: that is dbeta. dgamma = sum over the batch of dout * x_hat"),
            ((dout * x).sum(0), "dgamma uses x instead of the normalized x_hat: dgamma = sum of dout * x_hat"),
            ((g * x_hat).sum(0), "dgamma is multiplied by gamma: y = gamma * x_hat + beta gives dgamma = sum dout * x_hat"),
            ((dout * xh_u).sum(0), "x_hat was computed with the unbiased variance (n - 1); use the biased one (1/n)"),
            ((dout * xh_o).sum(0), "x_hat was computed with eps outside the square root: s = sqrt(var + eps), "
                                   "not sqrt(var) + eps"),
            ((dout * x_hat).mean(0), "dgamma is a mean over the batch; it is a sum (every sample contributes)"),
        ] + ([] if eps == 1e-5 else [((dout * _normalize(x, 0, 1e-5)[0]).sum(0),
                                      "your function ignores its eps argument (it behaves as if eps were 1e-5); "
                                      "use the eps passed in")]))
        diagnose(dbeta, ref_dbeta, name + " (dbeta)", atol=_ATOL, rtol=_RTOL, context=ctx, mistakes=[
            ((dout * x_hat).sum(0), "dbeta is the sum of dout * x_hat: that is dgamma. dbeta = sum of dout over the batch"),
            (dout.mean(0), "dbeta is a mean over the batch; it is a sum (every sample contributes)"),
        ])
        diagnose(dx, ref_dx, name + " (dx)", atol=_ATOL, rtol=_RTOL, context=ctx, mistakes=[
            ((dout.shape[0] * g - x_hat * (g * x_hat).sum(0)) / (dout.shape[0] * spread),
             "you forgot the mean term: every x_i also moves the batch mean mu, which contributes "
             "dL/dmu / N = -(sum_j g_j) / (N s) to dx_i. With it, dx sums to zero over the batch"),
            ((dout.shape[0] * g - g.sum(0)) / (dout.shape[0] * spread),
             "you forgot the variance term: every x_i also moves sigma^2, which contributes "
             "-x_hat_i * (sum_j g_j x_hat_j) / (N s) to dx_i"),
            (g / spread, "dx = gamma * dout / s treats the batch statistics as constants; add the paths through "
                         "the mean and the variance (eq. (4))"),
            (_dx(dout, x_hat, spread), "gamma is missing from dx: the gradient reaching x_hat is g = gamma * dout"),
            (_dx(g, xh_u, s_u), "you used the unbiased variance (n - 1); the forward pass normalizes with the "
                                "biased one (1/n), so the backward must too"),
            (_dx(g, xh_o, s_o), "eps is outside the square root: s = sqrt(var + eps), not sqrt(var) + eps"),
            (-ref_dx, "dx has the wrong sign"),
        ] + ([] if eps == 1e-5 else [(_dx(g, *_normalize(x, 0, 1e-5)), "your function ignores its eps argument (it "
                                                                       "behaves as if eps were 1e-5); use the eps "
                                                                       "passed in")]))
    out = call(candidate, dout, x, gamma, name=name)
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail(f"`{name}` should return three tensors (dx, dgamma, dbeta), got {type(out).__name__}")
    dx = expect_tensor(out[0], name + " (dx)", shape=x.shape, dtype=_F64)
    diagnose(dx, _dx(gamma * dout, *_normalize(x, 0, 1e-5)), name + " (default eps)", atol=_ATOL, rtol=_RTOL,
             context="when called without eps: the default must be eps=1e-5")
    passed(name, "equals eq. (4) and autograd; dx sums to zero over the batch")


# --------------------------------------------------------------------------- task 3: layer-norm forward


def _ln_cases():
    x, gamma, beta = _inputs(6, 5, 4, [1.0] * 5, [0.0] * 5)
    # rows (samples) with very different spreads and offsets, some spreads far below eps = 0.1
    x = x * torch.tensor([0.2, 1.0, 3.0, 0.3, 0.5, 0.1], dtype=_F64)[:, None] + torch.arange(6, dtype=_F64)[:, None]
    x2, gamma2, beta2 = _inputs(2, 7, 5, [1.0, 0.1, 2.0, 0.5, 1.0, 0.2, 0.3], [0.0] * 7)
    return [(x, gamma, beta, 0.1), (x2, gamma2, beta2, 0.05)]


def layer_norm_forward(candidate) -> None:
    """``candidate(x, gamma, beta, eps=1e-5) -> out``: layer norm over the features of each row of (N, D)."""
    _check_forward(candidate, "layer_norm_forward", lambda x, g, b, e: ref.layer_norm_forward(x, g, b, e)[0], 1,
                   "your statistics run over the batch (that is batch norm). Layer norm computes one mean and "
                   "variance per sample, over its features: dim 1 (or -1)", _ln_cases())
    passed("layer_norm_forward", "matches F.layer_norm; each sample is normalized on its own")


# --------------------------------------------------------------------------- task 4: training mode, measured


@functools.lru_cache(maxsize=1)
def _trained_state():
    from ..data import load_mnist1d
    from ..models import MLP
    from ..train import fit

    data = load_mnist1d()
    small = data.subset_train(800, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: more threads only add overhead (and oversubscribe a busy CPU)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = MLP(40, 10, hidden=(100, 100), norm="batch")
            fit(model, small.train, epochs=1000, max_steps=128, lr=1e-2, eval_every=1000, eval_train=False,
                seed=0, device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    return {k: v.clone() for k, v in model.state_dict().items()}, data.x_val, data.y_val


def bn_exercise_setup():
    """The exercise's network: the MNIST-1D MLP (100-100) with batch norm, trained with Adam for 128 steps
    on 800 signals (as in chapter 07, section 6), and the 800 validation signals.

    Returns
    -------
    model : reglib.models.MLP, in eval mode (a fresh copy at every call)
    x_val : Tensor (800, 40)
    y_val : Tensor (800,)
    """
    from ..models import MLP

    state, x_val, y_val = _trained_state()
    model = MLP(40, 10, hidden=(100, 100), norm="batch")
    model.load_state_dict(state)
    return model.eval(), x_val.clone(), y_val.clone()


def _train_mode_predictions(model, x, batch_size):
    model = copy.deepcopy(model).train()
    with torch.no_grad():
        return [model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]


def _reference_accuracy(model, x, y, batch_size):
    pred = torch.cat(_train_mode_predictions(model, x, batch_size))
    return (pred == y).double().mean().item()


def _eval_accuracy(model, x, y):
    with torch.no_grad():
        return (copy.deepcopy(model).eval()(x).argmax(1) == y).double().mean().item()


def _arrive(model, how: str):
    """A copy of ``model`` in the mode it arrives in: all eval, all train, or mixed (the top level in eval,
    the first batch-norm layer and the last linear layer in training mode)."""
    m = copy.deepcopy(model)
    if how == "train":
        return m.train()
    m.eval()
    if how == "mixed":
        m[2].train()
        m[7].train()
    return m


def train_mode_accuracy(candidate) -> None:
    """``candidate(model, x, y, batch_size) -> float``: accuracy with the model in training mode, fed
    consecutive batches of ``batch_size`` (the last one may be smaller), the model left as it was.

    The model arrives in eval mode, in training mode, and in mixed modes (some submodules in training mode):
    every module must leave in the mode it came in, with the same running statistics."""
    name = "train_mode_accuracy"
    model, x, y = bn_exercise_setup()
    x, y = x[:500], y[:500]
    for batch_size, how in ((8, "eval"), (150, "eval"), (32, "train"), (150, "mixed")):
        m = _arrive(model, how)
        state = {k: v.clone() for k, v in m.state_dict().items()}
        modes = [module.training for module in m.modules()]
        settings = [(getattr(module, "momentum", None), getattr(module, "track_running_stats", None),
                     getattr(module, "eps", None)) for module in m.modules()]
        grads = [p.requires_grad for p in m.parameters()]
        value = expect_scalar(call(candidate, m, x, y, batch_size, name=name), name)
        if [p.requires_grad for p in m.parameters()] != grads:
            fail(f"`{name}` changed `requires_grad` of the model's parameters and left it changed; evaluating under "
                 "torch.no_grad() is enough, and the model must leave as it came")
        if [(getattr(module, "momentum", None), getattr(module, "track_running_stats", None),
             getattr(module, "eps", None)) for module in m.modules()] != settings:
            fail(f"`{name}` changed the batch-norm layers' settings (momentum, track_running_stats or eps, e.g. to "
                 "keep the running statistics from updating) and left them changed; work on a copy "
                 "(copy.deepcopy(model)) or put every setting back")
        if any(not torch.equal(state[k], v) for k, v in m.state_dict().items()):
            fail(f"`{name}` changed the model's running statistics: a forward pass in training mode updates them, "
                 "even under torch.no_grad(). Work on a copy (copy.deepcopy(model)) or restore the state afterwards")
        after = [module.training for module in m.modules()]
        if after != modes:
            if how == "eval":
                fail(f"`{name}` left the model in training mode; put it back in the mode it came in (eval)")
            if how == "train":
                fail(f"`{name}`: the model came in training mode and left in eval mode; restore the mode it came "
                     "in (remember `model.training` before switching), do not assume eval")
            fail(f"`{name}`: the model came with its submodules in different modes (the top level in eval, a "
                 "batch-norm layer and the last linear layer in training mode), and they did not all leave in "
                 "the mode they came in. model.train(flag) sets every submodule to the same mode: work on a copy "
                 "(copy.deepcopy(model)), or record and restore each module's `training` flag")
        expected = _reference_accuracy(model, x, y, batch_size)
        batches = _train_mode_predictions(model, x, batch_size)
        per_batch = sum((p == y[i * batch_size:(i + 1) * batch_size]).double().mean().item()
                        for i, p in enumerate(batches)) / len(batches)
        full = [(p == y[i * batch_size:(i + 1) * batch_size]).double().sum().item()
                for i, p in enumerate(batches) if len(p) == batch_size]
        mistakes = [
            (_eval_accuracy(model, x, y), "this is the eval-mode accuracy: switch the model to training mode "
                                          "(model.train()) to measure what a forgotten eval() costs"),
            (_reference_accuracy(model, x, y, len(y)), "you fed all samples as one batch; use batches of batch_size"),
            (per_batch, "you averaged the accuracies of the batches; with a smaller last batch that weights its "
                        "samples more. Count correct predictions over all samples, then divide by len(y)"),
        ]
        if len(full) < len(batches):
            mistakes.append((sum(full) / (len(full) * batch_size),
                             "you dropped the last, smaller batch; every sample must be evaluated"))
        mistakes += [
            (100 * expected, "you returned a percentage; return the accuracy as a fraction between 0 and 1 "
                             "(correct predictions / len(y)), without the factor 100"),
            (expected * len(y), "you returned the number of correct predictions; divide it by len(y) to get the "
                                "accuracy, a fraction between 0 and 1"),
        ]
        if abs(value - expected) > 1e-6 and all(abs(value - w) > 1e-6 for w, _ in mistakes):
            again = expect_scalar(call(candidate, _arrive(model, how), x, y, batch_size, name=name), name)
            if again != value:
                fail(f"`{name}` gave two different accuracies for the same model and data ({value:.4f}, "
                     f"{again:.4f}): feed the samples in the given order, in consecutive batches (no shuffling, "
                     "no random sampling)")
        for wrong, hint in mistakes:
            if abs(value - expected) > 1e-6 and abs(value - wrong) <= 1e-6:
                fail(f"`{name}`: {hint}")
        if abs(value - expected) > 1e-6:  # no equation to compare with: say what the number should be
            fail(f"`{name}` returned {value:.4f} for batch_size={batch_size} (model arriving in {how} mode), "
                 f"expected {expected:.4f}: copy the model, switch the copy to training mode, predict each "
                 "consecutive batch of batch_size samples in the given order (the last one may be smaller), and "
                 "divide the number of correct predictions over all samples by len(y)")
    passed(name, "training-mode accuracy, batch by batch, with the model untouched")


def train_mode_results(results, eval_accuracy, smallest_safe_batch) -> None:
    """The experiment of task 4: ``results = {batch_size: training-mode accuracy}`` for
    :data:`TRAIN_MODE_BATCHES` on the validation data of :func:`bn_exercise_setup`, the eval-mode accuracy,
    and the smallest batch size whose training-mode accuracy is within 0.03 of it."""
    name = "train_mode_results"
    model, x, y = bn_exercise_setup()
    if not isinstance(results, dict):
        fail(f"`results` should be a dict {{batch_size: accuracy}}, got {type(results).__name__}")
    if sorted(results) != sorted(TRAIN_MODE_BATCHES):
        fail(f"`results` should have the batch sizes {list(TRAIN_MODE_BATCHES)} as keys, got {sorted(results)}")
    acc_eval = expect_scalar(eval_accuracy, "eval_accuracy")
    ref_eval = _eval_accuracy(model, x, y)
    if abs(acc_eval - ref_eval) > 1e-6:  # accuracies are multiples of 1/800; float32 rounding is far smaller
        if abs(acc_eval - 100 * ref_eval) < 1e-4:
            fail(f"`eval_accuracy` = {acc_eval:.2f} is a percentage; give it as a fraction between 0 and 1")
        if abs(acc_eval - _reference_accuracy(model, x, y, len(y))) < 1e-6:
            fail("`eval_accuracy` was measured in training mode (one batch of 800): call model.eval() first")
        fail(f"`eval_accuracy` = {acc_eval:.4f}, but the model's accuracy in eval mode on x_val is {ref_eval:.4f}")
    expected = {b: _reference_accuracy(model, x, y, b) for b in TRAIN_MODE_BATCHES}
    for b in TRAIN_MODE_BATCHES:
        value = expect_scalar(results[b], f"results[{b}]")
        if abs(value - 100 * expected[b]) < 1e-4:
            fail(f"results[{b}] = {value:.2f} is a percentage; store accuracies as fractions between 0 and 1, as "
                 "train_mode_accuracy returns them")
        if abs(value - expected[b]) > 1e-6:
            fail(f"results[{b}] = {value:.4f}, expected {expected[b]:.4f}: run your checked train_mode_accuracy "
                 "on the model and validation data of check.bn_exercise_setup()")
    # accuracies are multiples of 1/800, so a difference can sit exactly on 0.03: accept either rounding
    accepted = {min([b for b in TRAIN_MODE_BATCHES if abs(expected[b] - ref_eval) <= 0.03 + sign * 1e-6]
                    or [None]) for sign in (-1, 1)}
    if smallest_safe_batch is None or smallest_safe_batch not in accepted:
        fail(f"`smallest_safe_batch` = {smallest_safe_batch!r}: look for the smallest batch size in "
             f"{list(TRAIN_MODE_BATCHES)} whose training-mode accuracy is within 0.03 of eval_accuracy")
    passed(name, f"batches of 2: {expected[2]:.1%} vs {ref_eval:.1%} in eval mode; "
                 f"batches of {smallest_safe_batch}: {expected[smallest_safe_batch]:.1%}")


# --------------------------------------------------------------------------- task 5: conceptual questions

register_answers({
    "07.batch_of_one": {
        "choices": "'a', 'b', 'c' or 'd'",
        "correct": hash_answer("07.batch_of_one", "a"),
        "hints": {
            hash_answer("07.batch_of_one", "b"): "with N = 1 the batch mean is the sample itself: what is x - mu?",
            hash_answer("07.batch_of_one", "c"): "x_hat = ±1 is the case N = 2; with one sample there is no spread at all",
            hash_answer("07.batch_of_one", "d"): "only evaluation mode uses the running statistics; training mode "
                                                 "always normalizes with the batch's own",
        },
        "explain": "x - mu = 0, so x_hat = 0 and y = beta: the sample is erased (PyTorch raises an error instead)",
    },
    "07.layer_norm_depends_on_batch": {
        "choices": "True or False",
        "correct": hash_answer("07.layer_norm_depends_on_batch", False),
        "hints": {
            hash_answer("07.layer_norm_depends_on_batch", True): "layer norm's mean and variance run over the "
                                                                 "features of one sample, not over the batch",
        },
        "explain": "its statistics are per sample, so it is the same in training and evaluation, for any batch size",
    },
    "07.dropout_variance": {
        "choices": "'smaller', 'equal' or 'larger'",
        "correct": hash_answer("07.dropout_variance", "smaller"),
        "hints": {
            hash_answer("07.dropout_variance", "equal"): "inverted dropout preserves the mean, not the variance: "
                                                         "Var(h xi / q) = (sigma^2 + mu^2) / q - mu^2",
            hash_answer("07.dropout_variance", "larger"): "the dropout noise is there in training only; it adds "
                                                          "variance to what the running estimate saw",
        },
        "explain": "the running variance includes the dropout noise, which is absent at test time: the variance shift",
    },
    "07.noisy_bn": {
        "choices": "'a', 'b' or 'c'",
        "correct": hash_answer("07.noisy_bn", "b"),
        "hints": {
            hash_answer("07.noisy_bn", "a"): "re-read chapter 07, section 8: the noisy network's layer inputs shift "
                                             "the most, but how fast does it train?",
            hash_answer("07.noisy_bn", "c"): "it did not diverge: the noise is bounded, and the normalization "
                                             "still conditions the optimization",
        },
        "explain": "a stable input distribution is not what makes batch norm work",
    },
})
