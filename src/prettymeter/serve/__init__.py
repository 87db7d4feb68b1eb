"""The inference service: `create_app(Settings)` builds the FastAPI app (see docs/api.md)."""

from prettymeter.serve.app import create_app
from prettymeter.serve.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
