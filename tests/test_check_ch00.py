"""Chapter 00 checkers accept the reference and name the usual mistakes."""

import numpy as np
import pytest

from reglib import check
from reglib import generalization as gen


def test_reference_passes(capsys):
    check.split_indices(gen.split_indices)
    check.polynomial_features(gen.polynomial_features)
    check.fit_polynomial(gen.fit_polynomial)
    assert capsys.readouterr().out.count("✔") == 3


def test_split_mistakes():
    def unshuffled(n, vf, tf, seed):
        n_val, n_test = round(vf * n), round(tf * n)
        idx = np.arange(n)
        return idx[n_val + n_test:], idx[:n_val], idx[n_val:n_val + n_test]

    with pytest.raises(AssertionError, match="shuffle first"):
        check.split_indices(unshuffled)

    def overlapping(n, vf, tf, seed):
        tr, va, te = gen.split_indices(n, vf, tf, seed)
        return np.concatenate([tr, va[:1]]), va, te

    with pytest.raises(AssertionError, match="two splits"):
        check.split_indices(overlapping)

    def unseeded(n, vf, tf, seed):
        return gen.split_indices(n, vf, tf, np.random.randint(10**6))

    with pytest.raises(AssertionError, match="seed"):
        check.split_indices(unseeded)

    def swapped(n, vf, tf, seed):
        tr, va, te = gen.split_indices(n, vf, tf, seed)
        return tr, te, va

    with pytest.raises(AssertionError, match="order \\(train, val, test\\)"):
        check.split_indices(swapped)


def test_polynomial_mistakes():
    with pytest.raises(AssertionError, match="constant column"):
        check.polynomial_features(lambda x, d: gen.polynomial_features(x, d)[:, 1:])
    with pytest.raises(AssertionError, match="decreasing powers"):
        check.polynomial_features(lambda x, d: gen.polynomial_features(x, d)[:, ::-1])
    with pytest.raises(AssertionError, match="numpy.polyfit's order"):
        check.fit_polynomial(lambda x, y, d: np.polyfit(x, y, d))
    with pytest.raises(AssertionError, match="ridge"):
        check.fit_polynomial(lambda x, y, d: gen.fit_polynomial(x, y, d, alpha=1.0))


def _sweep(xt, yt, xv, yv, degrees):
    coefs = [gen.fit_polynomial(xt, yt, d) for d in degrees]
    return ([gen.mse(gen.predict_polynomial(c, xt), yt) for c in coefs],
            [gen.mse(gen.predict_polynomial(c, xv), yv) for c in coefs])


def test_degree_sweep_and_choice():
    check.degree_sweep(_sweep)
    with pytest.raises(AssertionError, match="root-mean-squared"):
        check.degree_sweep(lambda *a: tuple(np.sqrt(v) for v in _sweep(*a)))
    with pytest.raises(AssertionError, match="validation errors"):
        check.degree_sweep(lambda *a: (_sweep(*a)[1], _sweep(*a)[1]))
    train, val = _sweep(*check.sweep_data(), list(range(13)))
    check.best_degree(int(np.argmin(val)))
    with pytest.raises(AssertionError, match="training"):
        check.best_degree(int(np.argmin(train)))
    with pytest.raises(AssertionError, match="integer"):
        check.best_degree("3")


# --------------------------------------------------------------------------- mistakes the fixed inputs used to miss

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _slices(perm, n_val, n_test):
    return perm[n_val + n_test:], perm[:n_val], perm[n_val:n_val + n_test]


