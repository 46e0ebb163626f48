"""Batched MFCC in torch (CPU or GPU), built from the same matrices as `audio_lstm.device.features`.

Training can also warp each stream's frequency axis (vocal-tract-length perturbation) and mask
the log-mel spectrogram before the DCT (SpecAugment: bands and time spans replaced by their mean),
regularisers the device front end never applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from audio_lstm.device.features import MfccConfig, frontend_matrices

FRAMES_PER_SECOND = 100  # at the 10 ms hop of the default front end


@dataclass(frozen=True)
class SpecAugmentConfig:
    """SpecAugment-style masking of the log-mel spectrogram of training streams."""

    probability: float = 0.8  # chance a stream is masked at all
    band_masks: int = 2  # frequency masks per stream
    max_band_width: int = 6  # widest frequency mask, in mel bands (of n_mels)
    time_masks_per_second: float = 1.0  # time masks per second of stream
    max_time_width: int = 8  # longest time mask, in frames (10 ms each)
    # per-stream frequency-warp factor drawn uniformly from this range (vocal-tract-length
    # perturbation, Jaitly & Hinton 2013: 0.9-1.1 there); (1, 1): off. Applies to every stream.
    warp_range: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        low, high = self.warp_range
        if not 0.5 <= low <= high <= 1.5:
            raise ValueError(f"warp_range needs 0.5 <= low <= high <= 1.5, got {self.warp_range}")


WARP_CUTOFF = 0.6  # share of the Nyquist frequency below which a warp is a pure scaling (4.8 kHz at 16 kHz)


def warp_spectrum(power: torch.Tensor, factors: torch.Tensor, cutoff: float = WARP_CUTOFF) -> torch.Tensor:
    """Piecewise-linear frequency warp of (batch, frames, bins) power spectra, one factor per stream.

    A factor a > 1 moves spectral content up (a shorter vocal tract), a < 1 down: output frequency
    f takes the input at f / a below ``cutoff * nyquist * min(a, 1)``, and above it a straight
    line that keeps the Nyquist frequency in place (Jaitly & Hinton 2013). Bins are linearly
    interpolated; a factor of 1 returns the spectrum unchanged.
    """
    bins = power.shape[-1]
    nyquist = float(bins - 1)
    out = torch.arange(bins, device=power.device, dtype=power.dtype)[None, :]
    alpha = factors.to(power.device, power.dtype)[:, None]
    bound = cutoff * nyquist * torch.clamp(alpha, max=1.0)
    above = nyquist - (nyquist - out) * (nyquist - bound / alpha) / (nyquist - bound)
    source = torch.where(out <= bound, out / alpha, above).clamp(0.0, nyquist)
    left = source.floor().clamp(max=nyquist - 1)
    fraction = (source - left)[:, None, :]
    index = left.long()[:, None, :].expand(-1, power.shape[1], -1)
    return power.gather(-1, index) * (1 - fraction) + power.gather(-1, index + 1) * fraction


def spec_augment(
    log_mel: torch.Tensor, cfg: SpecAugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mask random mel bands and frame spans of (batch, frames, n_mels), filling them with the stream's mean.

    Each masked region takes the per-band time average of its stream, so masks remove detail
    without adding an artificial level. Streams not drawn (1 - probability) pass unchanged.
    """
    batch, frames, bands = log_mel.shape
    device = log_mel.device

    def draw(count: int, width: int, size: int) -> torch.Tensor:
        """(batch, size) bool: `count` spans of width 0..width per stream."""
        widths = torch.randint(0, width + 1, (batch, count, 1), generator=generator).to(device)
        starts = (torch.rand(batch, count, 1, generator=generator).to(device) * (size - widths + 1)).floor()
        positions = torch.arange(size, device=device).view(1, 1, size)
        return ((positions >= starts) & (positions < starts + widths)).any(dim=1)

    chosen = (torch.rand(batch, generator=generator) < cfg.probability).to(device)
    band_mask = draw(cfg.band_masks, cfg.max_band_width, bands) & chosen[:, None]
    mask = band_mask[:, None, :].expand(batch, frames, bands)
    time_count = int(round(cfg.time_masks_per_second * frames / FRAMES_PER_SECOND))
    if time_count > 0:
        mask = mask | (draw(time_count, cfg.max_time_width, frames) & chosen[:, None])[:, :, None]
    fill = log_mel.mean(dim=1, keepdim=True).expand_as(log_mel)
    return torch.where(mask, fill, log_mel)


class TorchMfcc(nn.Module):
    """(batch, samples) float audio -> (batch, frames, n_mfcc); matches `features.mfcc` per row."""

    def __init__(self, cfg: MfccConfig = MfccConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        window, mel, dct = frontend_matrices(cfg)
        self.register_buffer("window", torch.from_numpy(window), persistent=False)
        self.register_buffer("mel_t", torch.from_numpy(mel.T.copy()), persistent=False)
        self.register_buffer("dct_t", torch.from_numpy(dct.T.copy()), persistent=False)

    def forward(
        self, audio: torch.Tensor, augment: SpecAugmentConfig | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """MFCC of each row; with `augment`, the spectrum is warped and the log-mel masked first (training only)."""
        if audio.dim() != 2:
            raise ValueError(f"expected audio of shape (batch, samples), got {tuple(audio.shape)}")
        if audio.shape[1] < self.cfg.n_fft:
            return audio.new_zeros(audio.shape[0], 0, self.cfg.n_mfcc)
        frames = audio.float().unfold(-1, self.cfg.n_fft, self.cfg.hop_length) * self.window
        spectrum = torch.fft.rfft(frames, dim=-1)
        power = spectrum.real.square() + spectrum.imag.square()
        low, high = augment.warp_range if augment is not None else (1.0, 1.0)
        if (low, high) != (1.0, 1.0):
            factors = low + (high - low) * torch.rand(power.shape[0], generator=generator)
            power = warp_spectrum(power, factors)
        log_mel = 10.0 * torch.log10(torch.clamp(power @ self.mel_t, min=self.cfg.log_floor))
        if augment is not None and augment.probability > 0:
            log_mel = spec_augment(log_mel, augment, generator)
        return log_mel @ self.dct_t
