"""The project's own error types: every failure a user can cause ends in one of these.

Each message names the file or value at fault and what is wrong, so the command line
can print it as one line and the app can show it as one message.
"""


class DSepConvError(Exception):
    """Base class of every error the project reports to a user."""


class InputError(DSepConvError):
    """A frame, image or argument given by the user cannot be used."""


class OutputExistsError(InputError):
    """An output is already there and replacing it was not asked for. The message speaks the
    command line's language; `path` and `folder` let another front end say it in its own."""

    def __init__(self, message: str, path, folder: bool) -> None:
        super().__init__(message)
        self.path, self.folder = path, folder


class CheckpointError(DSepConvError):
    """A model file is missing, damaged, not a checkpoint, or of another configuration."""


class ConfigError(DSepConvError):
    """A network configuration is invalid or unknown."""


class DeviceError(DSepConvError):
    """The requested compute device does not exist on this machine."""


def error_reason(exc: BaseException) -> str:
    """A short reason for a library exception: "disk full" for ENOSPC; FFmpeg's message
    without its errno and C function ("Invalid data found when processing input")."""
    import errno
    import re

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "disk full"
    text = str(exc)
    if not text:
        return type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text).split(": '", 1)[0]