def test_split_edge_cases_and_rounding():
    def negative_slice(n, vf, tf, seed):  # test = perm[-n_test:] is the whole array when n_test = 0
        perm = np.random.default_rng(seed).permutation(n)
        n_val, n_test = round(vf * n), round(tf * n)
        return perm[n_val:n - n_test] if n_test else perm[n_val:], perm[:n_val], perm[-n_test:]

    with pytest.raises(AssertionError, match=r"perm\[-0:\]"):
        check.split_indices(negative_slice)

    def truncates(n, vf, tf, seed):
        return _slices(np.random.default_rng(seed).permutation(n), int(vf * n), int(tf * n))

    with pytest.raises(AssertionError, match="truncates"):
        check.split_indices(truncates)

    def rounds_train(n, vf, tf, seed):
        perm = np.random.default_rng(seed).permutation(n)
        n_train, n_val = round((1 - vf - tf) * n), round(vf * n)
        return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]

    with pytest.raises(AssertionError, match="training split the rest"):
        check.split_indices(rounds_train)

    def of_the_rest(n, vf, tf, seed):
        perm = np.random.default_rng(seed).permutation(n)
        n_val = round(vf * n)
        return _slices(perm, n_val, round(tf * (n - n_val)))

    with pytest.raises(AssertionError, match="expected"):
        check.split_indices(of_the_rest)

    def half_shuffled(n, vf, tf, seed):  # only the first half is shuffled: late samples never validate
        perm = np.arange(n)
        perm[: n // 2] = np.random.default_rng(seed).permutation(n // 2)
        return _slices(perm, round(vf * n), round(tf * n))

    with pytest.raises(AssertionError, match="full permutation|contiguous"):
        check.split_indices(half_shuffled)

    def legacy_rng(n, vf, tf, seed):  # another correct shuffle
        np.random.seed(seed)
        return _slices(np.random.permutation(n), round(vf * n), round(tf * n))

    check.split_indices(legacy_rng)


def test_polynomial_features_edge_cases():
    with pytest.raises(AssertionError, match="one row per sample"):
        check.polynomial_features(lambda x, d: gen.polynomial_features(x, d).T)
    check.polynomial_features(lambda x, d: np.vander(np.asarray(x), d + 1, increasing=True))
    check.polynomial_features(lambda x, d: np.stack([np.asarray(x, float) ** j for j in range(d + 1)], axis=1))


def test_fit_polynomial_variants():
    def normal_equations(x, y, d):
        phi = gen.polynomial_features(x, d)
        return np.linalg.solve(phi.T @ phi, phi.T @ y)

    check.fit_polynomial(normal_equations)
    check.fit_polynomial(lambda x, y, d: np.polynomial.polynomial.polyfit(x, y, d))
    with pytest.raises(AssertionError, match="rescaled window"):
        check.fit_polynomial(lambda x, y, d: np.polynomial.Polynomial.fit(x, y, d).coef)


def test_degree_sweep_mistakes():
    def sums(*a):
        xt, _, xv, _, _ = a
        tr, va = _sweep(*a)
        return np.array(tr) * len(xt), np.array(va) * len(xv)

    with pytest.raises(AssertionError, match="sums of squared errors"):
        check.degree_sweep(sums)

    def divides_by_train(*a):
        xt, _, xv, _, _ = a
        tr, va = _sweep(*a)
        return tr, np.array(va) * len(xv) / len(xt)

    with pytest.raises(AssertionError, match="training\\* samples"):
        check.degree_sweep(divides_by_train)

    def positions(xt, yt, xv, yv, degrees):
        return _sweep(xt, yt, xv, yv, list(range(len(degrees))))

    with pytest.raises(AssertionError, match="range\\(len\\(degrees\\)\\)"):
        check.degree_sweep(positions)

    def sorted_degrees(xt, yt, xv, yv, degrees):
        return _sweep(xt, yt, xv, yv, sorted(degrees))

    with pytest.raises(AssertionError, match="sorted order of degree"):
        check.degree_sweep(sorted_degrees)


def test_best_degree_accepts_the_one_standard_error_rule():
    from reglib.check.ch00 import _sweep_choice

    degrees, train, val, best, se, ok = _sweep_choice()
    assert best in ok and len(ok) >= 2  # the simpler degree within noise is accepted too
    for d in ok:
        check.best_degree(d)
    with pytest.raises(AssertionError, match="prefer the simpler"):
        check.best_degree(max(d for d in degrees if d > best and val[d] <= val[best] + se))
    with pytest.raises(AssertionError, match="more than one standard error"):
        check.best_degree(3)
    with pytest.raises(AssertionError, match="more than one standard error"):
        check.best_degree(1)
    with pytest.raises(AssertionError, match="not one of the degrees"):
        check.best_degree(20)


# --------------------------------------------------------------------------- property-based


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 3), st.integers(1, 4), st.sampled_from(["val", "test", "train"]))
def test_split_property_moving_indices_fails(k, seed, src):
    """The reference passes on any seed offset; moving or dropping an index breaks it."""
    def moved(n, vf, tf, s):
        tr, va, te = gen.split_indices(n, vf, tf, s + seed)
        parts = {"train": tr, "val": va, "test": te}
        if len(parts[src]) > k:
            parts[src] = np.delete(parts[src], k)  # one index lost
        return parts["train"], parts["val"], parts["test"]

    check.split_indices(lambda n, vf, tf, s: gen.split_indices(n, vf, tf, s + seed))
    with pytest.raises(AssertionError):
        check.split_indices(moved)


@settings(max_examples=15, deadline=None)
@given(st.floats(1e-4, 0.5), st.integers(0, 6), st.booleans())
def test_polynomial_properties(rel, col, absolute):
    """Round-off perturbations pass; a relative error of 1e-4 or more in any column fails."""
    def tiny(x, d):
        return gen.polynomial_features(x, d) * (1 + 1e-13)

    check.polynomial_features(tiny)

    def perturbed(x, d):
        phi = gen.polynomial_features(x, d).copy()
        c = min(col, d)
        phi[:, c] = phi[:, c] + rel if absolute else phi[:, c] * (1 + rel)
        return phi

    with pytest.raises(AssertionError):
        check.polynomial_features(perturbed)

    def coef_off(x, y, d):
        w = gen.fit_polynomial(x, y, d).copy()
        w[min(col, d)] += rel
        return w

    with pytest.raises(AssertionError):
        check.fit_polynomial(coef_off)
    check.fit_polynomial(lambda x, y, d: gen.fit_polynomial(x, y, d) * (1 + 1e-10))


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 12), st.floats(1e-3, 1.0), st.booleans())
def test_degree_sweep_property(k, rel, on_val):
    """Changing the error of any one degree by a relative 1e-3 or more is rejected."""
    def wrong(xt, yt, xv, yv, degrees):
        tr, va = (np.array(v, dtype=float) for v in _sweep(xt, yt, xv, yv, degrees))
        target = va if on_val else tr
        target[min(k, len(degrees) - 1)] *= 1 + rel
        return tr, va

    with pytest.raises(AssertionError):
        check.degree_sweep(wrong)
