"""Models and tables for the engine tests: a labelled table of stored crops, one-layer ONNX
models whose scores bf16 either keeps (a mean of the pixels) or cannot keep (a ±1 sum), and a
counter of the batches a loaded model sends to its engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prettymeter import card as card_module
from prettymeter.imaging import MEAN, STD, encode_png, preprocess
from prettymeter.probes import probe_photos, texture_photos

INPUT_SIZE = 32
CROP_SIZE = 48


def probe_batch(input_size: int, crop_size: int, count: int = 8) -> np.ndarray:
    """`probe_photos`, preprocessed for a model of this input size."""
    return np.stack([preprocess(p, None, crop_size, input_size) for p in probe_photos(count)])


def crop_table(path: Path, crop_size: int, count: int = 120, seed: int = 5) -> Path:
    """A normalized-table-shaped Parquet file (path, group, crop, label, weight): drawn faces and
    photo-like textures stored as square PNG crops, labelled by their brightness."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    photos = probe_photos(count // 2, seed) + texture_photos(count - count // 2, seed + 1)
    crops = [p.resize((crop_size, crop_size)) for p in photos]
    labels = [float(np.asarray(c, dtype=np.float64).mean() / 255.0) for c in crops]
    table = pa.table(
        {
            "path": [f"crop_{i}.png" for i in range(count)],
            "group": list(range(count)),
            "crop": [encode_png(c) for c in crops],
            "label": labels,
            "weight": [1.0] * count,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def pixel_model(model_dir: Path, sensitive: bool, gain: float = 4.0) -> Path:
    """A model dir whose label is sigmoid(gain × (w · pixels − shift)).

    sensitive: w is a fixed ±1 pattern over all pixels (a sum hundreds in size, shifted to 0 on
    the first probe photo): fp32 engines agree to ~0.001, bf16 (8-bit mantissas) moves it by
    ~0.5 × gain / 4. Otherwise w averages the pixels: bf16 rounding averages out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    size, pixels = INPUT_SIZE, 3 * INPUT_SIZE * INPUT_SIZE
    if sensitive:
        weights = np.random.default_rng(0).choice([-1.0, 1.0], (pixels, 1)).astype(np.float32)
    else:
        weights = np.full((pixels, 1), 1.0 / pixels, np.float32)
    first_probe = probe_batch(size, CROP_SIZE)[:1].reshape(1, -1)
    shift = np.asarray((first_probe @ weights).ravel(), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["sum"]),
            helper.make_node("Sub", ["sum", "shift"], ["centred"]),
            helper.make_node("Mul", ["centred", "gain"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["sigmoid"]),
            helper.make_node("Reshape", ["sigmoid", "flat_shape"], ["label"]),
        ],
        "pixel_model",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, size, size])],
        [helper.make_tensor_value_info("label", TensorProto.FLOAT, ["n"])],
        [
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(shift, "shift"),
            numpy_helper.from_array(np.array([gain], np.float32), "gain"),
            numpy_helper.from_array(np.array([-1], np.int64), "flat_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model_dir.mkdir(parents=True)
    onnx.save(model, model_dir / card_module.ONNX_FILE)
    card = card_module.ModelCard(
        name="bf16-sensitive" if sensitive else "bf16-robust",
        gender="m",
        backbone="matmul",
        input_size=size,
        preprocessing=card_module.Preprocessing(
            crop_size=CROP_SIZE,
            input_size=size,
            mean=MEAN.tolist(),
            std=STD.tolist(),
            detector="none",
        ),
        normalization=card_module.Normalization(lo=1.0, med=5.5, hi=9.5),
        label_quantiles=card_module.quantiles([0.2, 0.5, 0.8]),
        outputs={"label": "0-1 score"},
        final="single",
        demo=True,
        notes="engine test model",
        onnx_sha256=card_module.sha256_file(model_dir / card_module.ONNX_FILE),
    )
    card_module.write_card(model_dir, card)
    return model_dir


def engine_batches(model: Any, monkeypatch: Any) -> list[int]:
    """The sizes of the batches `model` (a RatingModel) sends to its engine from now on."""
    batches: list[int] = []
    real = model.scorer.run

    def counted(arrays: np.ndarray):  # type: ignore[no-untyped-def]
        batches.append(len(arrays))
        return real(arrays)

    monkeypatch.setattr(model.scorer, "run", counted)
    return batches
