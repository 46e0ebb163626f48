"""Checkpoint -> streaming fp32/int8 ONNX export and parity checks (needs the train extra)."""
