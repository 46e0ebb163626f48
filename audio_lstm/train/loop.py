"""Training loop: generated streams in, best checkpoint + metrics + plots out.

The model is trained on continuous multi-clip streams with per-frame targets, and the LSTM
state is carried over from one batch to the next (detached), so it learns to score every
frame of an unbounded stream rather than only 1 s clips from a zero state.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, IterableDataset
from tqdm import tqdm

from audio_lstm.augment.rooms import measured_impulse_response
from audio_lstm.augment.signal import NoiseBank
from audio_lstm.augment.training_streams import StreamConfig, StreamSampler
from audio_lstm.data.readers import Clip, Corpus
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.decisions import smoothing_frames_for
from audio_lstm.device.features import MfccConfig
from audio_lstm.device.frame_stack import step_seconds
from audio_lstm.device.labels import KEYWORDS, SILENCE, UNKNOWN
from audio_lstm.evaluation.clip_eval import ClipSet, evaluate_clips
from audio_lstm.export.onnx_import import load_trained_model
from audio_lstm.train.distill import TeacherEnsemble, distillation_loss
from audio_lstm.train.hard_negatives import read_windows, window_bank
from audio_lstm.train.losses import stream_loss
from audio_lstm.train.model import KeywordLSTM, ModelConfig, count_parameters, save_checkpoint
from audio_lstm.train.torch_features import SpecAugmentConfig, TorchMfcc

NORMALISATION_STREAMS = 256  # training streams whose MFCC statistics set the model's normalisation


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; saved in the run folder and the checkpoint."""

    epochs: int = 150  # passes over the (class-balanced) training clips; why: docs/training.md, "Why the defaults"
    batch_size: int = 64  # streams per step
    learning_rate: float = 3e-3  # AdamW peak learning rate (one-cycle schedule)
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # max global gradient norm (LSTMs explode without it)
    # > 0: validate and save an exponential moving average of the weights with this per-step decay
    # (a smoother curve, no gain: docs/training.md, "Weight averaging"), 0: the raw weights
    ema_decay: float = 0.0
    carry_state_probability: float = 0.5  # chance a batch starts from the previous batch's final state
    steps_per_epoch: int | None = None  # None: len(sampler) // batch_size
    num_workers: int = 2  # data-generation worker processes
    seed: int = 0  # seeds python, numpy and torch
    # checkpoint whose weights and feature normalisation training starts from (fine-tuning; its
    # model and front-end configs must match); "": random weights, normalisation measured here
    init_from: str = ""
    # checkpoints (.pt) whose averaged per-step probabilities the model also learns (distillation;
    # audio_lstm.train.distill); () trains on the hard targets alone
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.5  # share of the loss that is KL to the teachers (the rest: hard targets)
    # share of each keyword occurrence's loss taken at its best step (max-pooling loss, audio_lstm.train.losses);
    # 0: cross-entropy on every step of its target window
    max_pool_weight: float = 0.0
    negative_hours: float = 12.0  # cap on the real negative audio (Corpus.negative_files) held in memory
    generated_negative_hours: float = 1.1  # of which generated speech (`audio-lstm data speech`) at most
    hard_negatives: str = ""  # mined windows (audio_lstm.train.hard_negatives TSV) drawn as negative backgrounds
    stream: StreamConfig = field(default_factory=StreamConfig)
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)  # log-mel masking of training streams


