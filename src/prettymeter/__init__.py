"""pretty-meter: rates how good a person looks on a photo, 0 to 10."""

__version__ = "0.1.0"

__all__ = ["Rater", "Rating", "__version__"]


def __getattr__(name: str) -> object:
    # The public Python API, imported on first use so `import prettymeter` stays cheap.
    if name == "Rater":
        from prettymeter.rating_model import Rater

        return Rater
    if name == "Rating":
        from prettymeter.inference import Rating

        return Rating
    raise AttributeError(f"module 'prettymeter' has no attribute {name!r}")
