"""Sampler engines (entropy_lab/harness/engine.py) and the engine–trainer gap (engine_gap.py)."""

import math

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from entropy_lab.harness import tasks as T  # noqa: E402
from entropy_lab.harness.config import make_config  # noqa: E402
from entropy_lab.harness.engine import (  # noqa: E402
    DEFAULT_ENGINE,
    ENGINES,
    EngineConfig,
    engine_kernels,
    engine_logprobs,
    engine_sample,
)
from entropy_lab.harness.engine_gap import (  # noqa: E402
    gap_stats,
    gap_table,
    measure_gap,
    rms_with_se,
)  # noqa: E402
from entropy_lab.harness.model import build_model, get_mode  # noqa: E402
from entropy_lab.harness.policy import sample, trainer_logprobs  # noqa: E402
from entropy_lab.validation import InputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

LENGTH = 4
SINGLE_OPTIONS = [EngineConfig("a-compute", attention="compute"),
                  EngineConfig("a-fp32", attention="fp32"),
                  EngineConfig("n-compute", norm="compute"),
                  EngineConfig("r-compute", residual="compute"),
                  EngineConfig("h-fp32", head="fp32"),
                  EngineConfig("k2", split_k=2), EngineConfig("k8", split_k=8)]


def tiny(seed):
    """A random-init size-1 model whose logits are of order 1, as a trained model's (head ×10):
    at the init's scale (logit std ~0.16) bf16 rounding of the logits rarely moves a bf16
    log-prob, whose spacing is 2^-6 near log(1/16)."""
    net = build_model(1, T.vocabulary(), T.PROMPT_LEN + LENGTH, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        net.lm_head.weight.mul_(10.0)
    return net.eval()


@pytest.fixture(scope="module")
def model():
    return tiny(0)


@pytest.fixture(scope="module")
def lora_model():
    from entropy_lab.harness.train import add_adapter

    peft = add_adapter(tiny(3), make_config("cpu-tiny"), torch.Generator().manual_seed(4))
    with torch.no_grad():  # non-zero adapters, so that the LoRA branch counts
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5)))
    return peft.eval()


def prompts(n=16, seed=1):
    task = T.make_task("digitsum", 3, 5)
    return task.prompt_ids(task.sample_params(n, torch.Generator().manual_seed(seed)))


