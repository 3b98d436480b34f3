"""Clip diagnostics (entropy_lab.sim.clip_probe, algorithms.step.stopped_gradient).

The Theorem 1 entropy change the clip removed is checked against the entropy of two actual SGD
steps on a tabular policy — one on the clipped loss, one with the clipped tokens' surrogate
gradient restored — computed here from the definitions (the surrogate −A·r/n written out, the
clipped set from r against the band), as the step shrinks: the gap is O(η²).
"""

from __future__ import annotations

import pytest
import torch

from entropy_lab.algorithms.presets import get_preset
from entropy_lab.algorithms.step import stopped_gradient
from entropy_lab.sim import simulate
from entropy_lab.sim.clip_probe import centred_logprobs, removed_entropy_change
from entropy_lab.validation import InputError

F64 = torch.float64
B, S, K, Q, T = 2, 3, 5, 4, 3


def _world(seed: int = 0):
    """Tabular logits [B, S, K], tokens [B, Q, T] (states, actions), advantages, old log-probs
    chosen so that ratios fall on both sides of DAPO's band (0.8, 1.28)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(B, S, K, generator=g, dtype=F64)
    states = torch.randint(0, S, (B, Q, T), generator=g)
    actions = torch.randint(0, K, (B, Q, T), generator=g)
    adv = torch.randn(B, Q, 1, generator=g, dtype=F64).expand(B, Q, T).clone()
    shift = 0.6 * torch.randn(B, Q, T, generator=g, dtype=F64)   # log r = shift at z
    return z, states, actions, adv, shift


def _logp(z, states, actions):
    rows = z.gather(1, states.reshape(B, -1, 1).expand(B, Q * T, K)).reshape(B, Q, T, K)
    return torch.log_softmax(rows, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1), rows


def _weighted_entropy(z, w_bs):
    logp = torch.log_softmax(z, -1)
    return (w_bs * -(logp.exp() * logp).sum(-1)).sum(-1)


def test_removed_entropy_change_matches_unclipped_minus_clipped_step():
    z0, states, actions, adv, shift = _world()
    mask = torch.ones(B, Q, T, dtype=torch.bool)
    algo = get_preset("dapo")                                   # token-mean, band (0.8, 1.28)
    w_bs = torch.softmax(torch.arange(S, dtype=F64), 0).expand(B, S)
    with torch.no_grad():
        old = _logp(z0, states, actions)[0] - shift
    z = z0.clone().requires_grad_(True)
    logp, rows = _logp(z, states, actions)
    state = algo.init_state(torch.ones(B, dtype=F64))
    loss, metrics = algo.loss(logp, old, adv, mask, state)
    st = stopped_gradient(algo, logp, old, adv, mask, loss)
    r = shift.exp()
    high = (adv > 0) & (r > 1.28)                 # the clipped sets from their definition
    low = (adv < 0) & (r < 0.8)
    assert high.any() and low.any()
    assert torch.equal(st.high, high) and torch.equal(st.low, low)
    (g_clip,) = torch.autograd.grad(loss.sum(), z)
    w_tok = w_bs.gather(1, states.reshape(B, -1)).reshape(B, Q, T)
    for side in (high, low):
        gap = []
        pred_grad = torch.where(side, st.grad, torch.zeros((), dtype=F64))
        for eta in (1e-2, 1e-3, 1e-4):
            args = (rows.detach().reshape(B, -1, K), actions.reshape(B, -1),
                    pred_grad.reshape(B, -1), w_tok.reshape(B, -1),
                    eta * torch.ones(B, 1, 1, dtype=F64))
            pred = removed_entropy_change(*args)
            # the probe's (π, L) handed in: the same numbers, bitwise
            given = removed_entropy_change(*args, centred=centred_logprobs(args[0]))
            assert torch.equal(given, pred)
            zz = z0.clone().requires_grad_(True)
            lp, _ = _logp(zz, states, actions)
            surrogate = (-(adv * (lp - old).exp()) * side).sum((-2, -1)) / (Q * T)
            (g_extra,) = torch.autograd.grad(surrogate.sum(), zz)
            with torch.no_grad():
                h_clip = _weighted_entropy(z0 - eta * g_clip, w_bs)
                h_unclip = _weighted_entropy(z0 - eta * (g_clip + g_extra), w_bs)
            exact = h_unclip - h_clip
            assert ((pred.abs() > 0) == side.flatten(1).any(-1)).all()
            gap.append(((exact - pred).abs() / eta ** 2).max().item())
            if eta == 1e-4:
                torch.testing.assert_close(pred, exact, rtol=1e-3, atol=0.0)
        assert max(gap) < 10 * (gap[-1] + 1e-6) and gap[-1] < 1e3  # O(η²), not O(η)


def test_stopped_gradient_counts_the_dual_clip_on_the_low_side():
    z0, states, actions, adv, shift = _world(1)
    shift = torch.full_like(shift, 1.5)                        # r = e^1.5 > 3: the dual clip
    mask = torch.ones(B, Q, T, dtype=torch.bool)
    algo = get_preset("dapo")
    with torch.no_grad():
        old = _logp(z0, states, actions)[0] - shift
    z = z0.clone().requires_grad_(True)
    logp, _ = _logp(z, states, actions)
    loss, metrics = algo.loss(logp, old, adv, mask, algo.init_state(torch.ones(B, dtype=F64)))
    st = stopped_gradient(algo, logp, old, adv, mask, loss)
    assert torch.equal(st.low, adv < 0) and torch.equal(st.high, adv > 0)
    assert float(metrics["clip/frac_low"].max()) == 0.0        # the lower clip itself: none


RUN = dict(steps=3, seeds=3, optimizer="adam", lr=0.3, epochs=1, minibatches=4,
           n_prompts=4, group_size=8)


def test_clip_diagnostics_off_by_default_and_do_not_change_the_run():
    off = simulate("bandit/anti", "dapo", generator=torch.Generator().manual_seed(3), **RUN)
    on = simulate("bandit/anti", "dapo", generator=torch.Generator().manual_seed(3),
                  clip_diagnostics=True, **RUN)
    assert not any(c.endswith(("_Lneg", "_stopped")) or "dH_removed" in c for c in off.columns)
    assert off["entropy"].equals(on["entropy"])
    tr = on[on["step"] > 0]
    assert (tr["clip/frac_high"] > 0).any()                     # the diagnostics saw clipping
    assert (tr["clip/frac_high_stopped"] - tr["clip/frac_high"]).abs().max() < 1e-12
    assert (tr["clip/frac_low_stopped"] >= tr["clip/frac_low"] - 1e-12).all()
    assert (tr["clip/frac_high_Lneg"] <= tr["clip/frac_high_stopped"] + 1e-12).all()
    share = tr["clip/share_Lneg_high"].dropna()
    assert len(share) and share.between(0, 1).all()
    assert tr["clip/dH_removed_high"].notna().all()


def test_clip_diagnostics_shared_parameters_give_shares_not_dH():
    df = simulate("prompts-many/calibrated", "dapo", policy="lowrank", clip_diagnostics=True,
                  generator=torch.Generator().manual_seed(3), **{**RUN, "steps": 2})
    tr = df[df["step"] > 0]
    assert tr["clip/dH_removed_high"].isna().all()
    assert tr["clip/frac_high_Lneg"].notna().all()


def test_clip_diagnostics_rejects_expected_mode():
    with pytest.raises(InputError, match="clip_diagnostics"):
        simulate("bandit/calibrated", "grpo", mode="expected", steps=1, seeds=1,
                 clip_diagnostics=True)
