"""Builders of the multi-prompt presets ``prompts-many``, ``prompts-llm``, ``prompts-bottleneck``.

Each builder makes a :class:`~entropy_lab.problems.prompts.PromptBandit` (C prompts, K answers,
uniform prompt weights, deterministic rewards, each prompt's answers permuted by its own random
permutation so prompts prefer different answers) and defines task "B": the same prompts, answers
and initial logits with a correct set disjoint from task A's on every prompt (sequential
learning). Registered in :mod:`entropy_lab.problems.presets`.
"""

from __future__ import annotations

import torch

from entropy_lab.problems.base import check_count
from entropy_lab.problems.prompts import PromptBandit
from entropy_lab.validation import check_choice, check_number, fail

F64 = torch.float64


def _check(mode: str, modes: tuple[str, ...], task: str, seed: int) -> torch.Generator:
    check_choice("mode", mode, modes)
    check_choice("task", task, ("A", "B"))
    check_count("seed", seed, lo=0)
    return torch.Generator().manual_seed(seed)


def _permuted(
    logits_ck: torch.Tensor, means_ck: torch.Tensor, gen: torch.Generator, **meta
) -> PromptBandit:
    """Permute each prompt's answers (the same permutation for logits and means)."""
    c, k = logits_ck.shape
    perm = torch.stack([torch.randperm(k, generator=gen) for _ in range(c)])
    z = torch.empty_like(logits_ck).scatter_(1, perm, logits_ck)
    mu = torch.empty_like(means_ck).scatter_(1, perm, means_ck)
    return PromptBandit(mu, None, init_logits=z, **meta)