class StreamDataset(IterableDataset):
    """Endless (audio, targets) streams from a StreamSampler; each worker has its own seed."""

    def __init__(self, sampler: StreamSampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        while True:
            yield self.sampler.sample(rng)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def feature_statistics(
    sampler: StreamSampler, frontend: TorchMfcc, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coefficient mean and std of MFCC over `count` training streams."""
    rng = np.random.default_rng([seed, 999])
    audio = torch.from_numpy(np.stack([sampler.sample(rng)[0] for _ in range(count)]))
    with torch.no_grad():
        features = frontend(audio).reshape(-1, frontend.cfg.n_mfcc)
    return features.mean(0), features.std(0).clamp(min=1e-3)


def starting_model(path: Path | str, model_cfg: ModelConfig, mfcc_cfg: MfccConfig) -> KeywordLSTM:
    """The checkpoint a fine-tuning run starts from; ValueError (naming it) if it is another model."""
    start, start_mfcc, _ = load_trained_model(path)
    if start.cfg != model_cfg:
        raise ValueError(
            f"fine-tuning checkpoint {path}: its model {asdict(start.cfg)} differs from the one "
            f"to train {asdict(model_cfg)}"
        )
    if start_mfcc != mfcc_cfg:
        raise ValueError(
            f"fine-tuning checkpoint {path}: its front end {start_mfcc.to_dict()} differs from {mfcc_cfg.to_dict()}"
        )
    return start


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Training loss and validation accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [row["train_loss"] for row in history], label="train frame loss")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(epochs, [row["val_accuracy"] for row in history], label="validation clip accuracy")
    right.set_xlabel("epoch")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    corpus: Corpus,
    run_dir: Path,
    model_cfg: ModelConfig = ModelConfig(),
    mfcc_cfg: MfccConfig = MfccConfig(),
    cfg: TrainConfig = TrainConfig(),
    device: str | None = None,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on `corpus` (train split), validate on its validation split every epoch.

    Writes into `run_dir`: best.pt (best validation clip accuracy), last.pt (the last epoch), metrics.json, curves.png, confusion.png. Returns the metrics.
    """  # noqa: E501
    seed_everything(cfg.seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    use_amp = device.startswith("cuda")
    run_dir.mkdir(parents=True, exist_ok=True)
    train_clips: list[Clip] = corpus.subset("train")
    val_clips: list[Clip] = corpus.subset("validation")
    if not train_clips or not val_clips:
        raise ValueError(f"need train and validation clips, got {len(train_clips)} and {len(val_clips)}")
    noise = NoiseBank(corpus.noise_files)
    rate = mfcc_cfg.sample_rate
    negatives = (
        NoiseBank(corpus.negative_files, cfg.negative_hours * 3600, rate, cfg.seed) if corpus.negative_files else None
    )
    hard = window_bank(read_windows(Path(cfg.hard_negatives)), rate) if cfg.hard_negatives else None
    rooms = [measured_impulse_response(load_audio(path, rate), rate) for path in corpus.rir_files]
    sampler = StreamSampler(
        train_clips,
        noise,
        model_cfg.labels,
        mfcc_cfg,
        cfg.stream,
        seed=cfg.seed,
        negatives=negatives,
        hard_negatives=hard,
        measured_rirs=rooms,
    )
    print(
        f"backgrounds: {noise.seconds / 3600:.2f} h of noise, "
        f"{0 if negatives is None else negatives.seconds / 3600:.2f} h of real negatives, "
        f"{0 if hard is None else len(hard)} mined windows, {len(rooms)} measured rooms"
    )
    val_set = ClipSet.load(val_clips, mfcc_cfg.sample_rate)

    frontend = TorchMfcc(mfcc_cfg).to(device)
    model = KeywordLSTM(model_cfg)
    if cfg.init_from:
        model.load_state_dict(starting_model(cfg.init_from, model_cfg, mfcc_cfg).state_dict())
    else:
        mean, std = feature_statistics(sampler, TorchMfcc(mfcc_cfg), count=NORMALISATION_STREAMS, seed=cfg.seed)
        model.feature_mean.copy_(mean)
        model.feature_std.copy_(std)
    model.to(device)

    steps = cfg.steps_per_epoch or max(1, len(sampler) // cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.learning_rate, total_steps=cfg.epochs * steps)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    not_keyword = torch.tensor(
        [model_cfg.labels.index(x) for x in (UNKNOWN, SILENCE) if x in model_cfg.labels], device=device
    )
    keyword_ids = torch.tensor([model_cfg.labels.index(x) for x in KEYWORDS if x in model_cfg.labels], device=device)
    loader = DataLoader(
        StreamDataset(sampler, cfg.seed),
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
    )
    batches = iter(loader)
    teachers = TeacherEnsemble(cfg.teachers, model_cfg, mfcc_cfg, device) if cfg.teachers else None
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay)) if cfg.ema_decay > 0 else None
    scored: KeywordLSTM = averaged.module if averaged is not None else model  # what is validated and saved
    smoothing = smoothing_frames_for(step_seconds(mfcc_cfg, model_cfg.frame_stack))
    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"val_accuracy": -1.0}
    state = None
    started = time.time()
    meta = {"train_config": asdict(cfg), "parameters": count_parameters(model), "device": device, **(extra or {})}
    print(
        f"training {meta['parameters']:,} parameters on {device}: {len(train_clips)} train clips, "
        f"{len(val_clips)} validation clips, {steps} steps x {cfg.epochs} epochs"
    )
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total, count = 0.0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress, leave=False)
        for _ in bar:
            audio, targets = next(batches)
            audio, targets = audio.to(device), targets.to(device)
            carry = (
                state is not None and random.random() < cfg.carry_state_probability and state[0].shape[1] == len(audio)
            )
            if not carry:
                state = model.zero_state(len(audio), device)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
                features = frontend(audio, cfg.spec_augment)
                logits, new_state = model(features, state)
                targets = step_targets(targets, model_cfg.frame_stack, logits.shape[1])
                loss = stream_loss(logits, targets, not_keyword, keyword_ids, cfg.max_pool_weight)
                if teachers is not None:
                    soft = distillation_loss(logits, teachers.probabilities(features, carry))
                    loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * soft
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            if averaged is not None:
                averaged.update_parameters(model)
            state = (new_state[0].detach().float(), new_state[1].detach().float())
            total += loss.item()
            count += 1
            bar.set_postfix(loss=f"{total / count:.3f}")
        result = evaluate_clips(
            lambda x: _torch_scores(scored, frontend, x, device), val_set, model_cfg.labels, smoothing_frames=smoothing
        )
        row = {
            "epoch": epoch,
            "train_loss": total / count,
            "val_accuracy": result.accuracy,
            "seconds": round(time.time() - started, 1),
        }
        history.append(row)
        print(
            f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  val acc {result.accuracy:.4f}  ({row['seconds']:.0f} s)"
        )
        if result.accuracy > best["val_accuracy"]:
            best = {"epoch": epoch, "val_accuracy": result.accuracy, "report": result.to_dict()}
            save_checkpoint(run_dir / "best.pt", scored.to("cpu").eval(), mfcc_cfg, {**meta, "epoch": epoch})
            scored.to(device)
            result.plot_confusion(run_dir / "confusion.png", title=f"validation, epoch {epoch}")
        # The last epoch too: clip accuracy is not what training against real negatives improves
        # (false accepts per hour are), so a fine-tuning recipe exports the end of its schedule.
        save_checkpoint(run_dir / "last.pt", scored.to("cpu").eval(), mfcc_cfg, {**meta, "epoch": epoch})
        scored.to(device)
        plot_curves(history, run_dir / "curves.png")
        (run_dir / "metrics.json").write_text(json.dumps({**meta, "history": history, "best": best}, indent=2))
    return {**meta, "history": history, "best": best}


def step_targets(frame_targets: torch.Tensor, frame_stack: int, steps: int) -> torch.Tensor:
    """Per-step targets (batch, steps) from per-frame ones: each step takes its last frame's target."""
    return frame_targets[:, frame_stack - 1 :: frame_stack][:, :steps]


def _torch_scores(model: KeywordLSTM, frontend: TorchMfcc, audio: np.ndarray, device: str) -> np.ndarray:
    """Per-frame probabilities (batch, frames, classes) for a batch of equal-length clips, zero state."""
    model.eval()
    with torch.no_grad():
        batch = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(device)
        logits, _ = model(frontend(batch))
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()
