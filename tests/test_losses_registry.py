"""Registry-wide invariants: every registered loss gets these checks for free.

Shapes and dtypes (float64/32, bf16, fp16 forward), finite gradients, padded tokens never touch the
loss or any gradient, replicas in leading dims equal separate runs, controller-style tensor
hyperparameters equal per-replica floats, float64 finite differences, and — for losses declaring
``pg_limit`` — the gradient at logp = old_logp equals the plain policy gradient.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from entropy_lab.algorithms import get_loss, loss_names

REQUIRED = ("clip/frac_low", "clip/frac_high", "clip/frac", "ratio/mean", "ratio/min",
            "ratio/max", "kl/old_new")
R, B, T, K = 2, 3, 5, 6
# Losses that draw random tokens: with every eligible token selected the draw no longer matters,
# which is what comparing against per-replica runs (different draws) needs.
DETERMINISTIC = {"clip_cov": {"clip_cov_ratio": 1.0}}


def _batch(seed: int, dtype=torch.float64, noise: float = 0.3, lead=(R,)):
    g = torch.Generator().manual_seed(seed)
    shape = (*lead, B, T)
    logits = torch.randn(*shape, K, generator=g, dtype=torch.float64)
    tok = torch.randint(0, K, shape, generator=g)
    logp = torch.log_softmax(logits, -1).gather(-1, tok[..., None])[..., 0]
    old = logp + noise * torch.randn(shape, generator=g, dtype=torch.float64)
    adv = torch.randn(shape, generator=g, dtype=torch.float64)
    mask = torch.ones(shape, dtype=torch.float64)
    mask[..., 0, 3:] = 0  # a short first sequence
    mask[..., 2, 1] = 0   # a hole (e.g. a tool-output token)
    return {k: v.to(dtype) for k, v in
            dict(logp=logp, old=old, adv=adv, mask=mask, logits=logits).items()}


def _call(name, d, logp=None, logits=None, **hp):
    fn = get_loss(name)
    kw = dict(hp)
    if fn.needs_logits:
        kw["logits"] = d["logits"] if logits is None else logits
    if "generator" in inspect.signature(fn).parameters:
        kw["generator"] = torch.Generator().manual_seed(7)
    return fn(d["logp"] if logp is None else logp, d["old"], d["adv"], d["mask"], **kw)


def _grads(name, d, **hp):
    logp = d["logp"].clone().requires_grad_(True)
    logits = d["logits"].clone().requires_grad_(True)
    loss, metrics = _call(name, d, logp=logp, logits=logits, **hp)
    loss.sum().backward()
    return loss.detach(), metrics, logp.grad, logits.grad


@pytest.mark.parametrize("name", loss_names())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16])
def test_shapes_dtype_and_metrics(name, dtype):
    d = _batch(0, dtype)
    loss, metrics, g_logp, g_logits = _grads(name, d)
    assert loss.shape == (R,) and loss.dtype == dtype
    assert torch.isfinite(loss).all()
    assert set(REQUIRED) <= set(metrics)
    for key, v in metrics.items():
        assert v.shape == (R,), key
        assert torch.isfinite(v).all(), key
        assert not v.requires_grad, key
        assert v.dtype == (torch.float64 if dtype == torch.float64 else torch.float32), key
    assert torch.isfinite(g_logp).all()
    if get_loss(name).needs_logits:
        assert torch.isfinite(g_logits).all()


@pytest.mark.parametrize("name", loss_names())
def test_no_replica_dims_gives_0d(name):
    d = _batch(1, lead=())
    loss, metrics = _call(name, d)
    assert loss.shape == () and all(v.shape == () for v in metrics.values())


@pytest.mark.parametrize("name", loss_names())
def test_masked_tokens_change_nothing(name):
    d = _batch(2)
    base = _grads(name, d)
    pad = d["mask"] == 0
    wild = dict(d)
    wild["logp"] = torch.where(pad, torch.full_like(d["logp"], -15.0), d["logp"])
    wild["old"] = torch.where(pad, torch.full_like(d["old"], 3.0), d["old"])
    wild["adv"] = torch.where(pad, torch.full_like(d["adv"], 1e3), d["adv"])
    wild["logits"] = torch.where(pad[..., None], torch.full_like(d["logits"], 40.0),
                                 d["logits"])
    other = _grads(name, wild)
    # padding straight from a log-softmax of a pad token (−inf) or garbage (NaN) is fine too
    wilder = dict(wild, logp=torch.where(pad, torch.full_like(d["logp"], -torch.inf), d["logp"]),
                  old=torch.where(pad, torch.full_like(d["old"], torch.nan), d["old"]),
                  logits=torch.where(pad[..., None], torch.full_like(d["logits"], torch.nan),
                                     d["logits"]))
    torch.testing.assert_close(_grads(name, wilder)[2], base[2], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(other[0], base[0], rtol=1e-12, atol=1e-12)
    for key in base[1]:
        torch.testing.assert_close(other[1][key], base[1][key], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(other[2], base[2], rtol=1e-12, atol=1e-12)
    assert (other[2][pad] == 0).all()
    if get_loss(name).needs_logits:
        torch.testing.assert_close(other[3], base[3], rtol=1e-12, atol=1e-12)
        assert (other[3][pad] == 0).all()


@pytest.mark.parametrize("name", loss_names())
def test_replicas_equal_separate_runs(name):
    d = _batch(3)
    hp = DETERMINISTIC.get(name, {})
    loss, metrics, g, _ = _grads(name, d, **hp)
    for i in range(R):
        di = {k: v[i] for k, v in d.items()}
        loss_i, metrics_i, g_i, _ = _grads(name, di, **hp)
        torch.testing.assert_close(loss[i], loss_i, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(g[i], g_i, rtol=1e-12, atol=1e-12)
        for key in metrics:
            torch.testing.assert_close(metrics[key][i], metrics_i[key], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in loss_names()
                                  if "eps_high" in inspect.signature(get_loss(n)).parameters])
def test_tensor_hyperparameter_per_replica(name):
    d = _batch(4)
    hp = DETERMINISTIC.get(name, {})
    eps = torch.tensor([0.05, 0.4], dtype=torch.float64)
    loss, _ = _call(name, d, eps_high=eps, **hp)
    for i in range(R):
        di = {k: v[i] for k, v in d.items()}
        loss_i, _ = _call(name, di, eps_high=float(eps[i]), **hp)
        torch.testing.assert_close(loss[i], loss_i, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in loss_names() if get_loss(n).pg_limit is not None])
@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"])
def test_gradient_at_ratio_one_is_policy_gradient(name, agg):
    d = _batch(5)
    d["old"] = d["logp"].clone()
    hp = dict(get_loss(name).pg_limit, agg=agg)
    _, _, g, _ = _grads(name, d, **hp)
    _, _, g_pg, _ = _grads("pg", d, agg=agg)
    torch.testing.assert_close(g, g_pg, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", [n for n in loss_names() if not get_loss(n).detached_weights])
def test_finite_difference_gradient(name):
    # Outcome advantages (one per sequence): GSPO's token form is the gradient of its value only
    # then, and it is the case every preset runs.
    d = _batch(6, lead=(), noise=0.4)
    d["adv"] = d["adv"][:, :1].expand(B, T).clone()
    fn = get_loss(name)

    def f(logp, logits):
        kw = {"logits": logits} if fn.needs_logits else {}
        if "generator" in inspect.signature(fn).parameters:
            kw["generator"] = torch.Generator().manual_seed(7)
        return fn(logp, d["old"], d["adv"], d["mask"], **kw)[0]

    logp = d["logp"].clone().requires_grad_(True)
    logits = d["logits"].clone().requires_grad_(fn.needs_logits)
    assert torch.autograd.gradcheck(f, (logp, logits), eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("name", loss_names())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_matches_cpu(name, dtype):
    d = _batch(8, dtype)
    hp = DETERMINISTIC.get(name, {})
    cpu = _grads(name, d, **hp)
    gpu = _grads(name, {k: v.cuda() for k, v in d.items()}, **hp)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], rtol=tol, atol=tol)
    torch.testing.assert_close(gpu[2].cpu(), cpu[2], rtol=tol, atol=tol)
    for key in cpu[1]:
        assert gpu[1][key].device.type == "cuda", key