def build_many(
    mode: str,
    *,
    num_prompts: int = 16,
    num_answers: int = 1024,
    zipf: float = 1.2,
    every: int = 4,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> PromptBandit:
    """``prompts-many/<mode>``: many correct answers, so the entropy ceiling does not bind.

    Why: with 2 correct arms of 8 no policy that solves the task keeps much entropy, so
    "entropy stays near its initial value" is infeasible by construction. Here every
    ``every``-th probability rank is correct (K/every correct answers): H_max(J = 1) =
    log(K/every) = 5.55 nats > H_0 = 4.24 nats (calibrated and anti; 5.05 uncorrelated; defaults),
    as for an LLM whose correct set is huge. Initial pass@1: calibrated 0.386, uncorrelated 0.25,
    anti 0.172.

    Initial logits: Zipf(``zipf``), z_r = −s log(r + 1) by rank r. calibrated: ranks ≡ 0 mod
    ``every`` correct (task B: ≡ 1); anti: ranks ≡ every − 1 (task B: ≡ every − 2);
    uncorrelated: the logits are constant on blocks of ``every`` consecutive ranks (Zipf over the
    block index) and one random answer of each block is correct (task B: another one), so every
    block holds 1/every of its mass on correct answers and Cov_π(log π, μ) = 0 exactly.
    """
    gen = _check(mode, ("calibrated", "uncorrelated", "anti"), task, seed)
    check_count("num_prompts", num_prompts)
    check_number("every", every, lo=2, integer=True)
    check_number("zipf", zipf, lo=0.0)
    if num_answers % every or num_answers < 2 * every:
        raise fail("num_answers", num_answers,
                   f"a multiple of every = {every}, at least {2 * every}")
    c, k = num_prompts, num_answers
    ranks = torch.arange(k, dtype=F64)
    if mode == "uncorrelated":
        z = -zipf * torch.log(torch.div(ranks, every, rounding_mode="floor") + 1.0)
        means = torch.zeros(c, k, dtype=F64)
        blocks = torch.arange(k // every) * every
        for row in means:
            pick = torch.randperm(every, generator=gen)[: 2]
            row[blocks + pick[0 if task == "A" else 1]] = 1.0
    else:
        z = -zipf * torch.log(ranks + 1.0)
        residue = {("calibrated", "A"): 0, ("calibrated", "B"): 1,
                   ("anti", "A"): every - 1, ("anti", "B"): every - 2}[(mode, task)]
        means = (ranks.remainder(every) == residue).to(F64).expand(c, k).clone()
    return _permuted(z.expand(c, k).clone(), means, gen, task=task, **meta)


def _llm_rows(c: int, k: int, zipf: float, tail_lo: float, tail_hi: float,
              gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``[C, K]`` log-probs by rank (rank 0 the mode) and the tail band mask (|log π| in range)."""
    eps_c = 0.03 + 0.05 * torch.rand(c, generator=gen, dtype=F64)      # tail mass, p_top >= 0.92
    q = torch.arange(1, k, dtype=F64).pow(-zipf)
    q = q / q.sum()
    logp = torch.cat([torch.log1p(-eps_c)[:, None], torch.log(eps_c)[:, None] + torch.log(q)], 1)
    band = (-logp >= tail_lo) & (-logp <= tail_hi)
    if bool((band.sum(-1) < 2).any()):
        raise fail("num_answers", k, f"enough answers for two tail tokens with |log π| in "
                   f"[{tail_lo}, {tail_hi}] (try num_answers >= 256)")
    return logp, band


def _pick_in(mask_k: torch.Tensor, gen: torch.Generator, count: int) -> torch.Tensor:
    idx = mask_k.nonzero().squeeze(-1)
    return idx[torch.randperm(idx.numel(), generator=gen)[:count]]


def build_llm(
    mode: str,
    *,
    num_prompts: int = 256,
    num_answers: int = 256,
    zipf: float = 1.2,
    tail_lo: float = 8.0,
    tail_hi: float = 12.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> PromptBandit:
    """``prompts-llm/<mode>``: LLM-like token statistics, one correct answer per prompt.

    Why: the tail tokens that REPO-R and clip-higher act on have |log π| of 8–20 in a language
    model; the other presets sample nothing rarer than |log π| ~ 5–7. Each prompt has a peaked
    policy: the mode holds 1 − ε_c (ε_c ~ U[0.03, 0.08], so p_top >= 0.92) and the rest is a
    Zipf(``zipf``) tail; per-prompt entropy 0.25–0.57 nats (mean 0.41, defaults).
    calibrated: the correct answer is the mode on a random half of the prompts and a tail token
    with |log π| in [``tail_lo``, ``tail_hi``] on the rest (pass@1 0.495, pass@256 0.530: most
    tail prompts are out of reach of a short run); anti: a tail
    token on every prompt. Task B: another tail token of the band on every prompt (disjoint from
    task A). No uncorrelated variant (a single correct answer cannot be decorrelated from log π).
    """
    gen = _check(mode, ("calibrated", "anti"), task, seed)
    check_count("num_prompts", num_prompts)
    check_count("num_answers", num_answers, lo=3)
    check_number("zipf", zipf, lo=0.0)
    check_number("tail_lo", tail_lo, lo=0.0)
    check_number("tail_hi", tail_hi, lo=tail_lo)
    logp, band = _llm_rows(num_prompts, num_answers, zipf, tail_lo, tail_hi, gen)
    mode_half = torch.rand(num_prompts, generator=gen) < 0.5
    means = torch.zeros(num_prompts, num_answers, dtype=F64)
    for ci in range(num_prompts):
        tail_a, tail_b = _pick_in(band[ci], gen, 2).tolist()
        if task == "B":
            means[ci, tail_b] = 1.0
        elif mode == "calibrated" and bool(mode_half[ci]):
            means[ci, 0] = 1.0
        else:
            means[ci, tail_a] = 1.0
    return _permuted(logp, means, gen, task=task, **meta)


def build_bottleneck(
    mode: str,
    *,
    num_prompts: int = 64,
    num_answers: int = 16,
    common_prob: float = 0.6,
    rare_logprob: float = -6.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> PromptBandit:
    """``prompts-bottleneck/calibrated``: a common answer worth 0.5 and a rare one worth 1.

    Why: exploration bottleneck. A policy gradient that sharpens on the common half-credit
    answer (probability ``common_prob``) loses the rare full-credit one (log π = ``rare_logprob``);
    only exploration finds it. Correct (pass@k) = reward 1, the rare answer. The other answers
    share the remaining mass equally, reward 0. Task B: the next most probable answer is worth
    0.5 and another rare answer worth 1 (both disjoint from task A's).
    """
    gen = _check(mode, ("calibrated",), task, seed)
    check_count("num_prompts", num_prompts)
    check_count("num_answers", num_answers, lo=4)
    check_number("common_prob", common_prob, lo=0.0, hi=0.9)
    check_number("rare_logprob", rare_logprob, hi=-1.0)
    k = num_answers
    rare = float(torch.exp(torch.tensor(rare_logprob, dtype=F64)))
    rest = (1.0 - common_prob - 2 * rare) / (k - 3)
    p = torch.full((k,), rest, dtype=F64)
    p[0], p[k - 2], p[k - 1] = common_prob, rare, rare
    means = torch.zeros(k, dtype=F64)
    half, full = (0, k - 1) if task == "A" else (1, k - 2)
    means[half], means[full] = 0.5, 1.0
    c = num_prompts
    return _permuted(torch.log(p).expand(c, k).clone(), means.expand(c, k).clone(), gen,
                     task=task, **meta)