def rollout(model, mode, seed=2, n=16):
    return sample(model, prompts(n), LENGTH, mode, torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("kwargs,word", [({"attention": "bf16"}, "attention"),
                                         ({"norm": "fp32"}, "norm"),
                                         ({"residual": "x"}, "residual"),
                                         ({"head": "compute"}, "head"),
                                         ({"split_k": 0}, "split_k"),
                                         ({"split_k": 2.5}, "split_k"),
                                         ({"name": ""}, "name")])
def test_engine_config_errors_name_the_field(kwargs, word):
    with pytest.raises(InputError, match=word):
        EngineConfig(**kwargs)


def test_registry_and_default():
    assert ENGINES.get("trainer").is_trainer and ENGINES.get("trainer").options() == {}
    default = ENGINES.get(DEFAULT_ENGINE)
    assert not default.is_trainer and set(default.options()) >= {"attention", "norm", "residual"}
    with pytest.raises(InputError, match="unknown sampler engine"):
        engine_sample(None, prompts(), LENGTH, get_mode("bf16"), "vllm",
                      torch.Generator())


# ---------------------------------------------------------------- trainer settings: bitwise

@pytest.mark.parametrize("mode_name", ["bf16", "fp16", "fp32_logprobs"])
@pytest.mark.parametrize("which", ["model", "lora_model"])
def test_trainer_engine_agrees_bitwise_with_the_trainer_path(mode_name, which, request):
    net = request.getfixturevalue(which)
    mode = get_mode(mode_name)
    roll = engine_sample(net, prompts(), LENGTH, mode, "trainer", torch.Generator().manual_seed(2))
    trainer, _ = trainer_logprobs(net, roll, mode)
    assert torch.equal(roll.old_logp_bt, trainer)
    assert torch.equal(engine_logprobs(net, roll.prompt_bp, roll.tokens_bt, mode, "trainer"),
                       trainer)


def test_trainer_engine_in_fp32_is_the_plain_sampler(model):
    # In fp32 the KV-cache sampler itself differs from the full forward by ~1e-7 (attention over
    # one query vs all of them), with or without an engine; the trainer engine adds nothing.
    mode = get_mode("fp32")
    plain = rollout(model, mode)
    roll = engine_sample(model, prompts(), LENGTH, mode, "trainer",
                         torch.Generator().manual_seed(2))
    assert torch.equal(roll.old_logp_bt, plain.old_logp_bt)
    trainer, _ = trainer_logprobs(model, roll, mode)
    assert (roll.old_logp_bt - trainer).abs().max() < 1e-5


def test_scorer_is_the_sampler_path(model):
    # engine_logprobs on the tokens an engine sampled reproduces that engine's sampler log-probs.
    mode = get_mode("bf16")
    roll = engine_sample(model, prompts(), LENGTH, mode, DEFAULT_ENGINE,
                         torch.Generator().manual_seed(2))
    scored = engine_logprobs(model, roll.prompt_bp, roll.tokens_bt, mode, DEFAULT_ENGINE)
    assert torch.equal(scored, roll.old_logp_bt)


# ---------------------------------------------------------------- each option alone

@pytest.mark.parametrize("engine", SINGLE_OPTIONS, ids=lambda e: e.name)
@pytest.mark.parametrize("which", ["model", "lora_model"])
def test_each_option_alone_moves_bf16_and_not_fp32(engine, which, request):
    net = request.getfixturevalue(which)
    bf16 = get_mode("bf16")
    gap = measure_gap(net, rollout(net, bf16), bf16, engine)
    assert gap > 1e-4, f"{engine.name}: bf16 gap {gap:.2e}"
    fp32 = get_mode("fp32")
    roll = rollout(net, fp32)
    trainer, _ = trainer_logprobs(net, roll, fp32)
    moved = engine_logprobs(net, roll.prompt_bp, roll.tokens_bt, fp32, engine) - trainer
    assert moved.abs().max() < 1e-5


def test_kernels_are_restored(model):
    ids = torch.cat([prompts(), prompts(seed=9)[:, :2]], dim=1)
    bf16 = get_mode("bf16")
    with bf16.autocast(ids.device):
        before = model(input_ids=ids).logits
    attn = model.config._attn_implementation
    with pytest.raises(RuntimeError, match="inside"):
        with engine_kernels(model, ENGINES.get("bf16-engine-fp32-head")):
            with bf16.autocast(ids.device):
                during = model(input_ids=ids).logits
            raise RuntimeError("inside")
    with bf16.autocast(ids.device):
        after = model(input_ids=ids).logits
    assert not torch.equal(during.float(), before.float())
    assert torch.equal(after, before) and model.config._attn_implementation == attn
    assert not any("forward" in m.__dict__ for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())


# ---------------------------------------------------------------- the gap measurement

def direct_gap(model, roll, mode, engine):
    """Slow and plain: own decode loop under the engine, own full forward, per-token loop."""
    from transformers import DynamicCache

    prompt, tokens = roll.prompt_bp, roll.tokens_bt
    B, L = tokens.shape
    eng_logits = []
    with torch.no_grad(), engine_kernels(model, engine):
        cache, ids = DynamicCache(config=model.config), prompt
        for t in range(L):
            with mode.autocast(prompt.device):
                eng_logits.append(model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1])
            ids = tokens[:, t:t + 1]
    with torch.no_grad(), mode.autocast(prompt.device):
        full = model(input_ids=torch.cat([prompt, tokens[:, :-1]], dim=1)).logits
    total, count = 0.0, 0
    for b in range(B):
        row = tokens[b].tolist()
        end = row.index(T.EOS) + 1 if T.EOS in row else L
        for t in range(end):
            tok = torch.tensor([[row[t]]])
            e = mode.log_probs(eng_logits[t][b:b + 1, None], tok).item()
            r = mode.log_probs(full[b:b + 1, prompt.shape[1] - 1 + t][:, None], tok).item()
            total += (e - r) ** 2
            count += 1
    return math.sqrt(total / count), count


