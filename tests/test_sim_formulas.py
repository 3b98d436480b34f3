"""The snapshot's formulas (entropy_lab/sim/formulas.py), which the eager snapshot and the compiled
path share: against a per-state float64 computation with math (independent of torch's
kernels), and the eager snapshot bitwise equal to the op sequence it ran before the formulas
were shared (written out here), with and without recycled buffers."""

import math

import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.sim import formulas
from entropy_lab.sim.record import snapshot, update_row

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def _policy(pid, seeds=3, seed=1):
    prob = get_problem(pid)
    gen = torch.Generator().manual_seed(seed)
    z = prob.init_logits(seeds) + torch.randn(seeds, prob.num_states, prob.num_actions,
                                              generator=gen, dtype=F64)
    dz = 0.1 * torch.randn(z.shape, generator=gen, dtype=F64)
    return prob, z, dz


def _slow(z, v, dz):
    """Per seed and state with math: log π, π ⊙ L, ∂H/∂z (fixed visits), H_s, H, seq, w, and
    the update sums ∇H·Δz and Σ_s w_s (−Σ_a π L Δz)."""
    b, s, k = z.shape
    out = {n: torch.zeros(b, s, k, dtype=F64) for n in ("logp", "pc", "grad")}
    out.update({n: torch.zeros(b, s, dtype=F64) for n in ("h_s", "w")})
    out.update({n: torch.zeros(b, dtype=F64) for n in ("h", "seq", "dh_pred", "dh_state")})
    for i in range(b):
        vsum = math.fsum(float(v[i, j]) for j in range(s))
        for j in range(s):
            row = [float(x) for x in z[i, j]]
            top = max(row)
            lse = top + math.log(math.fsum(math.exp(x - top) for x in row))
            logp = [x - lse for x in row]
            p = [math.exp(x) for x in logp]
            h = -math.fsum(pa * la for pa, la in zip(p, logp))
            w = float(v[i, j]) / vsum
            out["h_s"][i, j], out["w"][i, j] = h, w
            out["seq"][i] += float(v[i, j]) * h
            per_state = 0.0
            for a in range(k):
                pc = p[a] * (logp[a] + h)
                out["logp"][i, j, a], out["pc"][i, j, a] = logp[a], pc
                out["grad"][i, j, a] = -w * pc
                out["dh_pred"][i] += -w * pc * float(dz[i, j, a])
                per_state -= pc * float(dz[i, j, a])
            out["dh_state"][i] += w * per_state
        out["h"][i] = out["seq"][i] / vsum
    return out


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/anti",
                                 "prompts-many/calibrated"])
def test_tables_and_snapshot_match_a_per_state_computation(pid):
    prob, z, dz = _policy(pid, seeds=2)
    v = prob.visits(z)
    want = _slow(z, v, dz)
    logp, pc, grad, h_s, h, seq, w = formulas.exact_tables(z, v)
    got = {"logp": logp, "pc": pc, "grad": grad, "h_s": h_s, "h": h, "seq": seq, "w": w}
    snap = snapshot(prob, z, 4, keep_logp=True)
    eager = {"logp": snap.logp, "pc": snap.p_centred, "grad": snap.grad_entropy,
             "h_s": snap.state_entropy, "h": snap.entropy, "seq": snap.entropy_seq,
             "w": snap.weights}
    for name, ref in want.items():
        if name in got:
            torch.testing.assert_close(got[name], ref, rtol=1e-12, atol=1e-15, msg=name)
            torch.testing.assert_close(eager[name], ref, rtol=1e-12, atol=1e-15, msg=name)
    after = snapshot(prob, z + dz, 4)
    row = update_row(snap, after, dz)
    sums = formulas.update_sums(grad, pc, w, dz)
    for got_b, name in ((row["dH_pred"], "dh_pred"), (row["dH_pred_state"], "dh_state"),
                        (sums[0], "dh_pred"), (sums[1], "dh_state")):
        torch.testing.assert_close(got_b, want[name], rtol=1e-10, atol=1e-15, msg=name)


def _before_sharing(z, v):
    """The eager snapshot's tables as it computed them before sharing the formulas (fixed
    visits): the same torch ops in the same order."""
    logp = torch.log_softmax(z, -1)
    p = torch.exp(logp)
    plogp = torch.mul(p, logp)
    h_s = -plogp.sum(-1)
    seq = (v * h_s).sum(-1)
    vsum = v.sum(-1)
    w = v / vsum.unsqueeze(-1)
    pc = torch.add(logp, h_s.unsqueeze(-1)).mul_(p)
    grad = torch.mul(pc, (-w).unsqueeze(-1))
    return {"logp": logp, "p_centred": pc, "grad_entropy": grad, "state_entropy": h_s,
            "entropy": seq / vsum, "entropy_seq": seq, "weights": w}


def _update_before_sharing(ge, pc, w, dz):
    prod = ge * dz
    dh_pred = prod.sum((1, 2))
    per_state = -torch.mul(pc, dz, out=prod).sum(-1)
    return dh_pred, (w * per_state).sum(-1)


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/anti"])
def test_eager_snapshot_is_bitwise_what_it_was(pid):
    prob, z, dz = _policy(pid)
    want = _before_sharing(z, prob.visits(z))
    # fresh buffers, and recycled ones holding garbage (the loop's workspace)
    for workspace in (None, [torch.full_like(z, float("nan")) for _ in range(3)]):
        snap = snapshot(prob, z, 4, workspace=workspace, keep_logp=True)
        for name, ref in want.items():
            assert torch.equal(getattr(snap, name), ref), name
    before, after = snapshot(prob, z, 4), snapshot(prob, z + dz, 4)
    dh_pred, dh_state = _update_before_sharing(before.grad_entropy, before.p_centred,
                                               before.weights, dz)
    for consume in (False, True):
        row = update_row(before, after, dz, consume=consume)
        assert torch.equal(row["dH_pred"], dh_pred) and torch.equal(row["dH_pred_state"], dh_state)


def test_moving_visits_keep_autograd_and_the_same_tables():
    """The MDP's visits move with the logits: the entropy gradient is autograd's, the other
    tables the same ops as before."""
    prob, z, _ = _policy("mdp/calibrated", seeds=2)
    snap = snapshot(prob, z, 4, keep_logp=True)
    want = _before_sharing(z, prob.visits(z))
    for name in ("logp", "p_centred", "state_entropy", "entropy_seq", "entropy"):
        assert torch.equal(getattr(snap, name), want[name]), name
    zr = z.clone().requires_grad_(True)
    logp = torch.log_softmax(zr, -1)
    v = prob.visits(zr)
    h = (v * -(logp.exp() * logp).sum(-1)).sum(-1) / v.sum(-1)
    (ref,) = torch.autograd.grad(h.sum(), zr)
    torch.testing.assert_close(snap.grad_entropy, ref, rtol=1e-12, atol=1e-15)
    assert not torch.allclose(snap.grad_entropy, want["grad_entropy"], rtol=1e-6)
