"""REPO shaping: hand cases, stop-gradient, and REPO(β) ≡ entropy bonus in expectation
(exact sum over actions, and Monte Carlo with a tolerance from the standard error)."""

from __future__ import annotations

import math

import torch

from entropy_lab.algorithms import get_loss, repo, repo_d, repo_r
from entropy_lab.theory import centered_logprob, entropy_grad

F64 = torch.float64


def t(x):
    return torch.tensor(x, dtype=F64)


def test_repo_taken_token_and_centred_forms():
    adv, logp = t([[1.0, -1.0]]), t([[-2.0, -0.5]])
    # A − β·log π = [1 + 0.2, −1 + 0.05]
    torch.testing.assert_close(repo(adv, logp, beta=0.1), t([[1.2, -0.95]]))
    # A − β·L with L = [0.3, −0.2]: [1 − 0.03, −1 + 0.02]
    torch.testing.assert_close(repo(adv, logp, beta=0.1, centered_logprob=t([[0.3, -0.2]])),
                               t([[0.97, -0.98]]))


def test_repo_r_cases():
    adv, logp = t([[2.0, -2.0, 0.0]]), t([[-3.0, -3.0, -1.0]])
    # A>0: 2(1 − 0.01·(−3)) = 2.06;  A<0: −2(1 + 0.01·(−3)) = −1.94;  A=0: 0
    torch.testing.assert_close(repo_r(adv, logp, zeta=0.01), t([[2.06, -1.94, 0.0]]))


def test_repo_r_floor_and_sign_clamp():
    # floor: log π = −100 -> −20: 1·(1 + 0.01·20) = 1.2
    torch.testing.assert_close(repo_r(t([[1.0]]), t([[-100.0]]), zeta=0.01), t([[1.2]]))
    torch.testing.assert_close(repo_r(t([[1.0]]), t([[-100.0]]), zeta=0.01, logp_floor=None),
                               t([[2.0]]))
    # A<0 with ζ·log π < −1: −1·(1 + 0.1·(−15)) = +0.5 -> clamped to 0
    adv, logp = t([[-1.0]]), t([[-15.0]])
    torch.testing.assert_close(repo_r(adv, logp, zeta=0.1), t([[0.0]]))
    torch.testing.assert_close(repo_r(adv, logp, zeta=0.1, clamp_sign=False), t([[0.5]]))
    # negative ζ (the controller's sign flip) lowers rare correct tokens: 1·(1 − 0.05·2) = 0.9
    torch.testing.assert_close(repo_r(t([[1.0]]), t([[-2.0]]), zeta=-0.05), t([[0.9]]))


LN2 = math.log(2.0)


def test_repo_r_raw_and_centred_forms_by_hand():
    # One state with π = (1/2, 1/4, 1/4): log π = (−ln2, −2ln2, −2ln2), H = 1.5 ln2,
    # L = log π + H = (+0.5 ln2, −0.5 ln2, −0.5 ln2). Three sampled tokens y = (a1, a2, a3) with
    # A = (+1, −1, +2), ζ = 0.1.
    z = torch.log(t([0.5, 0.25, 0.25]))
    y = torch.tensor([0, 1, 2])
    logp = torch.log_softmax(z, -1)[y][None, :]
    ell = centered_logprob(z)[y][None, :]
    torch.testing.assert_close(ell, t([[0.5 * LN2, -0.5 * LN2, -0.5 * LN2]]))
    adv = t([[1.0, -1.0, 2.0]])
    # raw:     a1: 1·(1 − 0.1·(−ln2)) = 1 + 0.1 ln2;   a2: −1·(1 + 0.1·(−2ln2)) = −1 + 0.2 ln2;
    #          a3: 2·(1 − 0.1·(−2ln2)) = 2 + 0.4 ln2
    raw = repo_r(adv, logp, zeta=0.1)
    torch.testing.assert_close(raw, t([[1 + 0.1 * LN2, -1 + 0.2 * LN2, 2 + 0.4 * LN2]]))
    torch.testing.assert_close(repo_r(adv, logp, zeta=0.1, form="raw", centered_logprob=ell),
                               raw)       # the raw form ignores L
    # centred: a1: 1·(1 − 0.1·0.5ln2) = 1 − 0.05 ln2;  a2: −1·(1 + 0.1·(−0.5ln2)) = −1 + 0.05 ln2;
    #          a3: 2·(1 − 0.1·(−0.5ln2)) = 2 + 0.1 ln2
    centred = repo_r(adv, logp, zeta=0.1, form="centred", centered_logprob=ell)
    torch.testing.assert_close(centred, t([[1 - 0.05 * LN2, -1 + 0.05 * LN2, 2 + 0.1 * LN2]]))
    # raw − centred = ζ|A|H = 0.1·(1, 1, 2)·1.5 ln2 = (0.15, 0.15, 0.30)·ln2: positive samples
    # gain, negative ones lose magnitude
    torch.testing.assert_close(raw - centred, t([[0.15 * LN2, 0.15 * LN2, 0.3 * LN2]]))


