"""Error types with coded, actionable messages (after spaCy's errors catalogue)."""

from __future__ import annotations

from pathlib import Path


class BriefsError(Exception):
    """Base class: every error the pipeline raises on purpose."""

    code = "E000"

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def as_dict(self) -> dict:
        return {"code": self.code, "path": self.path, "reason": self.message}


class InputError(BriefsError):
    """A brief that cannot be read; the batch goes on without it."""

    code = "E100"


class EmptyInput(InputError):
    code = "E101"


class BinaryInput(InputError):
    code = "E102"


class DecodeError(InputError):
    code = "E103"


class CorruptInput(InputError):
    code = "E104"


class TooLarge(InputError):
    code = "E105"


class Vanished(InputError):
    code = "E106"


class UnsupportedFormat(InputError):
    code = "E107"


class ModelError(BriefsError):
    """A model directory that is missing, incomplete or untrusted."""

    code = "E200"


class AnnotationError(BriefsError):
    """Bad annotation records; carries every problem found, with file and line."""

    code = "E300"

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{len(problems)} bad annotation record(s):\n  " + "\n  ".join(problems[:50])
        if len(problems) > 50:
            head += f"\n  ... and {len(problems) - 50} more"
        super().__init__(head)


class UsageError(BriefsError):
    code = "E400"


class ReviewError(BriefsError):
    """Problems talking to, or with the contents of, the doccano server."""

    code = "E500"
