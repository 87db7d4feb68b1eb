"""The one exception type a user can see: a message that says what is wrong and what to do."""


class PrettyMeterError(Exception):
    """A failure the user can act on. Its message is one line: what is wrong, then what to do."""


class ImageError(PrettyMeterError):
    """A photo that cannot be used; `code` is the machine-readable kind (docs/api.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
