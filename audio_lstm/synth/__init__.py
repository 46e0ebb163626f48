"""Synthetic training audio: breaking glass, TTS engines and voices, word lists, spoken negatives."""
