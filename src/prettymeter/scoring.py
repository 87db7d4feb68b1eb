"""Run an exported model (model.onnx + card.json) on ONNX Runtime or OpenVINO, without torch.

`Scorer(model_dir).run(batch)` is the one door to a model for the service, CLI prediction and
the benchmark. Engines:

- ``onnxruntime``: fp32; the CUDA provider when ``device="cuda"``.
- ``openvino-bf16``: OpenVINO with bf16 inference precision, for CPUs with AMX/AVX-512 BF16.
- ``openvino``: OpenVINO fp32.
- ``auto``: ``openvino-bf16`` where the CPU has bf16 support, else ``onnxruntime``
  (always ``onnxruntime`` on CUDA).

Every engine must keep the 0-10 score within ``MAX_ENGINE_DRIFT`` of ONNX Runtime fp32. A
Scorer on OpenVINO checks that itself when it loads (``verify=True``): it scores a fixed set of
probe photos (drawn faces and photo-like textures) on both engines and accepts the engine only if
the largest move is within ``PROBE_MARGIN`` × the limit, because real photos can move more than
the probes (on the two bench models, 14 real photo variants moved up to 2.1× the probes' largest
move). ``auto`` falls back from bf16 to ONNX Runtime fp32; an explicitly chosen engine that
fails is refused. The service tests and ``bench/serve_load.py`` measure the drift on real photos
as well.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter.card import ModelCard, load_model_dir
from prettymeter.contract import INPUT_NAME, LABEL_OUTPUT, STD_OUTPUT
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.memory import release_free_memory

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

ENGINES = ("auto", "onnxruntime", "openvino", "openvino-bf16")
DEVICES = ("cpu", "cuda")
MAX_ENGINE_DRIFT = 0.05  # largest allowed move of the 0-10 score against ONNX Runtime fp32
PROBE_MARGIN = 0.4  # share of the limit the probes may show: real photos moved up to 2.1× more
# What `auto` tries next. Not OpenVINO fp32 after bf16: at batch 8 it is no faster than ONNX
# Runtime fp32 (51.2 vs 47.8 ms per photo on the bench) and keeps ~190 MB more per model.
FALLBACK = {"openvino-bf16": "onnxruntime", "openvino": "onnxruntime"}


def _openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str, device: str = "cpu") -> str:
    """The engine `auto` stands for on this machine; other names are checked and returned."""
    if engine not in ENGINES:
        raise PrettyMeterError(f"engine {engine!r} is unknown; choose one of {', '.join(ENGINES)}")
    if device not in DEVICES:
        raise PrettyMeterError(f"device {device!r} is unknown; choose cpu or cuda")
    if device == "cuda":
        if engine not in ("auto", "onnxruntime"):
            raise PrettyMeterError(
                f"engine {engine!r} runs on the CPU only; use engine onnxruntime (or auto) with "
                "device cuda"
            )
        return "onnxruntime"
    if engine == "auto":
        return "openvino-bf16" if cpu_has_bf16() and _openvino_available() else "onnxruntime"
    return engine


def probe_photos(count: int, seed: int = 20240501) -> list[Image.Image]:
    """Deterministic drawn photos: a skin-toned face-like ellipse with eyes on a noisy gradient."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        base = rng.integers(0, 255, 3)
        gradient = np.linspace(0, 1, 160)[None, :, None] * rng.integers(-80, 80, 3)
        pixels = np.clip(base + gradient + rng.normal(0, 8, (160, 160, 3)), 0, 255)
        image = Image.fromarray(pixels.astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        draw.ellipse((45, 30, 115, 120), fill=tuple(int(v) for v in rng.integers(120, 240, 3)))
        draw.ellipse((62, 60, 72, 68), fill=(30, 30, 30))
        draw.ellipse((88, 60, 98, 68), fill=(30, 30, 30))
        photos.append(image)
    return photos


def texture_photos(count: int, seed: int = 20241202) -> list[Image.Image]:
    """Deterministic photo-like textures: colour noise with a natural (1/f) spectrum, the
    statistics of real photos that the drawn faces lack (edges and detail at every scale)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    side = 160
    freq = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.fftfreq(side)[None, :])
    freq[0, 0] = 1.0
    photos = []
    for _ in range(count):
        amplitude = freq ** -rng.uniform(0.8, 1.2)
        phases = np.exp(2j * np.pi * rng.random((3, side, side)))
        channels = np.real(np.fft.ifft2(amplitude * phases))
        channels = (channels - channels.mean((1, 2), keepdims=True)) / channels.std()
        mix = np.eye(3) + rng.normal(0, 0.3, (3, 3))  # correlated channels, as in photos
        pixels = np.einsum("chw,cd->hwd", channels, mix)
        pixels = 128 + rng.uniform(30, 70) * pixels / pixels.std() + rng.uniform(-40, 40, 3)
        photos.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"))
    return photos


def _model_inputs(photos: list[Image.Image], input_size: int, crop_size: int) -> np.ndarray:
    from prettymeter.imaging import preprocess

    return np.stack([preprocess(p, None, crop_size, input_size) for p in photos])


def probe_batch(input_size: int, crop_size: int, count: int = 8) -> np.ndarray:
    """`probe_photos`, preprocessed for a model."""
    return _model_inputs(probe_photos(count), input_size, crop_size)


def check_batch(input_size: int, crop_size: int) -> np.ndarray:
    """The engine drift check's inputs: 8 drawn faces and 16 photo-like textures."""
    return _model_inputs(probe_photos(8) + texture_photos(16), input_size, crop_size)


class Scorer:
    """One loaded model: `run(batch)` → (labels in 0-1, ensemble stds or None)."""

    def __init__(
        self,
        model_dir: Path,
        engine: str = "auto",
        threads: int | None = None,
        device: str = "cpu",
        verify: bool = True,
        streams: int = 1,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.card: ModelCard
        self.card, self.onnx_path = load_model_dir(self.model_dir)
        self.device = device
        self.engine = resolve_engine(engine, device)
        self.threads = threads
        self.streams = streams  # OpenVINO: batches run at once, each on `threads` threads
        self.input_size = self.card.input_size
        self._local = threading.local()
        self.has_std = False
        self.drift: float | None = None  # the served engine's probe drift against ORT fp32
        self.refused: dict[str, float] = {}  # engines `auto` tried and dropped → their drift
        self._load()
        if self.engine != "onnxruntime" and verify:
            self._verify(explicit=engine != "auto")
            release_free_memory()

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            if self.engine == "onnxruntime":
                self._load_onnxruntime()
            else:
                self._load_openvino(bf16=self.engine == "openvino-bf16")
        except PrettyMeterError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PrettyMeterError(
                f"{self.onnx_path} cannot be loaded by {self.engine} ({first}); re-export the "
                "model or choose another engine"
            ) from exc

    def _verify(self, explicit: bool) -> None:
        """Keep the engine only if the probes move by at most PROBE_MARGIN × the limit; `auto`
        steps down (`FALLBACK`), an explicit engine is refused."""
        probe = check_batch(self.input_size, self.card.preprocessing.crop_size)
        reference = Scorer(self.model_dir, "onnxruntime", self.threads, "cpu", verify=False)
        expected = reference.run_chunked(probe)
        del reference
        allowed = PROBE_MARGIN * MAX_ENGINE_DRIFT
        while self.engine != "onnxruntime":
            self.drift = float(np.abs(10.0 * self.run_chunked(probe) - 10.0 * expected).max())
            if self.drift <= allowed:
                return
            if explicit:
                raise PrettyMeterError(
                    f"engine {self.engine} moves this model's scores by {self.drift:.3f} on "
                    f"the probe photos against ONNX Runtime fp32 (allowed {allowed:.3f}: "
                    f"{PROBE_MARGIN} × the {MAX_ENGINE_DRIFT} limit); use engine onnxruntime "
                    "or auto"
                )
            self.refused[self.engine] = self.drift
            log.warning(
                "engine %s moves the scores of %s by %.3f on the probe photos (allowed %.3f); "
                "trying %s",
                self.engine,
                self.model_dir,
                self.drift,
                allowed,
                FALLBACK[self.engine],
            )
            self.engine = FALLBACK[self.engine]
            del self._ov  # free the refused compiled model before loading the next one
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
            # No arena: it keeps the largest batch's activations (~95 MB per EfficientNetV2-S
            # model at batch 8, 256 px) for good; without it two models peak at 378 MB instead of
            # 453 and settle at 260; the speed was the same within noise (compared under load).
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
        self._ort = session
        self.providers = session.get_providers()

    def _load_openvino(self, bf16: bool) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise PrettyMeterError(
                "engine openvino needs the openvino package; install pretty-meter[serve] or "
                "choose engine onnxruntime"
            ) from exc
        core = ov.Core()
        model = core.read_model(str(self.onnx_path))
        inputs = [i.get_any_name() for i in model.inputs]
        names = {name for o in model.outputs for name in o.get_names()}
        self._check_io(inputs, names)
        size = self.input_size
        model.reshape({INPUT_NAME: ov.PartialShape([-1, 3, size, size])})
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
            "PERFORMANCE_HINT": "LATENCY" if self.streams == 1 else "THROUGHPUT",
            "NUM_STREAMS": str(self.streams),
        }
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads) * self.streams
        self._ov = core.compile_model(model, "CPU", config)
        self.has_std = STD_OUTPUT in names
        self.providers = ["OpenVINO CPU " + ("bf16" if bf16 else "fp32")]

    def _check_io(self, inputs: list[str], outputs: set[str]) -> None:
        if INPUT_NAME not in inputs or LABEL_OUTPUT not in outputs:
            raise PrettyMeterError(
                f"{self.onnx_path} has inputs {inputs} and outputs {sorted(outputs)}; a "
                f"pretty-meter model needs input {INPUT_NAME!r} and output {LABEL_OUTPUT!r} "
                "(re-export it with `pretty-meter export`)"
            )

    # -- running -------------------------------------------------------------------------------

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Score a float32 batch [N, 3, S, S]; returns labels [N] and stds [N] (or None)."""
        size = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (3, size, size):
            raise PrettyMeterError(
                f"the model takes arrays [N, 3, {size}, {size}], got {list(batch.shape)}; "
                "prepare photos with prettymeter.imaging.preprocess"
            )
        count = batch.shape[0]
        if count == 0:
            return np.zeros(0, np.float32), (np.zeros(0, np.float32) if self.has_std else None)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.engine == "onnxruntime":
            wanted = [LABEL_OUTPUT, STD_OUTPUT] if self.has_std else [LABEL_OUTPUT]
            results = self._ort.run(wanted, {INPUT_NAME: batch})
            labels = results[0]
            stds = results[1] if self.has_std else None
        else:
            request = getattr(self._local, "request", None)
            if request is None:  # one infer request per thread: they are not thread-safe
                request = self._ov.create_infer_request()
                self._local.request = request
            outputs = request.infer({INPUT_NAME: batch})
            labels = outputs[self._ov.output(LABEL_OUTPUT)]
            stds = outputs[self._ov.output(STD_OUTPUT)] if self.has_std else None
        labels = np.asarray(labels, dtype=np.float32).reshape(count)
        if stds is not None:
            stds = np.asarray(stds, dtype=np.float32).reshape(count)
        return labels.copy(), (stds.copy() if stds is not None else None)

    def warmup(self, max_batch_size: int = 1) -> None:
        """Run zero batches once so the first real request does not pay for compilation
        (OpenVINO prepares each batch size on first use, so it gets every size up to the max)."""
        size = self.input_size
        sizes = (
            range(1, max_batch_size + 1) if self.engine != "onnxruntime" else {1, max_batch_size}
        )
        for n in sizes:
            self.run(np.zeros((n, 3, size, size), np.float32))

    def __repr__(self) -> str:
        return f"Scorer({str(self.model_dir)!r}, engine={self.engine!r}, device={self.device!r})"