def test_repo_r_centred_sign_clamp_by_hand():
    # K = 100, π = (1/2, then 99 × 1/198): H = 0.5 ln2 + 0.5 ln198 = 0.5 ln396;
    # L_1 = −ln2 + 0.5 ln396 = 0.5 ln99 ≈ +2.298, L_2 = −ln198 + 0.5 ln396 = −0.5 ln99.
    z = torch.log(torch.cat([t([0.5]), torch.full((99,), 0.5 / 99, dtype=F64)]))
    y = torch.tensor([0, 1])
    logp = torch.log_softmax(z, -1)[y][None, :]
    ell = centered_logprob(z)[y][None, :]
    half_ln99 = 0.5 * math.log(99.0)
    torch.testing.assert_close(ell, t([[half_ln99, -half_ln99]]))
    adv = t([[1.0, -1.0]])
    # ζ = 0.5, ζ·0.5 ln99 ≈ 1.149 > 1. Centred: a1 (A>0): 1·(1 − 0.25 ln99) ≈ −0.149 -> 0;
    # a2 (A<0): −1·(1 + 0.5·(−0.5 ln99)) = −1 + 0.25 ln99 ≈ +0.149 -> 0.
    q = 0.25 * math.log(99.0)
    kw = {"zeta": 0.5, "form": "centred", "centered_logprob": ell}
    torch.testing.assert_close(repo_r(adv, logp, **kw), t([[0.0, 0.0]]))
    torch.testing.assert_close(repo_r(adv, logp, clamp_sign=False, **kw), t([[1 - q, -1 + q]]))
    # raw, same tokens: a1: 1·(1 + 0.5 ln2) — log π ≤ 0, so A>0 never clamps at ζ > 0;
    # a2: −1·(1 − 0.5 ln198) = −1 + 0.5 ln198 ≈ +1.64 -> 0
    raw = repo_r(adv, logp, zeta=0.5)
    torch.testing.assert_close(raw, t([[1 + 0.5 * LN2, 0.0]]))
    torch.testing.assert_close(repo_r(adv, logp, zeta=0.5, clamp_sign=False),
                               t([[1 + 0.5 * LN2, -1 + 0.5 * math.log(198.0)]]))


def test_repo_r_form_difference_is_zeta_abs_a_h_where_no_clamp_binds():
    # many states and tokens: |ζλ| ≤ 0.05·(|log π| + H) < 1, so neither clamp binds
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 6, 5, generator=g, dtype=F64)             # [B, T, K] one state per token
    y = torch.randint(0, 5, (4, 6, 1), generator=g)
    logp = torch.log_softmax(z, -1).gather(-1, y)[..., 0]
    ell = centered_logprob(z).gather(-1, y)[..., 0]
    h = -(torch.softmax(z, -1) * torch.log_softmax(z, -1)).sum(-1)
    adv = torch.randn(4, 6, generator=g, dtype=F64)
    zeta = 0.05
    diff = repo_r(adv, logp, zeta=zeta) - repo_r(adv, logp, zeta=zeta, form="centred",
                                                 centered_logprob=ell)
    torch.testing.assert_close(diff, zeta * adv.abs() * h, rtol=1e-12, atol=1e-14)
    # raw > centred on every token (A ≠ 0, H > 0): both signs of A move up by ζ|A|H
    assert bool((diff > 0).all())


