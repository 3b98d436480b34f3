"""Harness pieces without an RL run: tasks, config, precision modes, the two policy paths,
and the Theorem 1 probe (exact and statistical tiers)."""

import itertools
import math

import pytest
import torch

from entropy_lab.harness import tasks as T
from entropy_lab.harness.config import HarnessConfig, make_config
from entropy_lab.harness.model import PRECISION_MODES, build_model, get_mode
from entropy_lab.harness.policy import response_mask, sample, trainer_logprobs
from entropy_lab.harness.theorem1 import eval_entropy, predicted_change, snapshot
from entropy_lab.theory import entropy
from entropy_lab.validation import InputError

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(seed=0, answer_len=3):
    return build_model(1, T.vocabulary(), T.PROMPT_LEN + answer_len + 1,
                       torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- tasks

@pytest.mark.parametrize("length,modulus", [(3, 5), (3, 3), (2, 4)])
def test_digitsum_correct_set_matches_brute_force(length, modulus):
    task = T.make_task("digitsum", length, modulus)
    for r in range(modulus):
        expected = sorted(s for s in itertools.product(range(10), repeat=length)
                          if sum(s) % modulus == r)
        got = sorted(tuple(x - T.DIGIT0 for x in row[:-1]) for row in task.correct_set(r).tolist())
        assert got == expected


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5])
def test_palindrome_correct_set_matches_brute_force(length):
    task = T.make_task("palindrome", length, 5)
    for d in (0, 7):
        expected = sorted(s for s in itertools.product(range(10), repeat=length)
                          if s == s[::-1] and s[0] == d)
        got = sorted(tuple(x - T.DIGIT0 for x in row[:-1]) for row in task.correct_set(d).tolist())
        assert got == expected
        assert len(got) == 10 ** (math.ceil(length / 2) - 1)


def test_reward_needs_allowed_digits_then_eos():
    task = T.make_task("digitsum", 3, 5)
    d = T.DIGIT0
    resp = torch.tensor([[d + 1, d + 2, d + 2, T.EOS],     # 1+2+2 = 5 ≡ 0
                         [d + 1, d + 2, d + 3, T.EOS],     # 6 ≢ 0
                         [d + 1, d + 2, d + 2, d + 0],     # no EOS
                         [d + 1, T.EOS, T.PAD, T.PAD]])    # too short
    assert task.reward(torch.zeros(4, dtype=torch.long), resp).tolist() == [1, 0, 0, 0]
    assert task.reward(torch.ones(4, dtype=torch.long), resp).tolist() == [0, 1, 0, 0]


def test_vocabulary_and_prompts():
    vocab = T.vocabulary()
    assert vocab[: 4] == ["<pad>", "<bos>", "<eos>", "<sep>"]
    assert vocab[T.DIGIT0: T.DIGIT0 + 10] == [str(i) for i in range(10)]
    task = T.make_task("palindrome", 3, 5)
    assert task.prompt_ids(torch.tensor([4])).tolist() == [
        [T.BOS, vocab.index("<palindrome>"), T.DIGIT0 + 4, T.SEP]]


@pytest.mark.parametrize("name,constrained", [("digitsum", 1), ("palindrome", 2)])
def test_teacher_success_rate_is_one_minus_error_per_constrained_digit(name, constrained):
    # Statistical tier: pass@1 of the teacher = (1 - e)^(#constrained positions), L = 3.
    task = T.make_task(name, 3, 5)
    gen = torch.Generator().manual_seed(3)
    n, e = 4000, 0.3
    params = task.sample_params(n, gen)
    rate = float(task.reward(params, T.teacher_sample(task, params, 0.5, e, gen)).mean())
    p = (1 - e) ** constrained
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_teacher_is_skewed_by_the_digit_preference():
    task = T.make_task("digitsum", 3, 5)
    gen = torch.Generator().manual_seed(4)
    n = 4000
    first = T.teacher_sample(task, task.sample_params(n, gen), 0.5, 0.0, gen)[:, 0] - T.DIGIT0
    freq = torch.bincount(first, minlength=10).double() / n
    pref = T.digit_preference(0.5)
    assert torch.all((freq - pref).abs() < 4 * torch.sqrt(pref * (1 - pref) / n))


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("overrides,word", [
    ({"precision": "bf17"}, "precision"),
    ({"algo": "nope"}, "algo"),
    ({"task": "sorting"}, "task"),
    ({"pass_k": 9, "group_size": 8}, "pass_k"),
    ({"phase2_task": "digitsum"}, "phase2_task"),
    ({"size": 0}, "size"),
    ({"lr": -1.0}, "lr"),
    ({"error_rate": 1.5}, "error_rate"),
    ({"device": "tpu"}, "device"),
    ({"lora_targets": ()}, "lora_targets"),
    ({"colour": "red"}, "colour"),
])
def test_config_bad_values_name_the_field(overrides, word):
    with pytest.raises(InputError, match=word):
        make_config("cpu-tiny", **overrides)


