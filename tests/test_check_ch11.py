"""The checkers of exercise 11 accept the reference and reject each named mistake with its own hint."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reglib import check
from reglib.check import ch11
from reglib.optim import Adam

# --------------------------------------------------------------------------- adam_step


def _adam(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8, *, bias1=True, bias2=True,
          eps_inside=False, decay_lr=True, decay_after=False, flip=False, no_decay=False, abs_v=False,
          keep_m=False):
    b1, b2 = betas
    decoupled = decoupled != flip
    g = grad if (decoupled or no_decay) else grad + lam * theta
    if decoupled and not decay_after and not no_decay:
        theta = theta * (1 - (lr * lam if decay_lr else lam))
    m_new = m if keep_m else b1 * m + (1 - b1) * g
    v_new = b2 * v + (1 - b2) * (g.abs() if abs_v else g * g)
    m_hat = m_new / (1 - b1 ** t) if bias1 else m_new
    v_hat = v_new / (1 - b2 ** t) if bias2 else v_new
    denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
    new = theta - lr * m_hat / denom
    if decoupled and decay_after and not no_decay:
        new = new * (1 - lr * lam)
    return new, m_new, v_new


def _with(**kw):
    return lambda *args, **k: _adam(*args, **k, **kw)


def test_adam_step_accepts_the_reference_and_torch(capsys):
    check.adam_step(_adam)

    def via_reglib(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8):
        p = theta.clone().requires_grad_(True)
        opt = Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=lam, decoupled=decoupled)
        opt.state[p] = {"step": t - 1, "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
        p.grad = grad.clone()
        opt.step()
        return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]

    check.adam_step(via_reglib)
    assert "✔ adam_step" in capsys.readouterr().out


@pytest.mark.parametrize("candidate, match", [
    (_with(flip=True), "L2 added after the moments|went through the moments"),
    (_with(decay_lr=False), "decay not scaled by the learning rate"),
    (_with(decay_after=True), "applied after the Adam step"),
    (_with(bias1=False, bias2=False), "missing bias correction"),
    (_with(bias1=False), "bias correction of m"),
    (_with(bias2=False), "bias correction of v"),
    (_with(eps_inside=True), "inside the square root"),
    (_with(no_decay=True), "no weight decay"),
    (_with(keep_m=True), "unchanged"),
    (_with(abs_v=True), "squared"),
])
def test_adam_step_names_each_mistake(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.adam_step(candidate)


def test_adam_step_coupled_only_mistake_is_named_as_decoupled():
    def always_decoupled(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8):
        return _adam(theta, grad, m, v, t, lr, lam, True, betas, eps)

    with pytest.raises(AssertionError, match="L2 added after the moments"):
        check.adam_step(always_decoupled)

    def always_coupled(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8):
        return _adam(theta, grad, m, v, t, lr, lam, False, betas, eps)

    with pytest.raises(AssertionError, match="went through the moments"):
        check.adam_step(always_coupled)


def _mutating_adam(theta, grad, m, v, t, lr, lam, decoupled):
    out = _adam(theta, grad, m, v, t, lr, lam, decoupled)
    m.mul_(0.9)
    return out


@pytest.mark.parametrize("candidate, match", [
    (lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda theta, *a: (theta * float("nan"), theta, theta), "NaN"),
    (lambda theta, *a: theta, "three tensors"),
    (lambda theta, *a: (theta[:3], theta, theta), "shape"),
    (_mutating_adam, "modified its input"),
])
def test_adam_step_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.adam_step(candidate)


# --------------------------------------------------------------------------- sam_step


def _sam(params, grad_fn, lr, rho, *, normalise=True, per_tensor=False, at_original=False, from_perturbed=False,
         sign=1.0):
    g = grad_fn(params)
    norm = torch.sqrt(sum((x ** 2).sum() for x in g))
    e = [rho * x / (x.norm() if per_tensor else (norm if normalise else 1.0)) for x in g]
    pert = [p + sign * ei for p, ei in zip(params, e)]
    gs = g if at_original else grad_fn(pert)
    start = pert if from_perturbed else params
    return [s - lr * x for s, x in zip(start, gs)]


def test_sam_step_accepts_the_reference(capsys):
    check.sam_step(_sam)
    assert "✔ sam_step" in capsys.readouterr().out


@pytest.mark.parametrize("kw, match", [
    ({"normalise": False}, "not normalised"),
    ({"per_tensor": True}, "its own norm"),
    ({"at_original": True}, "gradient was taken at the original point"),
    ({"from_perturbed": True}, "starts from the perturbed weights"),
    ({"sign": -1.0}, "downhill"),
])
def test_sam_step_names_each_mistake(kw, match):
    with pytest.raises(AssertionError, match=match):
        check.sam_step(lambda *a: _sam(*a, **kw))


def _restoring_sam(params, grad_fn, lr, rho):
    """The PyTorch habit: perturb in place, take the gradient, undo the perturbation (θ + ê − ê ≠ θ bit for bit)."""
    grads = grad_fn(params)
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    steps = [rho * g / norm for g in grads]
    for p, e in zip(params, steps):
        p.add_(e)
    grads_sam = grad_fn(params)
    for p, e in zip(params, steps):
        p.sub_(e)
    return [p - lr * g for p, g in zip(params, grads_sam)]


def _stepping_sam(params, grad_fn, lr, rho):
    """Correct values, but the SGD step is taken on the input tensors themselves."""
    out = _sam(params, grad_fn, lr, rho)
    for p, new in zip(params, out):
        p.copy_(new)
    return params


def _mutating_sam(params, grad_fn, lr, rho):
    out = _sam(params, grad_fn, lr, rho)
    params[0].add_(1.0)
    return out


@pytest.mark.parametrize("candidate, match", [
    (lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda params, *a: [p * float("nan") for p in params], "NaN"),
    (lambda params, *a: torch.cat([p.flatten() for p in params]), "list of 2 tensors"),
    (lambda params, *a: [p.flatten() for p in params], "shape"),
    (_mutating_sam, "modified its input"),
    (_restoring_sam, "changed them back"),
    (_stepping_sam, "modified its input `params` in place"),
])
def test_sam_step_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.sam_step(candidate)


# --------------------------------------------------------------------------- modified_loss_gradient


def _parts(loss_fn, theta):
    th = theta.detach().clone().requires_grad_(True)
    g = torch.autograd.grad(loss_fn(th), th)[0]
    hg = torch.autograd.functional.hvp(loss_fn, theta.detach(), g)[1]
    return g, hg


def test_modified_loss_gradient_accepts_the_reference(capsys):
    from reglib.optim import modified_loss

    def ref(loss_fn, theta, lr):
        th = theta.detach().clone().requires_grad_(True)
        return torch.autograd.grad(modified_loss(loss_fn(th), [th], lr), th)[0]

    check.modified_loss_gradient(ref)
    check.modified_loss_gradient(lambda f, th, lr: (lambda g, hg: g + lr / 2 * hg)(*_parts(f, th)))
    assert "✔ modified_loss_gradient" in capsys.readouterr().out


@pytest.mark.parametrize("combine, match", [
    (lambda g, hg, lr: g, "this is ∇L itself"),
    (lambda g, hg, lr: g + lr / 4 * hg, "not lr/4"),
    (lambda g, hg, lr: g + lr * hg, "the factor is lr/2"),
    (lambda g, hg, lr: g - lr / 2 * hg, "sign error"),
    (lambda g, hg, lr: lr / 2 * hg, "only the correction term"),
])
def test_modified_loss_gradient_names_each_mistake(combine, match):
    with pytest.raises(AssertionError, match=match):
        check.modified_loss_gradient(lambda f, th, lr: combine(*_parts(f, th), lr))


def _mutating_mod(loss_fn, theta, lr):
    g, hg = _parts(loss_fn, theta)
    theta.mul_(2)
    return g + lr / 2 * hg


@pytest.mark.parametrize("candidate, match", [
    (lambda *a: (_ for _ in ()).throw(NotImplementedError()), "not implemented yet"),
    (lambda f, th, lr: th * float("nan"), "NaN"),
    (lambda f, th, lr: f(th), "shape"),
    (_mutating_mod, "modified its input"),
])
def test_modified_loss_gradient_rejects_broken_candidates(candidate, match):
    with pytest.raises(AssertionError, match=match):
        check.modified_loss_gradient(candidate)


# --------------------------------------------------------------------------- issue: mistakes the fixed inputs missed
# Wrong answers written from the task text alone; each must be rejected with the hint that names it.


def _adam_fixed(betas=None, eps=None, t_shift=0, hats=False, v_raw=False):
    """An Adam step that ignores its betas / eps arguments, or shifts t, or returns m̂, v̂, or updates v with the
    raw gradient."""
    def step(theta, grad, m, v, t, lr, lam, decoupled, betas_in=(0.9, 0.999), eps_in=1e-8, **kw):
        b1, b2 = betas or kw.get("betas", betas_in)
        e = eps if eps is not None else kw.get("eps", eps_in)
        g = grad if decoupled else grad + lam * theta
        th = theta * (1 - lr * lam) if decoupled else theta
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * (grad if v_raw else g) ** 2
        m_hat, v_hat = m_new / (1 - b1 ** (t + t_shift)), v_new / (1 - b2 ** (t + t_shift))
        out = th - lr * m_hat / (v_hat.sqrt() + e)
        return (out, m_hat, v_hat) if hats else (out, m_new, v_new)
    return step


def _torch_adam(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8):
    """Correct: PyTorch's own Adam / AdamW, one step from the given state."""
    p = torch.nn.Parameter(theta.clone())
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)([p], lr=lr, betas=betas, eps=eps, weight_decay=lam)
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    p.grad = grad.clone()
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


