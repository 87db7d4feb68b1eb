"""The shipped ONNX nets and our detector against facenet-pytorch's own (needs [train])."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from prettymeter.faces.mtcnn import NETS_DIR, FaceDetector
from tests.support.faces import landscape, side_by_side

torch = pytest.importorskip("torch")
facenet = pytest.importorskip("facenet_pytorch")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # torch's default thread pool fights the other tests' processes on a 2-core machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nets():
    from prettymeter.training.detector_export import torch_nets

    return torch_nets()


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("pnet", (1, 3, 12, 12)),
        ("pnet", (1, 3, 181, 151)),
        ("pnet", (2, 3, 64, 97)),
        ("rnet", (37, 3, 24, 24)),
        ("onet", (5, 3, 48, 48)),
    ],
)
def test_the_shipped_onnx_nets_give_facenet_pytorchs_outputs(nets, name, shape):
    rng = np.random.default_rng(len(name) + sum(shape))
    data = rng.uniform(-1, 1, shape).astype(np.float32)
    session = ort.InferenceSession(
        str(NETS_DIR / f"{name}.onnx"), providers=["CPUExecutionProvider"]
    )
    ours = session.run(None, {"input": data})
    with torch.no_grad():
        theirs = nets[name](torch.from_numpy(data))
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=2e-5, rtol=1e-4)


def test_a_fresh_export_matches_the_shipped_files(tmp_path):
    from prettymeter.training.detector_export import export_nets

    paths = export_nets(tmp_path)
    data = np.random.default_rng(0).uniform(-1, 1, (3, 3, 48, 48)).astype(np.float32)
    shipped = ort.InferenceSession(str(NETS_DIR / "onet.onnx"), providers=["CPUExecutionProvider"])
    fresh = ort.InferenceSession(str(paths["onet"]), providers=["CPUExecutionProvider"])
    for a, b in zip(
        shipped.run(None, {"input": data}), fresh.run(None, {"input": data}), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)


def photos(man: Image.Image, woman: Image.Image) -> dict[str, Image.Image]:
    canvas = landscape(640, 512, seed=3)
    canvas.paste(woman.resize((160, 120)), (400, 300))
    canvas.paste(man.resize((200, 240)), (40, 60))
    return {
        "man": man,
        "woman": woman,
        "both": side_by_side(man, woman),
        "pasted": canvas,
        "landscape": landscape(),
    }


@pytest.mark.parametrize("min_face_size", [20, None])
def test_our_boxes_match_facenet_pytorch_mtcnn_on_the_fixtures(man, woman, min_face_size):
    # the reference path; the default one is held to it by test_sized_detection.py
    ours = FaceDetector.reference(threads=1, min_face_size=min_face_size)
    for name, image in photos(man, woman).items():
        size = min_face_size or ours.min_face_for(*image.size)
        reference = facenet.MTCNN(keep_all=True, min_face_size=size, device="cpu")
        boxes, probs = reference.detect(image)
        found = ours.detect(image)
        if boxes is None:
            assert found == [], name
            continue
        assert len(found) == len(boxes), name
        expected = sorted(zip(boxes.tolist(), probs.tolist(), strict=True), key=lambda b: b[0][0])
        got = sorted(found, key=lambda f: f.box[0])
        for face, (box, prob) in zip(got, expected, strict=True):
            np.testing.assert_allclose(face.box, box, atol=2.0, err_msg=name)
            assert face.confidence == pytest.approx(prob, abs=1e-3), name


def test_export_detector_does_not_replace_existing_files_without_overwrite(tmp_path):
    from prettymeter.errors import PrettyMeterError
    from prettymeter.training.detector_export import export_nets

    (tmp_path / "rnet.onnx").write_bytes(b"mine")
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        export_nets(tmp_path)
    assert (tmp_path / "rnet.onnx").read_bytes() == b"mine"
    assert not (tmp_path / "pnet.onnx").exists()
