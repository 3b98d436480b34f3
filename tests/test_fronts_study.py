"""The trade-off-front study's grid (entropy_lab/analysis/fronts_study.py): the covariance fractions
apply their nominal k, the knobs are the documented ones, the tree's entropy ceiling at known J."""

import math

import numpy as np

from entropy_lab.analysis import fronts_study as F


def test_cov_fractions_select_exactly_k_tokens():
    # n = 16·16 samples / 16 minibatches × tokens per sample: 16 on the bandit, 64 on the tree.
    assert F.minibatch_tokens("prompts-many/lowrank") == 16
    assert F.minibatch_tokens("tree/tabular") == 64
    for world in F.WORLDS:
        n = F.minibatch_tokens(world)
        fr = [v for m, _, v, _ in F.grid(world) if m in ("clip_cov", "kl_cov")]
        assert sorted({math.floor(f * n + 1e-9) for f in fr}) == list(F.COV_K)
        assert all(max(math.floor(f * n + 1e-9), 1) == round(f * n) for f in fr)


def test_grid_has_every_knob_once():
    methods = [m for m, *_ in F.grid("tree/tabular")]
    assert methods.count("grpo") == 1
    for m in ("repo_r", "repo_r_noclamp", "dapo", "adapo", "clip_cov", "kl_cov",
              "entropy_bonus"):
        assert methods.count(m) == 4
    noclamp = [o for m, _, _, o in F.grid("tree/tabular") if m == "repo_r_noclamp"]
    assert all(o["clamp_sign"] is False and o["algo"] == "repo_r" for o in noclamp)


def test_tree_ceiling_at_known_successes():
    # 4 correct of 4^4 = 256 sequences, T = 4: H_max(0) = log 252 / 4, H_max(1) = log 4 / 4,
    # and at J = 4/256 the uniform policy, log 256 / 4.
    f = F.ceiling_fn("tree/tabular")
    got = f(np.array([0.0, 1.0, 4 / 256]))
    assert np.allclose(got, [math.log(252) / 4, math.log(4) / 4, math.log(256) / 4])
