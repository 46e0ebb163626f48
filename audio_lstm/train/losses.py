"""Training losses over per-step stream targets (see audio_lstm.train.targets for the target codes).

`stream_loss` is cross-entropy on every step that has a target. With ``max_pool_weight > 0``, part
(or all) of each keyword occurrence's loss is taken at its single best step instead: the
max-pooling loss of Sun et al. ("Max-pooling loss training of LSTM networks for small-footprint
keyword spotting", 2016). Per-step cross-entropy asks for the keyword on every step of its target
window, including the steps before the word's last sound, where "up" and "off" still sound alike,
so the model learns to hedge; the max-pooled term only asks that the keyword win clearly somewhere
in the window, and the steps around that peak are free.
"""

from __future__ import annotations

import torch

from audio_lstm.train.targets import NOT_KEYWORD_INDEX


def keyword_segments(targets: torch.Tensor, keyword_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the keyword occurrences are: (mask of keyword steps, segment index of each such step).

    A segment is a maximal run of consecutive steps in one row with the same keyword target; the
    indices count segments over the whole batch from 0, in row-major order.
    """
    is_keyword = torch.isin(targets, keyword_ids)
    previous = torch.nn.functional.pad(targets[:, :-1], (1, 0), value=-1)  # no keyword before a row's first step
    starts = is_keyword & (targets != previous)
    segment = torch.cumsum(starts.flatten(), 0).reshape(targets.shape) - 1
    return is_keyword, segment[is_keyword]


def stream_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    not_keyword: torch.Tensor,
    keyword_ids: torch.Tensor | None = None,
    max_pool_weight: float = 0.0,
) -> torch.Tensor:
    """Mean cross-entropy over the steps that have a target.

    A step whose target is NOT_KEYWORD_INDEX scores the summed probability of the `not_keyword`
    classes (any of them is right); IGNORE_INDEX (any other negative) steps are left out. With
    `max_pool_weight` w > 0 and `keyword_ids`, each run of steps targeting one keyword contributes
    (1 - w) x its per-step losses plus w x its length x the loss of its best step, so the
    normaliser (steps with a target) and the keywords' share of the loss stay as without it.
    """
    if not 0.0 <= max_pool_weight <= 1.0:
        raise ValueError(f"max_pool_weight must be in [0, 1], got {max_pool_weight}")
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    hard, soft = targets >= 0, targets == NOT_KEYWORD_INDEX
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    pooled = torch.logsumexp(log_probs[..., not_keyword], dim=-1)
    losses = torch.where(hard, -picked, torch.where(soft, -pooled, torch.zeros_like(picked)))
    count = (hard | soft).sum().clamp(min=1)
    if max_pool_weight == 0.0 or keyword_ids is None:
        return losses.sum() / count
    is_keyword, segment = keyword_segments(targets, keyword_ids)
    if segment.numel() == 0:
        return losses.sum() / count
    segments = int(segment.max()) + 1
    best = torch.full((segments,), float("-inf"), device=logits.device)
    best = best.scatter_reduce(0, segment, picked[is_keyword], reduce="amax", include_self=False)
    lengths = torch.bincount(segment, minlength=segments).to(best.dtype)
    framed = losses[~is_keyword].sum() + (1.0 - max_pool_weight) * losses[is_keyword].sum()
    return (framed + max_pool_weight * (lengths * -best).sum()) / count
