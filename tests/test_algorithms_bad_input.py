"""One table of bad inputs for the algorithms family: each raises an error naming the argument
and what was allowed."""

from __future__ import annotations

import math

import pytest
import torch

from entropy_lab.algorithms import (
    ZetaController,
    aggregate,
    broadcast_advantages,
    get_advantage,
    get_loss,
    get_preset,
    repo_r,
)
from entropy_lab.algorithms.controllers import get_controller
from entropy_lab.registry import UnknownNameError
from entropy_lab.validation import InputError

F64 = torch.float64
X = torch.full((2, 3), -1.0, dtype=F64)
ONES = torch.ones(2, 3)


def _with(index, value, base=X):
    y = base.clone()
    y[index] = value
    return y


def ppo(**kw):
    args = {"logp": X, "old_logp": X, "advantages": X, "mask": ONES}
    args.update(kw)
    return lambda: get_loss("ppo")(args.pop("logp"), args.pop("old_logp"),
                                   args.pop("advantages"), args.pop("mask"), **args)


CASES = [
    ("logp/old shapes", ppo(old_logp=torch.zeros(2, 4, dtype=F64)), InputError,
     r"shape mismatch: logp=\[2, 3\], old_logp=\[2, 4\]"),
    ("advantage shape", ppo(advantages=torch.zeros(3, 2, dtype=F64)), InputError,
     "advantages=.3, 2."),
    ("mask shape", ppo(mask=torch.ones(2, 2)), InputError, "mask"),
    ("rank-1 logp", ppo(logp=X[0], old_logp=X[0], advantages=X[0], mask=ONES[0]), InputError,
     r"logp=.*rank >= 2 with shape \[\.\.\., B, T\]"),
    ("soft mask", ppo(mask=_with((0, 0), 0.5, ONES)), InputError, "mask=.*values 0 and 1"),
    ("nan mask", ppo(mask=_with((0, 0), math.nan, ONES)), InputError, "mask"),
    ("nan logp", ppo(logp=_with((1, 2), math.nan)), InputError,
     r"logp \(unmasked positions\) has 1 non-finite"),
    ("inf old logp", ppo(old_logp=_with((0, 1), -math.inf)), InputError,
     r"old_logp \(unmasked positions\) has 1"),
    ("integer logp", ppo(logp=torch.zeros(2, 3, dtype=torch.long)), InputError,
     "floating-point"),
    ("eps_low = 1", ppo(eps_low=1.0), InputError, r"eps_low=1\.0 .*>= 0 and < 1"),
    ("eps_low < 0", ppo(eps_low=-0.1), InputError, "eps_low"),
    ("eps_high < 0", ppo(eps_high=-0.01), InputError, r"eps_high=-0\.01 .*>= 0"),
    ("eps_high per-replica wrong shape", ppo(eps_high=torch.tensor([0.2, 0.3])), InputError,
     r"eps_high=.*shape \[\]"),
    ("dual clip = 1", ppo(dual_clip=1.0), InputError, r"dual_clip=1\.0 .*> 1"),
    ("unknown hp", ppo(eps=0.1), TypeError, "eps"),
    ("rloo G = 1", lambda: get_advantage("rloo")(torch.ones(3, 1, dtype=F64)), InputError,
     "rewards=.*G >= 2"),
    ("nan reward", lambda: get_advantage("grpo")(torch.tensor([[1.0, math.nan]])), InputError,
     "rewards has 1 non-finite"),
    ("grpo eps < 0", lambda: get_advantage("grpo")(torch.ones(1, 2), eps=-1.0), InputError,
     "eps=-1"),
    ("broadcast mask shape", lambda: broadcast_advantages(torch.ones(2, 3), torch.ones(2, 4, 5)),
     InputError, r"mask=.*\[2, 3\] \+ \[T\]"),
    ("aggregate norm <= 0", lambda: aggregate(X, ONES, "seq-mean-token-sum-norm", norm=0),
     InputError, "norm=0 .*> 0"),
    ("unknown aggregation", lambda: aggregate(X, ONES, "seq-sum"), UnknownNameError,
     "'token-mean'"),
    ("unknown loss", lambda: get_loss("ppo2"), UnknownNameError, "choose one of: .*'ppo'"),
    ("unknown advantage", lambda: get_advantage("gae"), UnknownNameError, "'grpo'"),
    ("unknown preset", lambda: get_preset("grpo2"), UnknownNameError, "'dapo'"),
    ("unknown controller", lambda: get_controller("kl"), UnknownNameError, "'zeta'"),
    ("unknown override", lambda: get_preset("grpo", zeta=1e-3), InputError, "valid keys"),
    ("clip_cov without generator", lambda: get_loss("clip_cov")(X, X, X, ONES), InputError,
     "generator"),
    ("entropy bonus without logits", lambda: get_loss("entropy_bonus")(X, X, X, ONES),
     InputError, "logits"),
    ("entropy bonus logits shape",
     lambda: get_loss("entropy_bonus")(X, X, X, ONES, logits=torch.zeros(2, 4, 5, dtype=F64)),
     InputError, r"logits=.*\[2, 3\] \+ \[K\]"),
    ("nan logits",
     lambda: get_loss("entropy_bonus")(X, X, X, ONES,
                                       logits=torch.full((2, 3, 4), math.nan, dtype=F64)),
     InputError, r"logits \(unmasked positions\) has 24 non-finite"),
    ("tis cap <= 0", lambda: get_loss("tis")(X, X, X, ONES, cap=0.0), InputError, "cap"),
    ("icepop band", lambda: get_loss("icepop")(X, X, X, ONES, band_low=1.5), InputError,
     "band_low"),
    ("kl_cov ratio > 1", lambda: get_loss("kl_cov")(X, X, X, ONES, kl_cov_ratio=2.0),
     InputError, "kl_cov_ratio"),
    ("repo_r shapes", lambda: repo_r(X, torch.zeros(2, 4, dtype=F64)), InputError,
     "shape mismatch"),
    ("repo_r floor >= 0", lambda: repo_r(X, X, logp_floor=1.0), InputError, "logp_floor"),
    ("repo_r form misspelt", lambda: repo_r(X, X, form="centered", centered_logprob=X),
     InputError, r"form='centered' .*'raw', 'centred'"),
    ("repo_r centred without L", lambda: repo_r(X, X, form="centred"), InputError,
     r"centered_logprob=None .*form='centred'"),
    ("repo_r centred L shape",
     lambda: repo_r(X, X, form="centred", centered_logprob=torch.zeros(2, 4, dtype=F64)),
     InputError, "shape mismatch"),
    ("repo_r preset form", lambda: get_preset("repo_r", form="centered").shape(
        X, X, ONES > 0, get_preset("repo_r").init_state(torch.tensor(1.0, dtype=F64)),
        centered_logprob_bt=X), InputError, r"form='centered'"),
    ("zeta outside bounds", lambda: ZetaController(zeta=0.1), InputError, r"zeta=0\.1"),
    ("zeta factor <= 1", lambda: ZetaController(factor=1.0), InputError, "factor"),
    ("epochs = 0", lambda: get_preset("grpo", epochs=0), InputError, "epochs=0"),
]


@pytest.mark.parametrize("fn, exc, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()
