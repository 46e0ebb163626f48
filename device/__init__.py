"""On-device runtime (numpy + onnxruntime only): streaming classifier, detector, classify, listen."""
