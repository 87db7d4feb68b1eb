"""One loaded model: made once from a model directory, it turns photos into ratings.

`RatingModel` owns what a model needs: the card (read and hash-checked once, by the engine
session that loads it), the input spec the card implies, the engine session (`Scorer`), the
face detector the card or the one-person rule needs, and the photo preparation
(`PhotoPreparer`). It knows nothing of HTTP. Every scoring path wraps it: the public `Rater`
(below), `predict`, `rate` (batch), `evaluate`, and the service, which adds its micro-batcher,
limits and protocols.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter import imaging
from prettymeter.card import CARD_FILE, ModelCard
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.explain import DEFAULT_GRID, MIN_MAP_CELLS, explain, from_label_map, to_input
from prettymeter.inference import (
    FACE_MODES,
    InputSpec,
    Photo,
    PhotoPreparer,
    Prepared,
    Rating,
    Scored,
    load_detector,
    rating,
    read_photo,
    source_of,
)
from prettymeter.memory import release_free_memory
from prettymeter.scoring import Scorer

if TYPE_CHECKING:
    from prettymeter.faces.mtcnn import FaceDetector


def distinct_inputs(
    arrays: Sequence[np.ndarray | None],
) -> tuple[list[np.ndarray], list[int | None]]:
    """The model inputs to run, each once, in order (a photo's main face is the photo's own input
    object), and for each given input its index among them (None for no input)."""
    index: dict[int, int] = {}  # id(array) → its index in `unique`
    unique: list[np.ndarray] = []
    for a in arrays:
        if a is not None and id(a) not in index:
            index[id(a)] = len(unique)
            unique.append(a)
    return unique, [None if a is None else index[id(a)] for a in arrays]


class RatingModel:
    """A model directory loaded once: `prepare(photo)`, `score(prepared)`, `rate(photos)`.

    Engine: `engine`, `device`, `threads` and `streams` go to the engine session. Detector
    policy: `one_person` refuses (or, with `strict=False` per call, flags) a photo without one
    clearly visible person; `detector` is an instance to share between models (loaded here when
    the rule or a card trained on person crops needs one and none is given). `stored_crops`:
    the model is fed the detect stage's stored crops (`prepare_crop`, for `evaluate`), never
    photos, so no detector is loaded. `compact`: prepared photos hold their uint8 pixels
    (`PhotoPreparer`), normalized when their batch runs. Thread-safe: `prepare` runs on many
    threads at once.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        engine: str = "auto",
        device: str = "cpu",
        threads: int | None = None,
        streams: int = 1,
        one_person: bool = True,
        detector: FaceDetector | None = None,
        max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
        max_file_bytes: int = imaging.DEFAULT_MAX_FILE_BYTES,
        batch_size: int = 16,
        stored_crops: bool = False,
        compact: bool = False,
    ) -> None:
        self.model_dir = Path(model_dir)
        # The engine session reads the card and checks the ONNX file's sha256 against it: the
        # one check of this directory. A card whose preprocessing this code cannot honour is
        # refused right after, before the model is warmed up or serves anything.
        self.scorer = Scorer(self.model_dir, engine, threads, device=device, streams=streams)
        self.card: ModelCard = self.scorer.card
        self.spec = InputSpec.from_card(self.card, str(self.model_dir / CARD_FILE))
        self.preparer: PhotoPreparer | None = None
        if not stored_crops:
            if detector is None and (one_person or self.spec.crops_person):
                detector = load_detector()
            self.preparer = PhotoPreparer(
                self.spec, detector, one_person=one_person, max_pixels=max_pixels, compact=compact
            )
        self.batch_size = max(1, batch_size)
        self.max_file_bytes = max_file_bytes
        self._every_detector: Any = None  # the thorough search `faces="all"` runs

    @property
    def detector(self) -> FaceDetector | None:
        """The face detector this model runs (None when it needs none), to share with others."""
        return self.preparer.detector if self.preparer is not None else None

    @property
    def engine(self) -> str:
        return self.scorer.engine

    def warmup(self, max_batch_size: int) -> None:
        """Compile every batch size up to the largest one before the first real photo."""
        self.scorer.warmup(max_batch_size)
        release_free_memory()

    # -- photo → model input -------------------------------------------------------------------

    def prepare(self, photo: Photo, strict: bool = True, faces: str = "one") -> Prepared:
        """A path, bytes or image → the model input, or the reason it cannot be scored.

        Never raises for a bad photo: a missing or too large file, an undecodable photo or one
        without a single clearly visible person (`strict`) has its error in the result.
        `faces="all"` prepares every face of the photo too, each on its own crop.
        """
        if faces not in FACE_MODES:
            raise PrettyMeterError(f"faces {faces!r} is unknown; use 'one' or 'all'")
        if self.preparer is None:
            raise PrettyMeterError(
                f"{self.model_dir} was loaded for stored crops only; load it without "
                "stored_crops to rate photos"
            )
        data = read_photo(photo, self.max_file_bytes)
        if isinstance(data, ImageError):
            return Prepared(error=data)
        if faces == "one":
            return self.preparer.prepare(data, strict)
        from prettymeter.every_face import prepare_every, thorough

        if self._every_detector is None:  # made once; a race makes two equal copies
            self._every_detector = thorough(self.preparer.detector)
        return prepare_every(self.preparer, self._every_detector, data, strict)

    def prepare_crop(self, crop: bytes) -> Prepared:
        """A crop the detect stage stored (the card's crop of the photo) → the model input."""
        return Prepared(array=self.spec.array_from_crop(imaging.decode_crop(crop)))

    # -- model input → rating ------------------------------------------------------------------

    def score(self, prepared: Sequence[Prepared]) -> list[Scored]:
        """Run the engine on the prepared photos, `batch_size` at a time; (label, std) each, or
        (None, None) for a photo that has no input."""
        return self.score_arrays([p.array for p in prepared])

    def score_arrays(self, arrays: Sequence[np.ndarray | None]) -> list[Scored]:
        """The engine on model inputs in batches; (None, None) where an input is None. An input
        given twice (a photo's main face is its own input) goes to the model once."""
        unique, where = distinct_inputs(arrays)
        scored: list[Scored] = []
        for start in range(0, len(unique), self.batch_size):
            labels, stds = self.scorer.run(np.stack(unique[start : start + self.batch_size]))
            for j in range(len(labels)):
                scored.append((float(labels[j]), float(stds[j]) if stds is not None else None))
        return [(None, None) if w is None else scored[w] for w in where]

    def rating(
        self,
        prepared: Prepared,
        label: float | None,
        std: float | None = None,
        source: str | None = None,
        faces: Sequence[Scored] = (),
    ) -> Rating:
        """One photo's rating from the model's label (None when the photo was not scored) and,
        with every face prepared, each face's (label, std)."""
        return rating(self.card, prepared, label, std, source, faces)

    def rate_prepared(
        self, prepared: Sequence[Prepared], sources: Sequence[str | None] | None = None
    ) -> list[Rating]:
        """Score prepared photos (every face of them too, all in the same batches), in order."""
        names = sources if sources is not None else [None] * len(prepared)
        inputs = [p.inputs() for p in prepared]
        scores = iter(self.score_arrays([a for row in inputs for a in row]))
        ratings = []
        for p, row, source in zip(prepared, inputs, names, strict=True):
            (label, std), *faces = [next(scores) for _ in row]
            ratings.append(self.rating(p, label, std, source, faces))
        return ratings

    def explained(self, prepared: Prepared, rated: Rating, grid: int = DEFAULT_GRID) -> Rating:
        """The rating with `explanation` (prettymeter.explain) on the scored person and on each
        scored face: one engine call per face, either the face alone for its label map (models
        whose graph has one of at least MIN_MAP_CELLS a side, grid 0) or its occluded variants
        in one batch (not `batch_size`) against the label `rated` already holds; the main face,
        whose input is the photo's, shares the photo's explanation."""
        size = prepared.image_size
        if size is None:
            return rated

        def explain_one(array: np.ndarray | None, region: Any, points: Any, label: Any) -> Any:
            if array is None or region is None or not points or len(points) < 5:
                return None
            array = self.scorer.model_input(array)  # occlusion fills the mean colour: float input
            where = to_input(points, region, size, array.shape[-1])
            if grid == 0 and self.scorer.map_side >= MIN_MAP_CELLS:
                return from_label_map(
                    self.scorer.run_map(array[None])[1][0], where, array.shape[-1]
                )
            labels_of = lambda batch: self.scorer.run(batch)[0]  # noqa: E731
            return explain(array, where, labels_of, grid, label)

        result, note = rated, None
        if rated.score is not None:
            note = explain_one(prepared.array, prepared.region, prepared.landmarks, rated.label)
            result = replace(result, explanation=note)

        def face_note(p: Any, label: float | None) -> Any:
            if note is not None and p.array is prepared.array:  # the main face is the photo's input
                return note
            return explain_one(p.array, p.region, p.landmarks, label)

        if rated.faces is not None and prepared.faces is not None:
            faces = tuple(
                replace(f, rating=replace(f.rating, explanation=face_note(p, f.rating.label)))
                if f.rating.score is not None
                else f
                for f, p in zip(rated.faces, prepared.faces, strict=True)
            )
            result = replace(result, faces=faces)
        return result

    def rate(
        self,
        photos: Iterable[Photo],
        strict: bool = True,
        faces: str = "one",
        explain: bool = False,
    ) -> list[Rating]:
        """One Rating per photo, in order; a bad photo gets an error and never stops the rest.
        `faces="all"`: each Rating lists every face of its photo (`Rating.faces`); `explain`:
        each scored person and face gets its `explanation` (prettymeter.explain)."""
        items = list(photos)
        prepared = [self.prepare(p, strict, faces) for p in items]
        rated = self.rate_prepared(prepared, [source_of(p) for p in items])
        if not explain:
            return rated
        return [self.explained(p, r) for p, r in zip(prepared, rated, strict=True)]

    def __repr__(self) -> str:
        return f"RatingModel({self.card.name!r}, engine={self.engine!r})"


