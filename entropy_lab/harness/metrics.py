"""Per-step measurements of the harness: success, coverage, ratios at step start, exact pass@k.

    pass@k (sampled)  unbiased estimator from G samples per prompt, averaged over prompts
    pass@k (exact)    1 − (1 − P)^k with P = Σ_{y ∈ correct set} π(y|prompt), by enumeration
    ratio0/*          r = exp(logp_trainer − logp_sampler) on every response token *before* the
                      update: exactly 1 when both paths compute the same numbers
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from entropy_lab import passk
from entropy_lab.harness.model import PrecisionMode
from entropy_lab.harness.policy import trainer_logits
from entropy_lab.harness.tasks import Task
from entropy_lab.passk import pass_at_k

RATIO_BAND = (0.8, 1.28)
"""The DAPO clip band used to count tokens whose step-start ratio already lies outside it."""


def success_metrics(rewards_ng: torch.Tensor, k: int) -> dict[str, float]:
    """Mean reward, unbiased pass@1 and pass@k from rewards [N, G] in {0, 1}."""
    g = rewards_ng.shape[1]
    c_n = rewards_ng.sum(1).round().to(torch.int64).numpy()
    return {"reward/mean": float(rewards_ng.mean()),
            "pass@1": float(np.mean(pass_at_k(g, c_n, 1))),
            f"pass@{k}": float(np.mean(pass_at_k(g, c_n, k)))}


def coverage(task: Task, params_n: torch.Tensor, tokens_bt: torch.Tensor,
             rewards_ng: torch.Tensor, correct_sizes: dict[int, int]) -> float:
    """Mean over prompts of (#distinct correct responses sampled) / (#correct responses)."""
    n, g = rewards_ng.shape
    tok_ngt = tokens_bt.cpu().view(n, g, -1)
    fracs = []
    for i in range(n):
        ok = rewards_ng[i] > 0
        distinct = len({tuple(row) for row in tok_ngt[i][ok].tolist()})
        fracs.append(distinct / correct_sizes[int(params_n[i])])
    return float(np.mean(fracs))


def ratio_stats(logp_bt: torch.Tensor, old_logp_bt: torch.Tensor,
                mask_bt: torch.Tensor) -> dict[str, float]:
    """Statistics of r = exp(logp − old_logp) over the masked tokens ([B, T] each)."""
    on = mask_bt > 0
    r = torch.exp(logp_bt.double() - old_logp_bt.double())[on]
    lo, hi = RATIO_BAND
    return {"ratio0/mean": float(r.mean()), "ratio0/min": float(r.min()),
            "ratio0/max": float(r.max()), "ratio0/frac_ne1": float((r != 1).double().mean()),
            "ratio0/frac_out_band": float(((r < lo) | (r > hi)).double().mean())}


EXACT_KS = (1, 4, 16, 64)
"""The k of the exact pass@k logged every ``exact_every`` steps (with the config's ``pass_k``)."""


@torch.no_grad()
def exact_success(model, task: Task, ks: int | Sequence[int], device: torch.device,
                  mode: PrecisionMode | None = None) -> dict[str, float]:
    """Exact pass@1 and pass@k for each k of ``ks``, averaged over all prompts of ``task``.

    P(prompt) = Σ over the enumerated correct set of exp(Σ_t log π(y_t | y_<t)), trainer path in
    fp32 (``mode=None``); pass@k = mean over prompts of 1 − (1 − P)^k, by the simulator's own
    definition (``entropy_lab.passk.exact_pass_at_k``, uniform prompt weights). Exact, so k is
    not limited by the group size.
    """
    ks = [ks] if isinstance(ks, int) else list(ks)
    p_success = []
    for param in range(task.num_prompts):
        resp_ct = task.correct_set(param).to(device)
        prompt_cp = task.prompt_ids(torch.full((resp_ct.shape[0],), param)).to(device)
        logits = trainer_logits(model, prompt_cp, resp_ct, mode).double()
        logp_c = torch.log_softmax(logits, -1).gather(-1, resp_ct.unsqueeze(-1)).sum((1, 2))
        p_success.append(float(torch.exp(logp_c).sum()))
    p = torch.tensor(p_success, dtype=torch.float64)
    return {f"exact/pass@{k}": float(passk.exact_pass_at_k(p, k))
            for k in dict.fromkeys([1, *ks])}
