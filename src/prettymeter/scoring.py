"""Run an exported model (model.onnx + card.json) on ONNX Runtime or OpenVINO, without torch.

`Scorer(model_dir).run(batch)` is the one door to a model for the service, `predict`, `rate`,
`evaluate` and the benchmark, so they all serve the same engine. Engines:

- ``onnxruntime``: fp32, the reference; the CUDA provider when ``device="cuda"``.
- ``openvino``: OpenVINO fp32; ``openvino-bf16``: bf16 inference precision (CPUs with AMX or
  AVX-512 BF16); ``openvino-int8``: NNCF-quantized. Both read the IR verification wrote.
- ``auto``: the fastest engine (by the img/s the card records) that the card accepted and this
  machine runs; ONNX Runtime fp32 for a card without verification figures.

Whether a reduced precision (bf16, int8) keeps a model's scores is a property of the trained
model on real photos, so it is decided once, by `prettymeter.verification` at export (or by
`pretty-meter verify`), and written into the card. An engine the card refused, or has no
figures for, is never served, even when asked for by name. The load-time tripwire only catches
a broken runtime: a reduced-precision engine that moves a drawn probe photo's score by more
than ``TRIPWIRE`` against ONNX Runtime fp32 is dropped (``auto``) or refused (by name).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from prettymeter.card import EngineCheck, ModelCard, figures, load_model_dir, sha256_file
from prettymeter.contract import INPUT_NAME, LABEL_MAP_OUTPUT, LABEL_OUTPUT, STD_OUTPUT
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.imaging import normalize
from prettymeter.memory import page_out, release_free_memory
from prettymeter.probes import batch_sha256, check_batch

log = logging.getLogger(__name__)

ENGINES = ("auto", "onnxruntime", "openvino", "openvino-bf16", "openvino-int8")
DEVICES = ("cpu", "cuda")
# Served only where the card's verification accepted them.
REDUCED = ("openvino-bf16", "openvino-int8")
TRIPWIRE = 0.5  # largest probe move (0-10) a runtime may show before it counts as broken
# The IR (graph, weights; not .bin: a model directory refuses pickle's suffix) of int8 and of bf16
# (weights in fp16, which bf16 rounds anyway; mapped, released once warm: docs/decisions.md).
IR_FILES = {
    "int8": ("model.int8.xml", "model.int8.weights"),
    "bf16": ("model.bf16.xml", "model.bf16.weights"),
}
INT8_XML, INT8_WEIGHTS = IR_FILES["int8"]
BF16_XML, BF16_WEIGHTS = IR_FILES["bf16"]


def _openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def verify_hint(model_dir: Path) -> str:
    return f"pretty-meter verify {model_dir} --table TABLE.parquet"


def cannot_run(engine: str, model_dir: Path, device: str = "cpu") -> str | None:
    """Why this machine cannot run `engine` for the model in `model_dir` (None: it can)."""
    if engine == "onnxruntime":
        return None
    if device != "cpu":
        return f"{engine} runs on the CPU only"
    if not _openvino_available():
        return "the openvino package is not installed"
    if engine == "openvino-bf16" and not cpu_has_bf16():
        return "this CPU has no bf16 instructions (AMX / AVX-512 BF16)"
    if engine == "openvino-int8" and not (Path(model_dir) / INT8_XML).is_file():
        return f"the model directory has no {INT8_XML}"
    return None


def choose_engine(
    card: ModelCard, model_dir: Path, engine: str = "auto", device: str = "cpu"
) -> str:
    """The engine a Scorer serves: `auto` resolved by the card's verification, a named one
    checked against it; one line says why an engine cannot be served."""
    if engine not in ENGINES:
        raise PrettyMeterError(f"engine {engine!r} is unknown; choose one of {', '.join(ENGINES)}")
    if device not in DEVICES:
        raise PrettyMeterError(f"device {device!r} is unknown; choose cpu or cuda")
    checks = card.verification.engines if card.verification else {}
    if engine == "auto":
        if card.verification is None:
            log.info(
                "model %s has no verification figures: serving ONNX Runtime fp32; run `%s` to "
                "let faster engines serve it",
                model_dir,
                verify_hint(model_dir),
            )
            return "onnxruntime"
        usable = [
            (check.images_per_second or 0.0, name == "onnxruntime", name)  # a tie: the reference
            for name, check in checks.items()
            if check.accepted and name in ENGINES and cannot_run(name, model_dir, device) is None
        ]
        return max(usable, default=(0.0, True, "onnxruntime"))[2]
    if engine in REDUCED:
        check = checks.get(engine)
        if card.verification is None or check is None:
            raise PrettyMeterError(
                f"engine {engine} is served only for a model verified with it, and {model_dir} "
                f"has no figures for it; run `{verify_hint(model_dir)}` or use engine auto"
            )
        if not check.accepted:
            judged = check.p99 is not None
            raise PrettyMeterError(
                f"engine {engine} was {'refused at' if judged else 'not built by'} verification "
                f"of {model_dir} ({check.reason}{'; ' + figures(check) if judged else ''}); use "
                "engine auto or onnxruntime"
            )
    why = cannot_run(engine, model_dir, device)
    if why is not None:
        raise PrettyMeterError(f"engine {engine} cannot run here: {why}; use engine auto")
    return engine


class Scorer:
    """One loaded model: `run(batch)` → (labels in 0-1, ensemble stds or None).

    `gate=False` is for verification alone: it loads an engine the card has not judged yet."""

    def __init__(
        self,
        model_dir: Path,
        engine: str = "auto",
        threads: int | None = None,
        device: str = "cpu",
        verify: bool = True,
        streams: int = 1,
        gate: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.card, self.onnx_path = load_model_dir(self.model_dir)
        self.device = device
        if gate:
            self.engine = choose_engine(self.card, self.model_dir, engine, device)
        elif engine in ENGINES[1:] and device == "cpu":
            self.engine = engine
        else:
            raise PrettyMeterError(f"an unchecked engine must be named, got {engine} on {device}")
        self.threads = threads
        self.streams = streams  # OpenVINO: batches run at once, each on `threads` threads
        self.input_size = self.card.input_size
        p = self.card.preprocessing  # what turns uint8 pixels into the model input
        self._mean, self._std = np.asarray(p.mean, np.float32), np.asarray(p.std, np.float32)
        self._local = threading.local()
        self.has_std = False
        self.has_map = False  # the graph has LABEL_MAP_OUTPUT (run_map)
        self.map_side = 0  # cells per side of that map (0: none, or not fixed in the graph)
        self.drift: float | None = None  # the tripwire's largest probe move against ORT fp32
        self.refused: dict[str, float] = {}  # engines `auto` dropped at the tripwire → move
        # The tripwire's reference runs before the engine loads: the two never take memory at once.
        expected = self._reference_on_probes() if self.engine != "onnxruntime" and verify else None
        self._load(gate)
        if expected is not None:
            self._tripwire(*expected, explicit=engine != "auto")
            release_free_memory()

    @property
    def check(self) -> EngineCheck | None:
        """The card's verification figures for the served engine (None: not verified)."""
        verification = self.card.verification
        return verification.engines.get(self.engine) if verification else None

    def describe(self) -> str:
        """The served engine and its verified figures, in one phrase (logs, `/v1/models`)."""
        check = self.check
        if check is None:
            return f"{self.engine}, not verified (run `{verify_hint(self.model_dir)}`)"
        if self.engine == "onnxruntime":
            return f"{self.engine} (the reference), {check.images_per_second or 0:.1f} img/s"
        return f"{self.engine}, verified {figures(check)}"

    # -- loading -------------------------------------------------------------------------------

    def _load(self, gate: bool = True) -> None:
        self._mapped: str | None = None  # the weights file OpenVINO maps (IR only)
        try:
            if self.engine == "onnxruntime":
                self._load_onnxruntime()
            else:
                self._load_openvino(self.engine.removeprefix("openvino").lstrip("-") or "f32", gate)
        except PrettyMeterError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PrettyMeterError(
                f"{self.onnx_path} cannot be loaded by {self.engine} ({first}); re-export the "
                "model or choose another engine"
            ) from exc

    def _reference_on_probes(self) -> tuple[np.ndarray, np.ndarray]:
        """The probe photos and ONNX Runtime fp32's labels for them (the tripwire's reference):
        as verification stored them in the card, else from a session loaded for it."""
        probe = check_batch(self.input_size, self.card.preprocessing.crop_size)
        v = self.card.verification
        # Only for the very probe batch they were computed on (not after a change to the probes)
        if v and v.probe_labels and v.probe_sha256 == batch_sha256(probe):
            return probe, np.asarray(v.probe_labels, np.float32)  # no ONNX Runtime loaded at all
        reference = Scorer(self.model_dir, "onnxruntime", self.threads, verify=False)
        expected = reference.run_chunked(probe)
        del reference
        release_free_memory()
        return probe, expected

    def _tripwire(self, probe: np.ndarray, expected: np.ndarray, explicit: bool) -> None:
        """Drop (`auto`) or refuse (by name) an engine whose runtime is broken: one that moves
        a probe photo's score by more than TRIPWIRE against ONNX Runtime fp32."""
        self.drift = float(np.abs(10.0 * self.run_chunked(probe) - 10.0 * expected).max())
        if self.drift <= TRIPWIRE:
            return
        if explicit:
            raise PrettyMeterError(
                f"engine {self.engine} moves this model's scores by {self.drift:.3f} on the "
                f"probe photos against ONNX Runtime fp32 (a working runtime stays within "
                f"{TRIPWIRE}); its runtime is broken here: use engine onnxruntime or auto"
            )
        log.warning(
            "engine %s moves the scores of %s by %.3f on the probe photos (a working runtime "
            "stays within %.1f); serving onnxruntime",
            self.engine,
            self.model_dir,
            self.drift,
            TRIPWIRE,
        )
        self.refused[self.engine] = self.drift
        self.engine = "onnxruntime"
        del self._ov  # free the refused compiled model before loading the reference
        self._local = threading.local()  # and its infer requests
        self._load()
        self.drift = 0.0  # ONNX Runtime fp32 is the reference itself

    def run_chunked(self, batch: np.ndarray, size: int = 8) -> np.ndarray:
        """Labels of a large batch, scored `size` at a time (the batch sizes the service uses)."""
        chunks = [self.run(batch[i : i + size])[0] for i in range(0, len(batch), size)]
        return np.concatenate(chunks)

    def _load_onnxruntime(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Spinning threads steal the CPU from decoding and detection in the same process.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        if self.device == "cpu":
            # No arena: it keeps the largest batch's activations for good, so every loaded model
            # would hold its peak; without it memory falls back after a batch at the same speed.
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
        providers = ["CPUExecutionProvider"]
        if self.device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise PrettyMeterError(
                    "device cuda was asked for but ONNX Runtime has no CUDA provider here; "
                    "install onnxruntime-gpu with a matching CUDA, or set device cpu"
                )
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        session = ort.InferenceSession(str(self.onnx_path), options, providers=providers)
        names = {o.name for o in session.get_outputs()}
        inputs = [i.name for i in session.get_inputs()]
        self._check_io(inputs, names)
        self.has_std = STD_OUTPUT in names
        self.has_map = LABEL_MAP_OUTPUT in names
        shapes = {o.name: o.shape for o in session.get_outputs()}
        self.map_side = _side(shapes.get(LABEL_MAP_OUTPUT))
        self._ort = session
        self.providers = session.get_providers()

    def _load_openvino(self, precision: str, gate: bool = True) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise PrettyMeterError(
                "engine openvino needs the openvino package; install pretty-meter[serve] or "
                "choose engine onnxruntime"
            ) from exc
        core = ov.Core()
        ir = self._ir_files(precision, gate)
        model = core.read_model(*ir) if ir else core.read_model(str(self.onnx_path))
        self._mapped = ir[1] if ir else None
        inputs = [i.get_any_name() for i in model.inputs]
        names = {name for o in model.outputs for name in o.get_names()}
        self._check_io(inputs, names)
        size = self.input_size
        model.reshape({INPUT_NAME: ov.PartialShape([-1, 3, size, size])})
        config: dict[str, Any] = {
            # int8: the layers NNCF left unquantized run in fp32, as verification measured them
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY" if self.streams == 1 else "THROUGHPUT",
            "NUM_STREAMS": str(self.streams),
        }
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads) * self.streams
        self._ov = core.compile_model(model, "CPU", config)
        self.has_std = STD_OUTPUT in names
        self.has_map = LABEL_MAP_OUTPUT in names
        maps = [o.get_partial_shape() for o in model.outputs if LABEL_MAP_OUTPUT in o.get_names()]
        self.map_side = _side(
            [d.get_length() if d.is_static else None for d in maps[0]] if maps else None
        )
        self.providers = [f"OpenVINO CPU {precision.replace('f32', 'fp32')}"]

    def _ir_files(self, precision: str, gate: bool) -> tuple[str, str] | None:
        """The IR this precision reads, hash-checked when served; None: the ONNX file."""
        if precision not in IR_FILES:
            return None
        xml, weights = (self.model_dir / name for name in IR_FILES[precision])
        check = self.check
        # bf16 of a card verified before the IR existed: the ONNX file is what was judged
        if precision == "bf16" and not (bool(check and check.files) if gate else xml.is_file()):
            return None
        if gate and check is not None:
            for path in (xml, weights):
                want = check.files.get(path.name)
                if not path.is_file() or want != sha256_file(path):
                    raise PrettyMeterError(
                        f"{path} is missing or does not match its card; verify the model again "
                        f"(`{verify_hint(self.model_dir)}`) or use engine onnxruntime"
                    )
        return str(xml), str(weights)

    def _check_io(self, inputs: list[str], outputs: set[str]) -> None:
        if INPUT_NAME not in inputs or LABEL_OUTPUT not in outputs:
            raise PrettyMeterError(
                f"{self.onnx_path} has inputs {inputs} and outputs {sorted(outputs)}; a "
                f"pretty-meter model needs input {INPUT_NAME!r} and output {LABEL_OUTPUT!r} "
                "(re-export it with `pretty-meter export`)"
            )

    # -- running -------------------------------------------------------------------------------

    def model_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (one or a batch) → the model input by the card; float32 as it is."""
        return normalize(pixels, self._mean, self._std) if pixels.dtype == np.uint8 else pixels

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels [N] and stds [N] (or None) of a float32 batch [N, 3, S, S] or its pixels."""
        labels, stds, _ = self._run(batch, with_map=False)
        return labels, stds

    def run_map(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels [N] and label maps [N, H, W] (the label at each cell of the last feature map;
        a map's mean is its label before clipping) of a model whose graph has them."""
        if not self.has_map:
            raise PrettyMeterError(
                f"{self.onnx_path} has no {LABEL_MAP_OUTPUT!r} output; explain it by occlusion"
            )
        labels, _, maps = self._run(batch, with_map=True)
        assert maps is not None
        return labels, maps

    def _run(
        self, batch: np.ndarray, with_map: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        size = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (3, size, size):
            raise PrettyMeterError(
                f"the model takes arrays [N, 3, {size}, {size}], got {list(batch.shape)}; "
                "prepare photos with prettymeter.imaging.preprocess"
            )
        count = batch.shape[0]
        batch = np.ascontiguousarray(self.model_input(batch), dtype=np.float32)
        names = [LABEL_OUTPUT] + [STD_OUTPUT] * self.has_std + [LABEL_MAP_OUTPUT] * with_map
        if count == 0:
            results = [
                np.zeros((0, 1, 1) if n == LABEL_MAP_OUTPUT else 0, np.float32) for n in names
            ]
        elif self.engine == "onnxruntime":
            results = self._ort.run(names, {INPUT_NAME: batch})
        else:
            request = getattr(self._local, "request", None)
            if request is None:  # one infer request per thread: they are not thread-safe
                request = self._ov.create_infer_request()
                self._local.request = request
            outputs = request.infer({INPUT_NAME: batch})
            results = [outputs[self._ov.output(n)] for n in names]
        found = dict(zip(names, results, strict=True))
        labels = np.asarray(found[LABEL_OUTPUT], dtype=np.float32).reshape(count).copy()
        stds = found.get(STD_OUTPUT)
        if stds is not None:
            stds = np.asarray(stds, dtype=np.float32).reshape(count).copy()
        maps = found.get(LABEL_MAP_OUTPUT)
        if maps is not None:
            maps = np.asarray(maps, dtype=np.float32).copy()
        return labels, stds, maps

    def warmup(self, max_batch_size: int = 1) -> None:
        """Run zero batches once so the first real request does not pay for compilation
        (OpenVINO prepares each batch size on first use, so it gets every size up to the max)."""
        size = self.input_size
        sizes = (
            range(1, max_batch_size + 1) if self.engine != "onnxruntime" else {1, max_batch_size}
        )
        for n in sizes:
            self.run(np.zeros((n, 3, size, size), np.float32))
        if self._mapped:
            page_out(self._mapped)  # every size has packed its weights: the mapped file is unread

    def __repr__(self) -> str:
        return f"Scorer({str(self.model_dir)!r}, engine={self.engine!r}, device={self.device!r})"


def _side(shape: Any) -> int:
    """Cells per side of a label map output's shape [N, H, W] (0 when absent or not fixed)."""
    if not shape or len(shape) != 3 or not isinstance(shape[-1], int):
        return 0
    return int(shape[-1])
