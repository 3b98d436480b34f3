"""Synthetic verifiable tasks: digit strings with a checkable property and many correct answers.

Every task shares one small vocabulary (so a policy trained on one task can be trained on the
other: sequential learning), has a fixed prompt length and a fixed answer length:

    prompt   = [BOS, <task>, digit(param), SEP]          (4 tokens)
    response = L digits, then EOS                         (L + 1 tokens)

A task says which digits are *allowed* at each answer position given the prefix; an answer is
correct iff every digit is allowed and EOS follows the L-th digit. The allowed-digit rule gives,
at once, the reward, the exact enumeration of the correct set (for coverage and exact pass@k) and
the autoregressive "teacher" used for pretraining (a skewed, calibrated distribution over correct
answers plus a controlled error rate, see :func:`teacher_sample`).

Tasks (``TASKS`` registry):
- ``digitsum``: L digits whose sum is ≡ r (mod m); prompt param r ∈ [0, m).
  #correct per prompt = 10^L / m when m divides 10 (e.g. 200 for L = 3, m = 5).
- ``palindrome``: L-digit palindromes whose first digit is d; prompt param d ∈ [0, 10).
  #correct per prompt = 10^(ceil(L/2) − 1) (e.g. 100 for L = 5).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import check_number

TASKS: Registry = Registry("task")

SPECIALS = ("<pad>", "<bos>", "<eos>", "<sep>")
PAD, BOS, EOS, SEP = range(4)
N_DIGITS = 10
DIGIT0 = len(SPECIALS)  # token id of digit 0
PROMPT_LEN = 4


def vocabulary() -> list[str]:
    """The shared symbol list: specials, digits 0–9, one token per registered task (sorted)."""
    return [*SPECIALS, *(str(d) for d in range(N_DIGITS)), *(f"<{n}>" for n in TASKS.names())]


def task_token(name: str) -> int:
    return vocabulary().index(f"<{name}>")


@dataclass(frozen=True)
class Task:
    """Base of the tasks: prompts, reward, enumeration. Subclasses define ``allowed``."""

    answer_len: int = 3

    name = "task"

    def __post_init__(self):
        check_number("answer_len", self.answer_len, lo=1, hi=6, integer=True)

    @property
    def num_prompts(self) -> int:
        raise NotImplementedError

    def allowed(self, param_b: torch.Tensor, prefix_bi: torch.Tensor) -> torch.Tensor:
        """Digits allowed next: param [B], digit prefix [B, i] (values 0–9) -> bool [B, 10]."""
        raise NotImplementedError

    @property
    def response_len(self) -> int:
        return self.answer_len + 1

    def prompt_ids(self, param_b: torch.Tensor) -> torch.Tensor:
        """Prompt tokens [B, 4] for the prompt params [B]."""
        b = param_b.shape[0]
        cols = [torch.full((b,), BOS), torch.full((b,), task_token(self.name)),
                DIGIT0 + param_b.cpu(), torch.full((b,), SEP)]
        return torch.stack(cols, dim=1).to(torch.long)

    def sample_params(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n prompt params drawn uniformly: LongTensor [n]."""
        return torch.randint(0, self.num_prompts, (n,), generator=generator)

    def correct_digits(self, param_b: torch.Tensor, digits_bl: torch.Tensor) -> torch.Tensor:
        """Whether every digit is allowed: param [B], digits [B, L] (0–9) -> bool [B]."""
        ok = torch.ones(digits_bl.shape[0], dtype=torch.bool)
        for i in range(self.answer_len):
            allowed_bd = self.allowed(param_b, digits_bl[:, :i])
            ok &= allowed_bd.gather(1, digits_bl[:, i : i + 1]).squeeze(1)
        return ok

    def reward(self, param_b: torch.Tensor, response_bt: torch.Tensor) -> torch.Tensor:
        """1.0 for a correct answer, else 0.0: response tokens [B, L+1] -> float32 [B].

        Correct = L digit tokens, each allowed, then EOS at position L.
        """
        resp = response_bt.cpu()
        digits_bl = resp[:, : self.answer_len] - DIGIT0
        well_formed = ((digits_bl >= 0) & (digits_bl < N_DIGITS)).all(1)
        well_formed &= resp[:, self.answer_len] == EOS
        ok = well_formed.clone()
        if bool(well_formed.any()):
            ok[well_formed] = self.correct_digits(param_b.cpu()[well_formed],
                                                  digits_bl[well_formed])
        return ok.to(torch.float32)

    def correct_set(self, param: int) -> torch.Tensor:
        """Exact enumeration of the correct responses for one prompt: LongTensor [C, L+1]
        (computed once per task and prompt, then cached)."""
        return _correct_set(self, int(param)).clone()

    def _enumerate(self, param: int) -> torch.Tensor:
        all_dl = torch.tensor(list(itertools.product(range(N_DIGITS), repeat=self.answer_len)),
                              dtype=torch.long)
        ok = self.correct_digits(torch.full((all_dl.shape[0],), param), all_dl)
        digits = all_dl[ok] + DIGIT0
        return torch.cat([digits, torch.full((digits.shape[0], 1), EOS)], dim=1)


