"""Batched MFCC in torch (CPU or GPU), built from the same matrices as `audio_lstm.features`."""

from __future__ import annotations

import torch
from torch import nn

from audio_lstm.features import MfccConfig, frontend_matrices


class TorchMfcc(nn.Module):
    """(batch, samples) float audio -> (batch, frames, n_mfcc); matches `features.mfcc` per row."""

    def __init__(self, cfg: MfccConfig = MfccConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        window, mel, dct = frontend_matrices(cfg)
        self.register_buffer("window", torch.from_numpy(window), persistent=False)
        self.register_buffer("mel_t", torch.from_numpy(mel.T.copy()), persistent=False)
        self.register_buffer("dct_t", torch.from_numpy(dct.T.copy()), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 2:
            raise ValueError(f"expected audio of shape (batch, samples), got {tuple(audio.shape)}")
        if audio.shape[1] < self.cfg.n_fft:
            return audio.new_zeros(audio.shape[0], 0, self.cfg.n_mfcc)
        frames = audio.float().unfold(-1, self.cfg.n_fft, self.cfg.hop_length) * self.window
        spectrum = torch.fft.rfft(frames, dim=-1)
        power = spectrum.real.square() + spectrum.imag.square()
        log_mel = 10.0 * torch.log10(torch.clamp(power @ self.mel_t, min=self.cfg.log_floor))
        return log_mel @ self.dct_t
