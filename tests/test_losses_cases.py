"""Hand-computed cases for each loss and aggregation mode (arithmetic in the comments)."""

from __future__ import annotations

import math

import torch

from entropy_lab.algorithms import (
    aggregate,
    cispo,
    clip_cov,
    entropy_bonus,
    gspo,
    icepop,
    kl_cov,
    pg,
    ppo,
    tis,
)
from entropy_lab.theory import entropy, entropy_grad

F64 = torch.float64


def t(*rows):
    return torch.tensor(rows, dtype=F64)


def leaf(*rows):
    return t(*rows).requires_grad_(True)


def close(a, b, tol=1e-12):
    torch.testing.assert_close(torch.as_tensor(a, dtype=F64), torch.as_tensor(b, dtype=F64),
                               rtol=tol, atol=tol)


# ---------------------------------------------------------------- aggregation
def test_aggregation_modes():
    loss = t([1.0, 2.0, 3.0], [4.0, 9.0, 9.0])
    mask = t([1, 1, 1], [1, 0, 0])
    close(aggregate(loss, mask, "token-mean"), 10 / 4)           # (1+2+3+4)/4
    close(aggregate(loss, mask, "seq-mean-token-mean"), 3.0)     # (6/3 + 4/1)/2
    close(aggregate(loss, mask, "seq-mean-token-sum"), 5.0)      # (6 + 4)/2
    close(aggregate(loss, mask, "seq-mean-token-sum-norm"), 5 / 3)        # norm = T = 3
    close(aggregate(loss, mask, "seq-mean-token-sum-norm", norm=5), 1.0)  # (6+4)/2/5


def test_aggregation_empty_row_counts_in_b_but_adds_zero():
    loss = t([2.0, 4.0], [7.0, 7.0])
    mask = t([1, 1], [0, 0])
    close(aggregate(loss, mask, "seq-mean-token-mean"), 1.5)     # (3 + 0)/2, verl: NaN
    close(aggregate(loss, mask, "token-mean"), 3.0)


# ---------------------------------------------------------------- pg
def test_pg_value_and_gradient():
    logp = leaf([-1.0, -2.0])
    adv, ones = t([1.0, -0.5]), t([1.0, 1.0])
    loss, m = pg(logp, logp.detach(), adv, ones)
    close(loss, 0.0)                      # (−1·(−1) + 0.5·(−2))/2 = (1 − 1)/2
    loss.backward()
    close(logp.grad, t([-0.5, 0.25]))     # −A/2
    close(m["clip/frac"], 0.0)
    close(m["ratio/mean"], 1.0)


# ---------------------------------------------------------------- ppo
def _ppo_case():
    # r = [1.5, 0.5, 0.5, 4], A = [1, 1, −1, −1], band [0.8, 1.28], c = 3
    old = t([-1.0, -1.0, -1.0, -1.0])
    logp = (old + torch.log(t([1.5, 0.5, 0.5, 4.0])))
    return logp.clone().requires_grad_(True), old, t([1.0, 1.0, -1.0, -1.0]), torch.ones(1, 4)


def test_ppo_hand_case_with_dual_clip():
    logp, old, adv, mask = _ppo_case()
    loss, m = ppo(logp, old, adv, mask, eps_low=0.2, eps_high=0.28, dual_clip=3.0)
    # t1: max(−1.5, −1.28) = −1.28 (upper clip, no grad)   t2: max(−0.5, −0.8) = −0.5
    # t3: max(0.5, 0.8) = 0.8 (lower clip, no grad)         t4: min(max(4, 1.28), 3) = 3 (dual)
    close(loss, (-1.28 - 0.5 + 0.8 + 3.0) / 4)
    loss.backward()
    close(logp.grad, t([0.0, -0.5 / 4, 0.0, 0.0]))   # dℓ2/dlogp = −A·r = −0.5, /4
    close(m["clip/frac_high"], 0.25)
    close(m["clip/frac_low"], 0.25)
    close(m["clip/frac"], 0.5)
    close(m["clip/frac_dual"], 0.25)
    close(m["ratio/mean"], (1.5 + 0.5 + 0.5 + 4.0) / 4)
    close(m["ratio/min"], 0.5)
    close(m["ratio/max"], 4.0)
    close(m["kl/old_new"], -math.log(1.5) / 4)    # −(ln1.5 + 2 ln0.5 + ln4)/4


