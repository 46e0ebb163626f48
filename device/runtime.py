"""Streaming inference: raw audio chunks in, per-frame class scores out (numpy + onnxruntime only).

`StreamingClassifier` owns one onnxruntime session, the streaming MFCC front end and the LSTM
state. Feeding a stream in chunks of any size gives exactly the scores of feeding it in one go:
the front end buffers incomplete frames and the state carries over between calls.

int8 models are dynamically quantized: onnxruntime quantizes activations with a scale taken from
the whole input of each call, so a call's scores depend on which frames share the call. To keep
scores independent of chunking, non-fp32 models run in fixed groups of `frames_per_call` frames
counted from the last `reset()` (default about 160 ms: 16 frames; 8 steps when 2 frames are stacked,
as in the bundled model; 5 steps = 150 ms when 3 are):
audio waits until a group is complete, then the front end and the model each run once for it.
That adds at most 150 ms of latency (80 ms more than groups of 8) and, at the daemon's 80 ms
chunks, cut the whole path's cost from 1.42 to 0.97 ms per second of audio. `flush()` runs a
final partial group at the end of a stream.
fp32 models run all the frames of a chunk in one call (their results do not depend on grouping).

Full groups run through onnxruntime I/O bindings made once: fixed input, score and state buffers,
with the LSTM state in two slots that alternate as input and output, so a call converts,
allocates and copies nothing but the group's features in and its scores out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from audio_lstm.device.decisions import smoothing_frames_for
from audio_lstm.device.features import samples_for_frames
from audio_lstm.device.frame_stack import streaming_frontend
from audio_lstm.device.int8_check import warn_if_signed_int8
from audio_lstm.device.model_file import (
    INPUT_C,
    INPUT_FEATURES,
    INPUT_H,
    OUTPUT_C,
    OUTPUT_H,
    OUTPUT_SCORES,
    ModelFileError,
    ModelInfo,
    parse_metadata,
)

_FLOAT = "tensor(float)"
DEFAULT_GROUP_SECONDS = 0.16  # int8 models: span of one model call (16 frames of 10 ms), see the module docstring


def default_frames_per_call(info: ModelInfo) -> int:
    """Model steps per call: 0 (every chunk at once) for fp32, about DEFAULT_GROUP_SECONDS otherwise."""
    if info.precision == "fp32":
        return 0
    return max(1, round(DEFAULT_GROUP_SECONDS / info.step_seconds))


def _dims_match(actual: list, expected: tuple[int | None, ...]) -> bool:
    """A graph shape matches when ranks agree and every static dim equals the expected one.

    Symbolic (named or unknown) graph dims match anything; an expected ``None`` accepts any dim.
    """
    if len(actual) != len(expected):
        return False
    return all(not isinstance(a, int) or e is None or a == e for a, e in zip(actual, expected))


def _check_graph(session: ort.InferenceSession, info: ModelInfo, source: Path) -> None:
    """Raise ModelFileError unless the graph's inputs/outputs follow the streaming contract."""

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{source}: {problem}")

    inputs = {node.name: node for node in session.get_inputs()}
    outputs = {node.name: node for node in session.get_outputs()}
    if set(inputs) != {INPUT_FEATURES, INPUT_H, INPUT_C}:
        raise fail(f"graph inputs are {sorted(inputs)}, expected {sorted([INPUT_FEATURES, INPUT_H, INPUT_C])}")
    missing = {OUTPUT_SCORES, OUTPUT_H, OUTPUT_C} - set(outputs)
    if missing:
        raise fail(f"graph lacks outputs {sorted(missing)} (has {sorted(outputs)})")
    expected = {
        INPUT_FEATURES: (1, None, info.step_width),
        INPUT_H: info.state_shape,
        INPUT_C: info.state_shape,
    }
    for name, shape in expected.items():
        node = inputs[name]
        if node.type != _FLOAT:
            raise fail(f"input {name!r} has type {node.type}, expected {_FLOAT}")
        if not _dims_match(list(node.shape), shape):
            wanted = ["frames" if d is None else d for d in shape]
            raise fail(f"input {name!r} has shape {list(node.shape)}, but the metadata implies {wanted}")
    scores = list(outputs[OUTPUT_SCORES].shape)
    if not _dims_match(scores, (1, None, len(info.labels))):
        raise fail(f"output {OUTPUT_SCORES!r} has shape {scores}, but the metadata lists {len(info.labels)} labels")


