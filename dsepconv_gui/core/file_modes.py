"""File permissions for files written through a temporary file."""

import os


def default_file_mode() -> int:
    """0666 minus the process umask: what open() would have given the file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