def _sam_norms(params, grad_fn, lr, rho, squared=False):
    g = grad_fn(params)
    norm = sum((x ** 2).sum() for x in g) if squared else sum(x.norm() for x in g)
    return [p - lr * q for p, q in zip(params, grad_fn([p + rho * x / norm for p, x in zip(params, g)]))]


def _mod_with(coef=0.25, fixed_lr=None, term="square"):
    def gradient(loss_fn, theta, lr):
        th = theta.detach().clone().requires_grad_(True)
        loss = loss_fn(th)
        (g,) = torch.autograd.grad(loss, th, create_graph=True)
        extra = {"square": (g ** 2).sum(), "norm": g.norm(), "sum": g.sum()}[term]
        return torch.autograd.grad(loss + (fixed_lr or lr) * coef * extra, th)[0]
    return gradient


@pytest.mark.parametrize("checker, candidate, match", [
    ("adam_step", _adam_fixed(betas=(0.9, 0.999), eps=1e-8), "ignores its betas and eps arguments"),
    ("adam_step", _adam_fixed(betas=(0.9, 0.999)), "ignores its betas argument"),
    ("adam_step", _adam_fixed(eps=1e-8), "ignores its eps argument"),
    ("adam_step", _adam_fixed(t_shift=1), "bias correction used t \\+ 1"),
    ("adam_step", _adam_fixed(t_shift=-1), "first step \\(t=1\\)"),
    ("adam_step", _adam_fixed(hats=True), "bias-corrected moments"),
    ("adam_step", _adam_fixed(v_raw=True), "v was updated with the raw gradient"),
    ("sam_step", _sam_norms, "added up the norms"),
    ("sam_step", lambda *a: _sam_norms(*a, squared=True), "without the square root"),
    ("modified_loss_gradient", _mod_with(fixed_lr=0.1), "ignores its lr argument"),
    ("modified_loss_gradient", _mod_with(term="norm"), "the norm"),
    ("modified_loss_gradient", _mod_with(term="sum"), "sum of the gradient's entries"),
])
def test_mistakes_found_by_new_inputs(checker, candidate, match):
    with pytest.raises(AssertionError, match=match):
        getattr(check, checker)(candidate)


