"""Multi-prompt bandits: C prompts, each a one-step bandit (T = 1) over K answers.

A :class:`PromptBandit` is a :class:`~entropy_lab.problems.bandit.ContextualBandit` whose batches
hold N *distinct* prompts (drawn without replacement, N <= C; a batch of a language-model run
never repeats a prompt) and which knows its entropy ceiling. Exact per-prompt quantities come
from the base classes: success p_c (``success_prob``, ``[B, C]``), entropy H_c
(``state_entropy``, ``[B, C]``), prompt-averaged pass@k (``pass_at_k``, any k, e.g. 256).

Entropy ceiling. With deterministic correctness, prompt c has m_c of K answers correct. Among
policies with success p on that prompt, grouping (H = h(p) + p H(π|correct) + (1 − p)
H(π|wrong)) with each conditional at most uniform gives

    H_c^max(p) = h(p) + p log m_c + (1 − p) log(K − m_c),    h(p) = −p log p − (1−p) log(1−p).

The token entropy of a bandit is Σ_c w_c H_c (visits = w_c), so the ceiling at prompt-averaged
success J = Σ_c w_c p_c is max Σ_c w_c H_c^max(p_c) subject to that constraint. Each H_c^max is
strictly concave with H_c^max'(p) = a_c − logit(p), a_c = log(m_c / (K − m_c)); the KKT point is
p_c = σ(a_c − λ) with λ fixed by Σ_c w_c σ(a_c − λ) = J (monotone in λ: bisection). This is
:func:`entropy_ceiling`; tests check it against a numerical optimiser over the logits.
"""

from __future__ import annotations

import torch

from entropy_lab.problems.bandit import ContextualBandit
from entropy_lab.validation import check_number, check_tensor, fail


def ceiling_per_prompt(p_c: torch.Tensor, m_c: torch.Tensor, num_answers: int) -> torch.Tensor:
    """H_c^max(p) = h(p) + p log m + (1 − p) log(K − m) (0 log 0 = 0). Shapes broadcast."""
    p = p_c.to(torch.float64)
    m = m_c.to(torch.float64)

    def xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.special.xlogy(x, y)

    h = -xlogy(p, p) - xlogy(1.0 - p, 1.0 - p)
    return h + xlogy(p, m) + xlogy(1.0 - p, num_answers - m)


def entropy_ceiling(
    success: float | torch.Tensor,
    num_correct: torch.Tensor,
    num_answers: int,
    weights: torch.Tensor,
    iters: int = 200,
) -> torch.Tensor:
    """The most token entropy Σ_c w_c H_c of any policy with Σ_c w_c p_c = J.

    Args:
        success: J, a float or a tensor of any shape ``[...]`` with values in [0, 1].
        num_correct: ``[C]`` m_c, correct answers of each prompt, 1 <= m_c <= K − 1.
        num_answers: K.
        weights: ``[C]`` prompt distribution w.
    Returns:
        ``[...]`` float64 H_max(J).
    """
    check_tensor("num_correct", num_correct, ndim=1, axes="[C]")
    check_tensor("weights", weights, ndim=1, axes="[C]")
    if weights.shape != num_correct.shape:
        raise fail("weights", weights, f"shape [C] = [{num_correct.shape[0]}] (as num_correct)")
    if bool(((num_correct < 1) | (num_correct > num_answers - 1)).any()):
        raise fail("num_correct", num_correct, f"1 <= m_c <= K - 1 = {num_answers - 1}")
    j = torch.as_tensor(success, dtype=torch.float64)
    if bool(((j < 0) | (j > 1)).any()):
        raise fail("success", j, "values in [0, 1]")
    m = num_correct.to(torch.float64)
    w = weights.to(torch.float64)
    a_c = torch.log(m) - torch.log(num_answers - m)
    # Σ_c w_c σ(a_c − λ) is decreasing in λ; bracket every J in [0, 1] with a wide interval.
    lo = torch.full_like(j, float(a_c.min()) - 60.0)
    hi = torch.full_like(j, float(a_c.max()) + 60.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        s = (w * torch.sigmoid(a_c - mid[..., None])).sum(-1)
        lo, hi = torch.where(s > j, mid, lo), torch.where(s > j, hi, mid)
    lam = 0.5 * (lo + hi)
    p_c = torch.sigmoid(a_c - lam[..., None])
    p_c = torch.where(j[..., None] <= 0, 0.0, torch.where(j[..., None] >= 1, 1.0, p_c))
    return (w * ceiling_per_prompt(p_c, m, num_answers)).sum(-1)


def sample_distinct_prompts(
    prompt_probs: torch.Tensor, seeds: int, n_prompts: int, generator: torch.Generator | None
) -> torch.Tensor:
    """``[B, N]`` distinct prompts per seed, drawn without replacement ∝ ``prompt_probs`` ``[C]``
    (Gumbel top-N: successive sampling without replacement). N <= C."""
    num_prompts = int(prompt_probs.shape[0])
    if n_prompts > num_prompts:
        raise fail("n_prompts", n_prompts, f"at most the problem's C = {num_prompts} prompts per "
                   "batch")
    u = torch.rand(seeds, num_prompts, generator=generator, dtype=torch.float64)
    gumbel = -torch.log(-torch.log(u.clamp_min(1e-300)))
    keys = torch.log(prompt_probs)[None, :] + gumbel
    return keys.topk(n_prompts, dim=-1).indices


class PromptBandit(ContextualBandit):
    """C prompts × K answers; a batch holds N distinct prompts; entropy ceiling H_max(J).

    Args as :class:`ContextualBandit` (``means`` ``[C, K]``, ``prompt_probs`` ``[C]``, ...).
    """

    def sample_prompts(
        self, seeds: int, n_prompts: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``[B, N]`` distinct prompts per seed, drawn without replacement ∝ ``prompt_probs``
        (Gumbel top-N: successive sampling without replacement)."""
        return sample_distinct_prompts(self.prompt_probs, seeds, n_prompts, generator)

    @property
    def num_correct(self) -> torch.Tensor:
        """``[C]`` m_c: answers whose reward is correct with probability 1."""
        return self.correct_arms.sum(-1).to(torch.float64)

    @property
    def has_entropy_ceiling(self) -> bool:
        """Whether :meth:`entropy_ceiling` is defined: 0/1 correctness and 1 <= m_c <= K − 1."""
        deterministic = not bool(((self.success_ck > 0) & (self.success_ck < 1)).any())
        m = self.num_correct
        return deterministic and bool(((m >= 1) & (m <= self.num_actions - 1)).all())

    def entropy_ceiling(self, success: float | torch.Tensor) -> torch.Tensor:
        """H_max(J): the most token entropy of any policy with prompt-averaged success J.
        Needs deterministic correctness (every answer correct with probability 0 or 1)."""
        if bool(((self.success_ck > 0) & (self.success_ck < 1)).any()):
            raise fail("success_ck", self.success_ck,
                       "0/1 correctness per answer for the entropy ceiling (not Bernoulli)")
        check_number("num_answers", self.num_actions, lo=2)
        return entropy_ceiling(success, self.num_correct, self.num_actions, self.prompt_probs)