class StreamingClassifier:
    """One streaming model: `process(chunk)` returns the scores of the frames the chunk completes.

    ``model_path=None`` loads the bundled default model. A "frame" here is one model step: one
    MFCC frame, or `info.frame_stack` consecutive ones for a model that stacks them. Timestamps:
    frame ``i`` (counting from the last `reset`) covers samples ``[i * step_hop, i * step_hop +
    step_span)`` (see `ModelInfo`), i.e. it starts at ``i * frame_seconds``; `frames_processed`
    is the number of frames returned so far.
    """

    def __init__(
        self, model_path: str | Path | None = None, threads: int = 1, frames_per_call: int | None = None
    ) -> None:
        if model_path is None:
            from audio_lstm.device.bundled import default_model_path

            model_path = default_model_path()
        path = Path(model_path)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ModelFileError(f"{path}: not a loadable ONNX model ({first})") from error
        info = parse_metadata(dict(session.get_modelmeta().custom_metadata_map), path)
        _check_graph(session, info, path)
        warn_if_signed_int8(path, info.precision, info.extra)
        self._setup(path, info, session, frames_per_call)

    def _setup(self, path: Path, info: ModelInfo, session: ort.InferenceSession, frames_per_call: int | None) -> None:
        """Everything but the session: metadata, front end, buffers, bindings and a zero state."""
        self.path = path
        self.info: ModelInfo = info
        self.labels: tuple[str, ...] = info.labels
        self.sample_rate: int = info.sample_rate
        self.frame_seconds: float = info.step_seconds
        self.smoothing_frames: int = smoothing_frames_for(info.step_seconds)  # detector and clip scores
        self.num_classes = len(info.labels)
        self.frames_processed = 0
        self._session = session
        self._outputs = [OUTPUT_SCORES, OUTPUT_H, OUTPUT_C]
        self._frontend = streaming_frontend(info.frontend, info.frame_stack)
        self._empty = np.zeros((0, self.num_classes), dtype=np.float32)
        self._empty.setflags(write=False)
        self._empty_audio = np.zeros(0, dtype=np.float32)
        # See the module docstring: per-call activation quantization makes batching chunk-dependent.
        if frames_per_call is not None and frames_per_call < 0:
            raise ValueError(f"frames_per_call must be >= 0, got {frames_per_call}")
        self.frames_per_call: int = default_frames_per_call(info) if frames_per_call is None else frames_per_call
        # LSTM state (h, c) in two slots: a call reads slot `_slot` and writes the other one.
        self._states = [tuple(np.zeros(info.state_shape, dtype=np.float32) for _ in "hc") for _ in range(2)]
        self._slot = 0
        self._feed: dict[str, np.ndarray] = {}  # session.run inputs; h and c are the current slot's
        # The bound input of a full group; its first `_held` rows are the frames waiting for one.
        self._group_features = np.zeros((1, self.frames_per_call, info.step_width), dtype=np.float32)
        self._held = 0
        self._group_scores = np.zeros((1, self.frames_per_call, self.num_classes), dtype=np.float32)
        self._bindings = [self._bind(slot) for slot in (0, 1)] if self.frames_per_call else []
        self.reset()

    def fork(self) -> StreamingClassifier:
        """Another classifier on the same onnxruntime session (nothing is loaded again), at a fresh state.

        A fork has its own front end, buffers, I/O bindings and LSTM state, so forks may process
        different streams, also from different threads at once (onnxruntime sessions allow
        concurrent runs). The fork keeps this classifier's `frames_per_call`.
        """
        twin = object.__new__(type(self))
        twin._setup(self.path, self.info, self._session, self.frames_per_call)
        return twin

    def _bind(self, slot: int) -> ort.IOBinding:
        """I/O binding of one full group: features and state `slot` in, scores and the other slot out."""
        binding = self._session.io_binding()
        h, c = self._states[slot]
        h_out, c_out = self._states[1 - slot]
        for name, array in ((INPUT_FEATURES, self._group_features), (INPUT_H, h), (INPUT_C, c)):
            binding.bind_cpu_input(name, array)  # onnxruntime reads these arrays' memory at each run
        for name, array in ((OUTPUT_SCORES, self._group_scores), (OUTPUT_H, h_out), (OUTPUT_C, c_out)):
            binding.bind_output(name, "cpu", 0, np.float32, list(array.shape), array.ctypes.data)
        return binding

    def reset(self) -> None:
        """Back to the start of a stream: zero LSTM state, no buffered audio, frame counter 0."""
        self._slot = 0
        h, c = self._states[0]
        h.fill(0.0)
        c.fill(0.0)
        self._feed = {INPUT_FEATURES: self._empty, INPUT_H: h, INPUT_C: c}
        self._frontend.reset()
        self._held = 0
        self.frames_processed = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed a mono chunk (int16 PCM or float in [-1, 1]) of any length at `sample_rate`.

        Returns float32 scores (frames, classes) of the frames scored by this call, possibly
        (0, classes); with frame groups (int8) they lag the audio by less than one group.
        Frame ``frames_processed - len(result) + k`` is row ``k``.
        """
        group = self.frames_per_call
        if group == 0:
            features = self._frontend.process(chunk)
            return self._run(features) if len(features) else self._empty
        held, waiting = self._held, self._group_features[0]
        # The front end returns nothing until the group is due, then at least group - held frames.
        features = self._frontend.process(chunk, min_frames=group - held)
        if not len(features):
            return self._empty
        waiting[held:] = features[: group - held]
        scores = [self._run_group()]
        rest = features[group - held :]
        while len(rest) >= group:
            waiting[:] = rest[:group]
            scores.append(self._run_group())
            rest = rest[group:]
        waiting[: len(rest)] = rest
        self._held = len(rest)
        return scores[0] if len(scores) == 1 else np.concatenate(scores)

    def flush(self) -> np.ndarray:
        """Score the frames still waiting for a complete group (end of a stream or clip)."""
        if self.frames_per_call:
            features = self._frontend.process(self._empty_audio)  # frames the front end held back
            self._group_features[0, self._held : self._held + len(features)] = features
            self._held += len(features)
        if self._held == 0:
            return self._empty
        pending, self._held = self._group_features[0, : self._held].copy(), 0
        return self._run(pending)

    @property
    def pending_frames(self) -> int:
        """Complete frames not yet scored (always < frames_per_call): waiting as features or as samples."""
        return self._held + self._frontend.pending_frames

    @property
    def samples_to_next_scores(self) -> int:
        """Samples (at `sample_rate`) that must still come before `process` returns scores again.

        0 for models without frame groups (fp32), whose scores come with every frame. The daemon
        lets the capture thread hold audio until then, so the worker wakes once per group.
        """
        group = self.frames_per_call
        if group == 0:
            return 0
        frontend = self._frontend
        frames = (group - self._held) * self.info.frame_stack - frontend.waiting_frames
        return max(1, samples_for_frames(frames, self.info.frontend) - frontend.buffered_samples)

    def _run_group(self) -> np.ndarray:
        """One model call on the full group in `_group_features` through its prepared binding."""
        slot = self._slot
        self._session.run_with_iobinding(self._bindings[slot])
        self._slot = slot = 1 - slot
        self._feed[INPUT_H], self._feed[INPUT_C] = self._states[slot]
        self.frames_processed += self.frames_per_call
        return self._group_scores[0].copy()  # the buffer is reused by the next call

    def _run(self, features: np.ndarray) -> np.ndarray:
        """One model call on any number of `features` (frames, step_width) from the current state."""
        slot, feed = self._slot, self._feed
        feed[INPUT_FEATURES] = features[None]
        outputs, h_out, c_out = self._session.run(self._outputs, feed)
        np.copyto(self._states[1 - slot][0], h_out)
        np.copyto(self._states[1 - slot][1], c_out)
        self._slot = slot = 1 - slot
        feed[INPUT_H], feed[INPUT_C] = self._states[slot]
        self.frames_processed += len(features)
        return outputs[0]

    def predict_clip(self, audio: np.ndarray) -> np.ndarray:
        """Scores (frames, classes) of a whole clip from a fresh state; the state is reset after."""
        self.reset()
        try:
            scores = self.process(audio)
            rest = self.flush()
            return np.concatenate([scores, rest]) if len(rest) else scores
        finally:
            self.reset()

    def __repr__(self) -> str:
        return (
            f"StreamingClassifier({str(self.path)!r}, version={self.info.model_version!r}, "
            f"precision={self.info.precision!r}, labels={len(self.labels)})"
        )