@pytest.mark.parametrize("mode_name", ["bf16", "fp32_logprobs"])
def test_measure_gap_matches_a_direct_loop(model, mode_name):
    mode = get_mode(mode_name)
    roll = rollout(model, mode, seed=7, n=24)
    assert (roll.mask_bt == 0).any()  # some sequences end early: the mask matters
    want, count = direct_gap(model, roll, mode, DEFAULT_ENGINE)
    assert want > 0
    assert measure_gap(model, roll, mode, DEFAULT_ENGINE) == pytest.approx(want, rel=1e-9)
    stats = gap_stats(model, roll, mode, DEFAULT_ENGINE)
    assert stats["gap"] == pytest.approx(want, rel=1e-9) and stats["tokens"] == count
    assert 0 < stats["gap_se"] < stats["gap"]


def test_reference_kernels_apply_to_the_trainer_side(model):
    # Sampler and trainer both under the same engine, in bf16: the gap is the KV cache's alone,
    # which on a CPU is zero with the trainer's kernels; with an fp32 head on both sides the
    # gap to a bf16-head trainer equals that of the fp32-head sampler.
    mode = get_mode("bf16")
    roll = rollout(model, mode)
    assert measure_gap(model, roll, mode, "head-fp32", reference="head-fp32") == 0.0
    assert measure_gap(model, roll, mode, "head-fp32") > 0


def test_gap_table_rows(model):
    df = gap_table(model, prompts(8), LENGTH, modes=("bf16", "fp32"),
                   pairs=(("trainer", "trainer"), ("split-k2", "trainer")))
    assert list(df.columns) == ["precision", "engine", "reference", "options", "gap", "gap_se",
                                "tokens", "seqs"]
    assert len(df) == 4 and (df.seqs == 8).all()
    bf16 = df[df.precision == "bf16"].set_index("engine").gap
    assert bf16["trainer"] == 0.0 and bf16["split-k2"] > 0
    assert (df[df.precision == "fp32"].gap < 1e-5).all()


def test_gap_standard_error_matches_the_spread_over_replicates():
    # Monte Carlo: 400 replicate batches of 200 sequences with 1-4 real tokens each and
    # per-sequence scales (tokens of one sequence are correlated); the mean reported SE must be
    # within 15% of the standard deviation of the gap over replicates (rule fixed beforehand).
    gen = torch.Generator().manual_seed(11)
    gaps, ses = [], []
    for _ in range(400):
        n_b = torch.randint(1, 5, (200,), generator=gen).double()
        scale_b = torch.rand(200, generator=gen, dtype=torch.float64) * 2
        d = torch.randn(200, 4, generator=gen, dtype=torch.float64) * scale_b[:, None]
        mask = (torch.arange(4)[None, :] < n_b[:, None]).double()
        gap, se = rms_with_se((d * mask).pow(2).sum(1), n_b)
        gaps.append(gap)
        ses.append(se)
    spread = torch.tensor(gaps).std().item()
    assert abs(sum(ses) / len(ses) / spread - 1) < 0.15


@pytest.mark.gpu
def test_engine_runs_on_cuda():
    net = tiny(0).cuda()
    mode = get_mode("bf16")
    gen = torch.Generator(device="cuda").manual_seed(2)
    roll = engine_sample(net, prompts().cuda(), LENGTH, mode, DEFAULT_ENGINE, gen)
    assert measure_gap(net, roll, mode, DEFAULT_ENGINE) > 0