def test_config_round_trips_through_json():
    cfg = make_config("cpu-tiny", algo_overrides=(("eps_high", 0.3),), phase2_task="palindrome")
    assert HarnessConfig.from_dict(cfg.to_dict()) == cfg
    assert make_config("gpu").size > cfg.size


# ---------------------------------------------------------------- precision and paths

def test_response_mask_stops_after_first_eos():
    toks = torch.tensor([[5, 6, T.EOS, T.PAD], [5, 6, 7, 8], [T.EOS, 5, T.EOS, 6]])
    assert response_mask(toks).tolist() == [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_log_probs_use_the_mode_dtype():
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 4, 16, generator=gen) * 4).to(torch.bfloat16)
    tok = torch.randint(0, 16, (3, 4), generator=gen)
    want32 = torch.log_softmax(logits.float(), -1).gather(-1, tok[..., None])[..., 0]
    want16 = torch.log_softmax(logits, -1).gather(-1, tok[..., None])[..., 0].float()
    assert torch.equal(get_mode("fp32-logprobs").log_probs(logits, tok), want32)
    assert torch.equal(PRECISION_MODES.get("bf16").log_probs(logits, tok), want16)
    assert not torch.equal(want16, want32)


def test_sampler_and_trainer_paths_agree_in_fp32():
    model = tiny_model()
    task = T.make_task("digitsum", 3, 5)
    gen = torch.Generator().manual_seed(1)
    mode = PRECISION_MODES.get("fp32")
    roll = sample(model, task.prompt_ids(task.sample_params(8, gen)), 4, mode, gen)
    logp, logits = trainer_logprobs(model, roll, mode)
    assert torch.allclose(logp, roll.old_logp_bt, atol=1e-5)
    h_trainer = entropy(logits.double()) * roll.mask_bt.double()
    assert torch.allclose(roll.entropy_bt, h_trainer, atol=1e-5)


# ---------------------------------------------------------------- Theorem 1 probe

def test_theorem1_prediction_error_is_second_order():
    # Exact tier (float64 model): along a fixed direction v,
    # H(θ + εv) − H(θ) − ε∇H·v = ½ε² vᵀ∇²H v + O(ε³), so the remainder / ε² tends to a constant.
    model = tiny_model(seed=2).double()
    task = T.make_task("palindrome", 3, 5)
    gen = torch.Generator().manual_seed(5)
    batch = sample(model, task.prompt_ids(task.sample_params(8, gen)), 4,
                   PRECISION_MODES.get("fp32"), gen)
    params = list(model.parameters())
    h0 = eval_entropy(model, batch)
    grads = [g.double() for g in torch.autograd.grad(h0, params)]
    direction = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    before = snapshot(params)
    ratios, rel = [], []
    for eps in (2e-3, 1e-3, 5e-4):
        with torch.no_grad():
            for p, b, v in zip(params, before, direction):
                p.copy_(b + eps * v)
            measured = eval_entropy(model, batch).item() - h0.item()
        pred = predicted_change(grads, before, params)
        ratios.append((measured - pred) / eps ** 2)
        rel.append(abs(measured - pred) / abs(pred))
    assert max(ratios) / min(ratios) < 1.2  # same sign, nearly constant: second order
    assert rel[2] < 0.5 * rel[0]  # the relative error of the prediction shrinks with ε
