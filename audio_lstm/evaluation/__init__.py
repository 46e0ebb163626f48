"""Clip and streaming evaluation: scorers, evaluation streams, real negatives, event matching, reports, plots."""