def test_ppo_without_dual_clip():
    logp, old, adv, mask = _ppo_case()
    loss, m = ppo(logp, old, adv, mask, eps_low=0.2, eps_high=0.28, dual_clip=None)
    close(loss, (-1.28 - 0.5 + 0.8 + 4.0) / 4)      # t4 now 4, its gradient −A·r = 4
    loss.backward()
    close(logp.grad, t([0.0, -0.125, 0.0, 1.0]))
    close(m["clip/frac_dual"], 0.0)


def test_ppo_eps_high_defaults_to_eps_low():
    logp, old, adv, mask = _ppo_case()
    a, _ = ppo(logp, old, adv, mask, eps_low=0.3, dual_clip=None)
    b, _ = ppo(logp, old, adv, mask, eps_low=0.3, eps_high=0.3, dual_clip=None)
    close(a, b)


# ---------------------------------------------------------------- gspo
def test_gspo_sequence_ratio_and_token_gradient():
    old = t([-1.0, -2.0])
    logp = (old + t([0.1, 0.3])).requires_grad_(True)
    # log s = (0.1 + 0.3)/2 = 0.2, s = e^0.2 = 1.2214 inside (1 − 3e−4, ∞) for A < 0
    loss, m = gspo(logp, old, t([-1.0, -1.0]), torch.ones(1, 2))
    s = math.exp(0.2)
    close(loss, s)                        # each token ℓ = −A·s = s; seq-mean-token-mean
    loss.backward()
    close(logp.grad, t([s / 2, s / 2]))  # token form: ∂ℓ_t/∂logp_t = s, averaged over 2 tokens
    close(m["gspo/seq_ratio_mean"], s)
    close(m["clip/frac"], 0.0)


def test_gspo_clips_positive_advantage_above_band():
    old = t([-1.0, -2.0])
    logp = (old + t([0.1, 0.3])).requires_grad_(True)
    loss, m = gspo(logp, old, t([1.0, 1.0]), torch.ones(1, 2))
    close(loss, -(1 + 4e-4))              # max(−s, −1.0004) = −1.0004
    loss.backward()
    close(logp.grad, t([0.0, 0.0]))
    close(m["clip/frac_high"], 1.0)


# ---------------------------------------------------------------- cispo
def test_cispo_caps_weight_but_keeps_gradient():
    logp = leaf([-1.0, -2.0])
    old = logp.detach() - torch.log(t([2.0, 0.5]))      # r = [2, 0.5]
    loss, m = cispo(logp, old, t([1.0, -1.0]), t([1.0, 1.0]), eps_high=0.28)
    # w = [min(2, 1.28), 0.5] (no lower bound);  ℓ = −w·A·logp = [1.28, −1]
    close(loss, (1.28 - 1.0) / 2)
    loss.backward()
    close(logp.grad, t([-0.64, 0.25]))    # −w·A/2
    close(m["clip/frac_high"], 0.5)
    close(m["clip/frac_low"], 0.0)
    close(m["cispo/weight_mean"], (1.28 + 0.5) / 2)


# ---------------------------------------------------------------- tis / icepop
def test_tis_on_policy_form():
    logp = leaf([-1.0, -1.0])
    old = logp.detach() - torch.log(t([3.0, 0.5]))      # r = [3, 0.5]
    loss, m = tis(logp, old, t([1.0, 1.0]), t([1.0, 1.0]), cap=2.0)
    close(loss, (2.0 + 0.5) / 2)          # w = [2, 0.5], ℓ = −w·A·logp = [2, 0.5]
    loss.backward()
    close(logp.grad, t([-1.0, -0.25]))
    close(m["tis/frac_capped"], 0.5)


def test_tis_with_sampler_logprobs():
    logp = leaf([-1.0, -1.0])
    sampler = logp.detach() - torch.log(t([3.0, 0.5]))  # k = π_old/μ = [3, 0.5], r = 1
    loss, m = tis(logp, logp.detach(), t([1.0, 1.0]), t([1.0, 1.0]), sampler_logp=sampler)
    close(loss, (-2.0 - 0.5) / 2)         # w·(−A·r) with w = [2, 0.5]
    loss.backward()
    close(logp.grad, t([-1.0, -0.25]))
    close(m["tis/weight_mean"], 1.25)