class Rater:
    """Load a model directory and rate photos (paths, bytes or PIL images) as the service does.

    The public Python API: a `RatingModel` with the one-person rule on by default.

    >>> rater = Rater("data/demo/models/man")
    >>> [r.score for r in rater.rate(["photo.jpg"])]
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        engine: str = "auto",
        device: str = "cpu",
        threads: int | None = None,
        one_person: bool = True,
        max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
        batch_size: int = 16,
        detector: FaceDetector | None = None,
        max_file_bytes: int = imaging.DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self.model = RatingModel(
            model_dir,
            engine=engine,
            device=device,
            threads=threads,
            one_person=one_person,
            detector=detector,
            max_pixels=max_pixels,
            max_file_bytes=max_file_bytes,
            batch_size=batch_size,
        )

    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def scorer(self) -> Scorer:
        return self.model.scorer

    @property
    def spec(self) -> InputSpec:
        return self.model.spec

    def prepare(self, photo: Photo, strict: bool = True, faces: str = "one") -> Prepared:
        """Read a path (missing file → error `not_found`) and prepare it."""
        return self.model.prepare(photo, strict, faces)

    def score(self, prepared: Sequence[Prepared]) -> list[Scored]:
        """Run the engine on the prepared photos in batches; (label, std) or (None, None)."""
        return self.model.score(prepared)

    def rate(
        self,
        photos: Iterable[Photo],
        strict: bool = True,
        faces: str = "one",
        explain: bool = False,
    ) -> list[Rating]:
        """One Rating per photo, in order; a bad photo gets an error and never stops the rest.
        `faces="all"` lists every face of each photo with its own score (`Rating.faces`);
        `explain` adds why each score (`Rating.explanation`, prettymeter.explain)."""
        return self.model.rate(photos, strict, faces, explain)

    def rate_one(self, photo: Photo, strict: bool = True, faces: str = "one") -> Rating:
        return self.rate([photo], strict, faces)[0]

    def __repr__(self) -> str:
        return f"Rater({self.card.name!r}, engine={self.scorer.engine!r})"
