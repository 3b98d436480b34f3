"""Runs that lose nothing: frozen config, per-step metrics, atomic checkpoints, resume.

A run folder holds

    config.json      the frozen HarnessConfig (a resumed run must present the same one)
    metrics.jsonl    one JSON object per finished step, appended and flushed at once
    checkpoint.pt    the last checkpoint (adapter, optimizer, scaler, algorithm state, RNGs)
    phase1_adapter.pt  the phase-1 adapter (so a phase-2 run can be rebuilt on resume)
    summary.json     written when the run finishes

A crash keeps every finished step in metrics.jsonl; on resume the rows after the checkpoint's
step are dropped and recomputed, so the file equals that of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from entropy_lab.harness.config import HarnessConfig
from entropy_lab.validation import InputError


def _atomic_write_bytes(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _jsonable(v):
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class RunDir:
    """The folder of one run (created on :meth:`start`)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.metrics_path = self.path / "metrics.jsonl"
        self.ckpt_path = self.path / "checkpoint.pt"

    def start(self, cfg: HarnessConfig, resume: bool, overwrite: bool = False) -> None:
        """Create the folder and write the config; refuse to clobber or to resume another run."""
        cfg_path = self.path / "config.json"
        if resume:
            if not cfg_path.exists():
                raise InputError(f"--resume given but {cfg_path} does not exist: nothing to "
                                 "resume; run without --resume")
            saved = json.loads(cfg_path.read_text())
            if saved != cfg.to_dict():
                diff = sorted(k for k in cfg.to_dict() if saved.get(k) != cfg.to_dict()[k])
                raise InputError(f"cannot resume {self.path}: its config differs in {diff}; "
                                 "use the same settings or another --out")
            return
        if self.metrics_path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} already holds a run: pass --resume to continue "
                                  "it, --overwrite to replace it, or another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in (self.metrics_path, self.ckpt_path, self.path / "summary.json",
                      self.path / "phase1_adapter.pt"):
            stale.unlink(missing_ok=True)
        _atomic_write_bytes(cfg_path, lambda p: p.write_text(json.dumps(cfg.to_dict(),
                                                                        indent=1)))

    def append_metrics(self, row: dict) -> None:
        """Append one step's row and flush it to disk before returning."""
        line = json.dumps({k: _jsonable(v) for k, v in row.items()})
        with open(self.metrics_path, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(x) for x in self.metrics_path.read_text().splitlines() if x.strip()]

    def truncate_metrics(self, keep) -> None:
        """Keep only the rows for which ``keep(row)`` is true (used on resume)."""
        rows = [r for r in self.read_metrics() if keep(r)]
        text = "".join(json.dumps(r) + "\n" for r in rows)
        _atomic_write_bytes(self.metrics_path, lambda p: p.write_text(text))

    def save_checkpoint(self, state: dict) -> None:
        _atomic_write_bytes(self.ckpt_path, lambda p: torch.save(state, p))

    def load_checkpoint(self) -> dict | None:
        if not self.ckpt_path.exists():
            return None
        return torch.load(self.ckpt_path, map_location="cpu", weights_only=False)

    def save_tensor_dict(self, name: str, state: dict) -> None:
        _atomic_write_bytes(self.path / name, lambda p: torch.save(state, p))

    def load_tensor_dict(self, name: str) -> dict:
        return torch.load(self.path / name, map_location="cpu", weights_only=False)

    def write_summary(self, summary: dict) -> None:
        text = json.dumps({k: _jsonable(v) for k, v in summary.items()}, indent=1)
        _atomic_write_bytes(self.path / "summary.json", lambda p: p.write_text(text))