def test_icepop_masks_outside_band():
    logp = leaf([-1.0, -1.0, -1.0])
    old = logp.detach() - torch.log(t([0.4, 1.0, 6.0]))  # k = r = [0.4, 1, 6]; band [0.5, 5]
    loss, m = icepop(logp, old, t([1.0, 1.0, 1.0]), t([1.0, 1.0, 1.0]))
    close(loss, -1.0 / 3)                 # only t2 survives: −A·r = −1; normaliser stays 3
    loss.backward()
    close(logp.grad, t([0.0, -1.0 / 3, 0.0]))
    close(m["icepop/frac_masked"], 2 / 3)


# ---------------------------------------------------------------- covariance losses
def test_kl_cov_penalises_top_covariance_token():
    # A = [1, 1, −1, −1], logp = [−0.5, −2, −1, −3]: Ā = 0, mean logp = −1.625
    # cov = A·(logp + 1.625) = [1.125, −0.375, −0.625, 1.375] -> top-1 is t4 (k = ⌊0.25·4⌋ = 1)
    logp = leaf([-0.5, -2.0, -1.0, -3.0])
    old = logp.detach() - t([0.0, 0.0, 0.0, 0.2])     # r4 = e^0.2, others 1
    adv = t([1.0, 1.0, -1.0, -1.0])
    loss, m = kl_cov(logp, old, adv, torch.ones(1, 4), kl_cov_ratio=0.25, kl_coef=1.0)
    r4 = math.exp(0.2)
    close(loss, (-1 - 1 + 1 + r4 + 0.2) / 4)
    loss.backward()
    close(logp.grad, t([-0.25, -0.25, 0.25, (r4 + 1) / 4]))  # t4: (−A·r + sign)/4
    close(m["cov/frac_selected"], 0.25)
    close(m["kl/abs"], 0.05)
    close(m["cov/mean"], (1.125 - 0.375 - 0.625 + 1.375) / 4)


def _clip_cov_case():
    # A = [2, 2, −2, −2], logp = [−0.5, −3, −1, −2.5]: mean logp = −1.75
    # cov = A·(logp + 1.75) = [2.5, −2.5, −1.5, 1.5] -> window (1, 5) holds t1 and t4
    logp = leaf([-0.5, -3.0, -1.0, -2.5])
    return logp, logp.detach().clone(), t([2.0, 2.0, -2.0, -2.0]), torch.ones(1, 4)


def test_clip_cov_detaches_every_eligible_token_when_k_covers_them():
    logp, old, adv, mask = _clip_cov_case()
    gen = torch.Generator().manual_seed(0)
    loss, m = clip_cov(logp, old, adv, mask, generator=gen, clip_cov_ratio=0.5)  # k = 2
    close(loss, (-2.0 + 2.0) / 4)         # t1, t4 zeroed; ℓ = −A·r = [·, −2, 2, ·]
    loss.backward()
    close(logp.grad, t([0.0, -0.5, 0.5, 0.0]))
    close(m["cov/frac_selected"], 0.5)
    close(m["cov/frac_window"], 0.5)


def test_clip_cov_draws_among_eligible_tokens():
    seen = set()
    for seed in range(20):
        logp, old, adv, mask = _clip_cov_case()
        loss, m = clip_cov(logp, old, adv, mask, generator=torch.Generator().manual_seed(seed),
                           clip_cov_ratio=0.25)                          # k = 1
        loss.backward()
        zero = tuple(int(i) for i in torch.nonzero(logp.grad[0] == 0).flatten())
        assert zero in {(0,), (3,)}
        seen.add(zero)
        close(m["cov/frac_selected"], 0.25)
    assert seen == {(0,), (3,)}


# ---------------------------------------------------------------- entropy bonus
def test_entropy_bonus_value_and_logit_gradient():
    logits = t([[0.0, math.log(3.0)]]).requires_grad_(True)   # π = [1/4, 3/4]
    logp = torch.log_softmax(logits.detach(), -1)[..., 1]
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    loss, m = entropy_bonus(logp, logp, torch.zeros(1, 1, dtype=F64), torch.ones(1, 1),
                            logits=logits, entropy_coef=0.1)
    close(loss, -0.1 * h)                 # A = 0: only −c·H remains
    loss.backward()
    close(logits.grad, -0.1 * entropy_grad(logits.detach()))    # −c·∂H/∂z (theory module)
    close(m["entropy/mean"], entropy(logits.detach())[0, 0])
    close(m["entropy/coef"], 0.1)
