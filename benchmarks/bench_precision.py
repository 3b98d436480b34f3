"""Ratio-bias analysis throughput (tokens/s) and peak memory at vocab 32k.

The streamed measurement (``measure_ratio_bias``: blocks of rows, running per-bin sums) is timed
against a naive reference on a size that fits: materialise every block's logits and per-token
ratios at once, then bin with pandas. Full mode measures 10^7 tokens (64 tokens per context
row, so 156,250 rows of 32k logits), quick mode 10^5. Peak memory is the process's resident
high-water mark (VmHWM) growth over the post-import baseline, each run in a fresh
subprocess so one run's peak does not hide another's; the naive reference's is reported too.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from entropy_lab.precision import LOGP_EDGES, LogitSource, measure_ratio_bias
from entropy_lab.precision.measure import block_generator, block_ratios, block_sizes

VOCAB = 32_000
PIPELINE = "bf16"
TOKENS_PER_ROW = 64
FULL_TOKENS, QUICK_TOKENS = 10_000_000, 100_000
REFERENCE_TOKENS = 20_000


def _rss_mb() -> float:
    """Peak resident memory (MB) of this process image: VmHWM on Linux (ru_maxrss survives
    fork + exec, so a child would report its parent's peak), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_reference(n_tokens: int, source) -> pd.DataFrame:
    """Slow, obviously correct: all logits and ratios in memory, binned with pandas."""
    rows = block_sizes(n_tokens, TOKENS_PER_ROW, 10**9)[0]
    tok = block_ratios(PIPELINE, source, rows, block_generator(0, 0), None, TOKENS_PER_ROW)
    df = pd.DataFrame({"logp": tok.logp.reshape(-1).numpy(), "r": tok.ratio.reshape(-1).numpy()})
    df["bin"] = pd.cut(df["logp"], LOGP_EDGES, labels=False)
    return df.groupby("bin")["r"].agg(["size", "mean"])


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def streamed(n_tokens: int, source):
    """The measurement under test."""
    return measure_ratio_bias(PIPELINE, source, n_tokens, tokens_per_row=TOKENS_PER_ROW)


def peak_rss_growth_mb(which: str, n_tokens: int) -> float:
    """Peak resident-memory growth (MB) of ``streamed`` / ``naive_reference``, fresh process."""
    code = (
        "import resource, sys; sys.path.insert(0, sys.argv[1]); import bench_precision as b; "
        "src = b.LogitSource(vocab=b.VOCAB, kind='peaked'); b.streamed(64, src); "
        "base = b._rss_mb(); getattr(b, sys.argv[2])(int(sys.argv[3]), src); "
        "print(b._rss_mb() - base)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), which,
                          str(n_tokens)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    torch.manual_seed(0)
    source = LogitSource(vocab=VOCAB, kind="peaked")
    n = QUICK_TOKENS if quick else FULL_TOKENS
    res, t_big = _timed(lambda: streamed(n, source))
    _, t_small = _timed(lambda: streamed(REFERENCE_TOKENS, source))
    _, t_ref = _timed(lambda: naive_reference(REFERENCE_TOKENS, source))
    mem_big = peak_rss_growth_mb("streamed", n)
    mem_ref = peak_rss_growth_mb("naive_reference", REFERENCE_TOKENS)
    return {
        "name": "precision",
        "ratio": t_ref / t_small,
        "reference": f"naive all-in-memory + pandas binning, {REFERENCE_TOKENS} tokens "
                     "(speed ratio reference/streamed on the same tokens)",
        "tokens": n,
        "vocab": VOCAB,
        "tokens_per_row": TOKENS_PER_ROW,
        "pipeline": PIPELINE,
        "tokens_per_s": n / t_big,
        "seconds": t_big,
        "peak_rss_growth_mb": mem_big,
        "reference_peak_rss_growth_mb": mem_ref,
        "reference_tokens": REFERENCE_TOKENS,
        "tokens_measured": int(res.summary["n"].iloc[0]),
        "torch_threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    for key, value in run(quick="--quick" in sys.argv).items():
        print(f"{key}: {value}")
