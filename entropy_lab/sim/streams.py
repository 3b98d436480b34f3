"""Where a run's randomness comes from: one shared stream, or one stream per seed id.

``rng="batched"`` (default, fastest): one generator draws the initial noise and every batch for
all B seeds at once, so seed b's samples depend on B and on b's position in the batch.

``rng="per_seed"``: seed id s owns the generator ``manual_seed(mix(base, s))``; initialisation,
sampling and stochastic rewards of seed s use only it, so a seed's trajectory is the same whether
it runs alone or beside others (bitwise on CPU; tested). The problems' ``sample`` draws for the
whole batch from one generator, so this mode calls it once per seed (a Python loop over seeds
for sampling only; the update stays batched). The minibatch schedule and stochastic precision
pipelines use a shared stream derived from ``base`` alone, identical for every batch.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import torch

from entropy_lab.passk import pass_at_k

_MASK64 = (1 << 64) - 1


def mix(base: int, index: int) -> int:
    """SplitMix64 of (base, index) -> a seed in [0, 2⁶³): distinct, well-spread streams."""
    x = (base * 0x9E3779B97F4A7C15 + index + 1) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) >> 1


SHARED_INDEX = -1  # mix(base, -1) seeds the shared stream in per-seed mode


class Streams:
    """The generators of one run (see the module docstring)."""

    def __init__(self, config, generator: torch.Generator | None = None):
        self.mode = config.rng
        self.seed_ids = config.replica_seed_ids()
        if self.mode == "batched":
            self.shared = generator or torch.Generator().manual_seed(config.seed)
            self.per_seed = None
        else:
            base = generator.initial_seed() if generator is not None else config.seed
            self.shared = torch.Generator().manual_seed(mix(base, SHARED_INDEX))
            self.per_seed = [torch.Generator().manual_seed(mix(base, s)) for s in self.seed_ids]

    def init_logits(self, problem) -> torch.Tensor:
        """``[B, S, K]`` initial logits."""
        if self.per_seed is None:
            return problem.init_logits(len(self.seed_ids), self.shared)
        return torch.cat([problem.init_logits(1, g) for g in self.per_seed], 0)

    def sample(self, problem, logits, n_prompts: int, group_size: int, sampler=None):
        """(rollout with ``[B, N, G, T]`` fields, rewards ``[B, N, G]``); ``sampler``: a
        :data:`~entropy_lab.problems.base.TokenSampler` (None: tokens from the exact π)."""
        kw = {} if sampler is None else {"sampler": sampler}
        if self.per_seed is None:
            rollout = problem.sample(logits, n_prompts, group_size, self.shared, **kw)
            return rollout, problem.reward(rollout, self.shared)
        parts = []
        for b, gen in enumerate(self.per_seed):
            r = problem.sample(logits[b:b + 1], n_prompts, group_size, gen, **kw)
            parts.append((r, problem.reward(r, gen)))
        return _cat_rollouts([p[0] for p in parts]), torch.cat([p[1] for p in parts], 0)

    @staticmethod
    def passk_table(group_size: int, k: int) -> torch.Tensor:
        """``[G + 1]`` unbiased pass@k from G samples with c = 0..G correct."""
        return _passk_table(group_size, k)


@lru_cache(maxsize=64)
def _passk_table(group_size: int, k: int) -> torch.Tensor:
    return torch.as_tensor(pass_at_k(group_size, list(range(group_size + 1)), k),
                           dtype=torch.float64)


def _cat_rollouts(parts):
    """Concatenate per-seed rollouts along the seed dim (tensor fields; None stays None)."""
    first = parts[0]
    fields = {}
    for f in dataclasses.fields(first):
        value = getattr(first, f.name)
        fields[f.name] = (torch.cat([getattr(p, f.name) for p in parts], 0)
                          if isinstance(value, torch.Tensor) else value)
    return type(first)(**fields)
