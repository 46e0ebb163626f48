"""The bundled model file (found with `importlib.resources` by `audio_lstm.device.bundled`)."""
