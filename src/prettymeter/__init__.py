"""pretty-meter: rates how good a person looks on a photo, 0 to 10."""

__version__ = "0.1.0"