@pytest.mark.parametrize("checker, candidate", [
    ("adam_step", _torch_adam),
    ("sam_step", lambda ps, gf, lr, rho: (lambda g: [p - lr * q for p, q in zip(ps, gf(
        [p + rho * x / (torch.cat([y.flatten() for y in g]).norm() + 1e-12) for p, x in zip(ps, g)]))])(gf(ps))),
    ("modified_loss_gradient", lambda f, th, lr: (lambda g: g + lr / 2 * torch.func.jvp(
        torch.func.grad(f), (th.detach(),), (g,))[1])(torch.func.grad(f)(th.detach()))),
])
def test_correct_variants_pass(checker, candidate):
    getattr(check, checker)(candidate)


# --------------------------------------------------------------------------- property-based (hypothesis)
# Random perturbations of a correct answer: those at float precision must pass, those that break the contract
# must fail. derandomize=True: the same examples on every run.

PROP = settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROP
@given(rel=st.floats(-1e-13, 1e-13), which=st.sampled_from(["beta1", "beta2", "lr", "lam"]),
       delta=st.floats(0.01, 0.5))
def test_adam_step_properties(rel, which, delta):
    check.adam_step(lambda *a, **k: tuple(x * (1 + rel) for x in _adam(*a, **k)))

    def broken(theta, grad, m, v, t, lr, lam, decoupled, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        b1 = 1 - (1 - b1) * (1 + delta) if which == "beta1" else b1
        b2 = 1 - (1 - b2) * (1 + delta) if which == "beta2" else b2
        lr = lr * (1 + delta) if which == "lr" else lr
        lam = lam * (1 + delta) if which == "lam" else lam
        return _adam(theta, grad, m, v, t, lr, lam, decoupled, (b1, b2), eps)

    with pytest.raises(AssertionError):
        check.adam_step(broken)


@PROP
@given(rel=st.floats(-1e-12, 1e-12), which=st.sampled_from(["lr", "rho"]), delta=st.floats(0.01, 0.5))
def test_sam_step_properties(rel, which, delta):
    check.sam_step(lambda *a: [x * (1 + rel) for x in _sam(*a)])

    def broken(params, grad_fn, lr, rho):
        return _sam(params, grad_fn, lr * (1 + delta * (which == "lr")), rho * (1 + delta * (which == "rho")))

    with pytest.raises(AssertionError):
        check.sam_step(broken)


@PROP
@given(rel=st.floats(-1e-12, 1e-12), delta=st.floats(0.01, 0.5))
def test_modified_loss_gradient_properties(rel, delta):
    check.modified_loss_gradient(lambda f, th, lr: (lambda g, hg: (g + lr / 2 * hg) * (1 + rel))(*_parts(f, th)))
    with pytest.raises(AssertionError):
        check.modified_loss_gradient(lambda f, th, lr: (lambda g, hg: g + lr * (1 + delta) / 2 * hg)(*_parts(f, th)))


# --------------------------------------------------------------------------- decay_experiment


def _run(decoupled, **kw):
    prob = check.decay_experiment_problem()
    theta = torch.zeros(4, dtype=torch.float64)
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    for t in range(1, prob["steps"] + 1):
        theta, m, v = _adam(theta, prob["a"] * (theta - prob["c"]), m, v, t, prob["lr"], prob["lam"], decoupled, **kw)
    return theta


def test_decay_experiment_accepts_the_reference(capsys):
    check.decay_experiment(_run(False), _run(True))
    assert "✔ decay_experiment" in capsys.readouterr().out


def test_decay_experiment_rejects_wrong_results():
    with pytest.raises(AssertionError, match="swapped"):
        check.decay_experiment(_run(True), _run(False))
    with pytest.raises(AssertionError, match="theta_coupled"):
        check.decay_experiment(_run(False) + 0.01, _run(True))
    with pytest.raises(AssertionError, match="theta_decoupled"):
        check.decay_experiment(_run(False), _run(True, decay_lr=False))
    with pytest.raises(AssertionError, match="NaN"):
        check.decay_experiment(_run(False) * float("nan"), _run(True))
    with pytest.raises(AssertionError, match="shape"):
        check.decay_experiment(_run(False)[:2], _run(True))


# --------------------------------------------------------------------------- conceptual answers


@pytest.mark.parametrize("question, right, wrong, match", [
    ("11.double_lr", "halve", "double", "already doubles"),
    ("11.double_lr", "halve", "keep", "per-step shrinkage"),
    ("11.curvature", "coupled", "decoupled", "same value"),
    ("11.curvature", "Coupled ", "both", "compare"),
    ("11.tune_rho", "validation", "test", "tuning on the test split"),
    ("11.tune_rho", "validation", "train", "memorising"),
])
def test_conceptual_answers(question, right, wrong, match, capsys):
    check.answer(question, right)
    assert "✔" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=match):
        check.answer(question, wrong)
    with pytest.raises(AssertionError, match="no answer yet"):
        check.answer(question, None)


def test_module_exports():
    assert set(ch11.__all__) <= set(check.__all__)
