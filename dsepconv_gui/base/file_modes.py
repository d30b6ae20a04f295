"""File permissions for files and folders written through a temporary file or folder."""

import os


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """0666 minus the process umask: what open() would have given the file."""
    return 0o666 & ~_umask()


def default_folder_mode() -> int:
    """0777 minus the process umask: what mkdir() would have given the folder."""
    return 0o777 & ~_umask()
