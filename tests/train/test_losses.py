"""The training losses: keyword segments and the max-pooling share of `stream_loss`."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from audio_lstm.commands.train import build_parser  # noqa: E402
from audio_lstm.train.losses import keyword_segments, stream_loss  # noqa: E402
from audio_lstm.train.targets import IGNORE_INDEX, NOT_KEYWORD_INDEX  # noqa: E402

KEYWORD_IDS = torch.arange(10)
NOT_KEYWORD = torch.tensor([10, 11])
IGNORE = IGNORE_INDEX


def test_keyword_segments_split_at_gaps_label_changes_and_rows() -> None:
    targets = torch.tensor([[2, 2, IGNORE, 2, 3, 3, 11], [3, 3, 3, 10, 2, 2, 2]])
    mask, segment = keyword_segments(targets, KEYWORD_IDS)
    assert mask.tolist() == [[True, True, False, True, True, True, False], [True, True, True, False, True, True, True]]
    # row 0: "2 2" | gap | "2" | "3 3"; row 1 starts a new segment even though row 0 ended on a non-keyword
    assert segment.tolist() == [0, 0, 1, 2, 2, 3, 3, 3, 4, 4, 4]


def test_zero_weight_is_plain_cross_entropy_and_full_weight_scores_each_segment_at_its_best_step() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 6, 13)
    targets = torch.tensor([[11, 4, 4, 4, 11, NOT_KEYWORD_INDEX]])
    log_probs = torch.log_softmax(logits, -1)[0]
    plain = stream_loss(logits, targets, NOT_KEYWORD)
    assert stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 0.0) == plain
    expected_plain = (
        -(log_probs[0, 11] + log_probs[1:4, 4].sum() + log_probs[4, 11] + torch.logsumexp(log_probs[5, 10:12], 0)) / 6
    )
    assert torch.allclose(plain, expected_plain)
    pooled = stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 1.0)
    best = log_probs[1:4, 4].max()
    expected = (-(log_probs[0, 11] + log_probs[4, 11] + torch.logsumexp(log_probs[5, 10:12], 0)) - 3 * best) / 6
    assert torch.allclose(pooled, expected)
    assert pooled < plain  # the best step scores at least as well as the window's mean
    half = stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 0.5)
    assert torch.allclose(half, (plain + pooled) / 2)


def test_max_pooled_gradient_reaches_only_the_best_step_of_each_keyword() -> None:
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 13, requires_grad=True)
    targets = torch.tensor([[7, 7, 7, 11, 11], [IGNORE, 2, 2, 10, 10]])
    stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 1.0).backward()
    touched = logits.grad.abs().sum(-1) > 0
    best_0 = int(torch.log_softmax(logits, -1)[0, :3, 7].argmax())
    best_1 = 1 + int(torch.log_softmax(logits, -1)[1, 1:3, 2].argmax())
    assert touched[0].tolist() == [i == best_0 for i in range(3)] + [True, True]
    assert touched[1].tolist() == [False] + [i == best_1 for i in (1, 2)] + [True, True]


def test_a_batch_without_keywords_and_bad_weights() -> None:
    logits = torch.zeros(1, 3, 13)
    targets = torch.tensor([[11, 10, IGNORE]])
    assert stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 1.0) == stream_loss(logits, targets, NOT_KEYWORD)
    with pytest.raises(ValueError, match="max_pool_weight"):
        stream_loss(logits, targets, NOT_KEYWORD, KEYWORD_IDS, 1.5)
    assert build_parser().parse_args(["data", "--max-pool-weight", "0.75"]).max_pool_weight == 0.75
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", "--max-pool-weight", "2"])
