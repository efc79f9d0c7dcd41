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