@functools.cache
def _correct_set(task: Task, param: int) -> torch.Tensor:
    return task._enumerate(param)


@TASKS.register("digitsum")
@dataclass(frozen=True)
class DigitSum(Task):
    """L digits whose sum is ≡ r (mod ``modulus``); the prompt gives r."""

    modulus: int = 5
    name = "digitsum"

    def __post_init__(self):
        super().__post_init__()
        check_number("modulus", self.modulus, lo=2, hi=10, integer=True)

    @property
    def num_prompts(self) -> int:
        return self.modulus

    def allowed(self, param_b, prefix_bi):
        b, i = prefix_bi.shape
        if i < self.answer_len - 1:
            return torch.ones(b, N_DIGITS, dtype=torch.bool)
        need_b = (param_b - prefix_bi.sum(1)) % self.modulus
        return (torch.arange(N_DIGITS)[None, :] % self.modulus) == need_b[:, None]


@TASKS.register("palindrome")
@dataclass(frozen=True)
class Palindrome(Task):
    """L-digit palindromes starting with digit d; the prompt gives d."""

    name = "palindrome"

    @property
    def num_prompts(self) -> int:
        return N_DIGITS

    def allowed(self, param_b, prefix_bi):
        b, i = prefix_bi.shape
        out = torch.zeros(b, N_DIGITS, dtype=torch.bool)
        if i == 0:
            out[torch.arange(b), param_b] = True
        elif i < (self.answer_len + 1) // 2:
            out[:] = True
        else:
            out[torch.arange(b), prefix_bi[:, self.answer_len - 1 - i]] = True
        return out


def make_task(name: str, answer_len: int, modulus: int) -> Task:
    """The task ``name`` with the harness's size settings (``modulus`` only where it applies)."""
    cls = TASKS.get(name)
    fields = cls.__dataclass_fields__
    kwargs = {"answer_len": answer_len}
    if "modulus" in fields:
        kwargs["modulus"] = modulus
    return cls(**kwargs)


def digit_preference(skew: float) -> torch.Tensor:
    """The teacher's free-digit distribution p(d) ∝ exp(−skew·rank(d)), float64 [10].

    The rank order is a fixed permutation so the preferred digits are not simply 0, 1, 2, ...
    """
    rank = torch.tensor([3, 7, 0, 5, 9, 1, 8, 2, 6, 4], dtype=torch.float64)
    return torch.softmax(-skew * rank, dim=0)


def teacher_sample(task: Task, param_b: torch.Tensor, skew: float, error_rate: float,
                   generator: torch.Generator) -> torch.Tensor:
    """Pretraining targets: responses [B, L+1] from the skewed, calibrated teacher.

    At each position the teacher draws from ``digit_preference(skew)`` restricted to the allowed
    digits; where the rule constrains the digit (fewer than 10 allowed), with probability
    ``error_rate`` it instead draws uniformly among the forbidden ones. Correct answers are thus
    ranked by the same digit preference the model learns (calibrated: what it prefers is what is
    rewarded), and pass@1 = (1 − error_rate)^(#constrained positions) while pass@k → 1.
    """
    b = param_b.shape[0]
    pref = digit_preference(skew)
    digits = torch.zeros(b, 0, dtype=torch.long)
    for _ in range(task.answer_len):
        allowed_bd = task.allowed(param_b, digits)
        constrained_b = ~allowed_bd.all(1)
        err_b = constrained_b & (torch.rand(b, generator=generator, dtype=torch.float64)
                                 < error_rate)
        weights = torch.where(allowed_bd, pref, 0.0)
        wrong = torch.where(~allowed_bd, 1.0, 0.0).to(torch.float64)
        weights[err_b] = wrong[err_b]
        nxt = torch.multinomial(weights, 1, generator=generator)
        digits = torch.cat([digits, nxt], dim=1)
    return torch.cat([digits + DIGIT0, torch.full((b, 1), EOS)], dim=1)
