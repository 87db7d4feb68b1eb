"""Drawn probe photos: faces and photo-like textures, made the same way on every machine.

The scorer's load-time tripwire scores them on a reduced-precision engine and on ONNX Runtime
fp32 to catch a broken runtime; the tests use them as photos that need no files. Whether a
precision keeps a model's scores is judged on real crops instead (`prettymeter.verification`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


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


def check_batch(input_size: int, crop_size: int) -> np.ndarray:
    """The tripwire's inputs: 8 drawn faces and 16 photo-like textures."""
    return _model_inputs(probe_photos(8) + texture_photos(16), input_size, crop_size)


def batch_sha256(batch: np.ndarray) -> str:
    """A probe batch's fingerprint (its float32 bytes): the card stores it with the reference
    labels verification computed, and serving uses them only for the very same batch."""
    return hashlib.sha256(np.ascontiguousarray(batch, np.float32).tobytes()).hexdigest()