def test_repo_r_form_term_expected_gradient():
    # The extra term of the raw form, ζ|A|H·∇log π, in expectation over one state with the
    # large-group z-score advantages A⁺ = (1 − p)/σ, A⁻ = −p/σ: ζH(1 − 2p)/σ·∇p (shaping.py).
    z = t([0.7, -0.2, 0.1, -1.0, 0.4])
    correct = t([1.0, 0.0, 1.0, 0.0, 0.0])
    pi = torch.softmax(z, -1)
    p = float((pi * correct).sum())
    sigma = math.sqrt(p * (1 - p))
    abs_a = torch.where(correct > 0, (1 - p) / sigma, p / sigma)
    h = float(-(pi * pi.log()).sum())
    zeta = 0.1
    onehot = torch.eye(5, dtype=F64)
    term = (pi[:, None] * (zeta * abs_a * h)[:, None] * (onehot - pi)).sum(0)
    grad_p = pi * (correct - p)                                   # ∇_z p
    torch.testing.assert_close(term, zeta * h * (1 - 2 * p) / sigma * grad_p)


def test_repo_r_per_replica_zeta():
    adv, logp = t([[[1.0]], [[1.0]]]), t([[[-2.0]], [[-2.0]]])
    out = repo_r(adv, logp, zeta=t([0.1, -0.1]))
    torch.testing.assert_close(out, t([[[1.2]], [[0.8]]]))


def test_repo_d_beta_from_entropy_gap():
    # β = ζ(H_target − H) = 0.1·(1.5 − 1.0) = 0.05;  A − β·log π = 1 + 0.05·2 = 1.1
    out = repo_d(t([[1.0]]), t([[-2.0]]), zeta=0.1, entropy=1.0, target_entropy=1.5)
    torch.testing.assert_close(out, t([[1.1]]))
    above = repo_d(t([[1.0]]), t([[-2.0]]), zeta=0.1, entropy=2.0, target_entropy=1.5)
    torch.testing.assert_close(above, t([[0.9]]))


def test_shaping_stops_gradient():
    logp = t([[-1.0, -2.0]]).requires_grad_(True)
    for out in (repo(t([[1.0, -1.0]]), logp, beta=0.2), repo_r(t([[1.0, -1.0]]), logp)):
        assert not out.requires_grad


Z = t([1.0, 0.3, -0.5, 0.0, -1.2])
A = t([1.0, 0.0, -1.0, 0.5, 2.0])
BETA = 0.3


def _target():
    p = torch.softmax(Z, -1)
    return p * (A - (p * A).sum()) + BETA * entropy_grad(Z)     # ∇E_π[A] + β∇H


def test_repo_expected_gradient_is_entropy_bonus_exact():
    # Σ_a π_a A'_a ∇log π_a, with ∇_z log π_a = e_a − π, for both forms of ℓ
    p, logp = torch.softmax(Z, -1), torch.log_softmax(Z, -1)
    onehot = torch.eye(5, dtype=F64)
    for ell in (None, centered_logprob(Z)):
        shaped = repo(A[None, :], logp[None, :], beta=BETA,
                      centered_logprob=None if ell is None else ell[None, :])[0]
        grad = (p[:, None] * shaped[:, None] * (onehot - p)).sum(0)
        torch.testing.assert_close(grad, _target(), rtol=1e-12, atol=1e-14)


def _mc_gradient(beta, centred, n=100_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(Z, -1)
    a = torch.multinomial(p, n, replacement=True, generator=g)
    z = Z.clone().requires_grad_(True)
    logp_n = torch.log_softmax(z, -1)[a][:, None]                  # [B = n, T = 1]
    ell = centered_logprob(Z)[a][:, None] if centred else None
    adv = repo(A[a][:, None], logp_n, beta=beta, centered_logprob=ell)
    loss, _ = get_loss("pg")(logp_n, logp_n.detach(), adv, torch.ones(n, 1))
    loss.backward()
    per_sample = adv * (torch.eye(5, dtype=F64)[a] - p)            # A'_i (e_{a_i} − π)
    se = per_sample.std(0) / n ** 0.5
    return -z.grad, se


def test_repo_monte_carlo_matches_entropy_bonus_gradient():
    target = _target()
    for centred in (False, True):
        est, se = _mc_gradient(BETA, centred)
        assert ((est - target).abs() <= 4 * se).all(), (est, target, se)
    # the check has power: without the shaping the estimate misses the β∇H term
    est0, se0 = _mc_gradient(0.0, False)
    assert ((est0 - target).abs() > 4 * se0).any()
