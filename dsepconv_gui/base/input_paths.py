"""Checking an input path before reading it, so that each way a path can be unusable gets
its own words: missing, a dangling symbolic link, a symbolic-link loop, a folder, a named
pipe or device, unreadable, empty.

The kind is found with stat() alone: a named pipe is never opened (opening one blocks until
a writer appears) and a device such as /dev/zero is never read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from dsepconv_gui.base.errors import DSepConvError, InputError

# What stat's file type is, in words, for the files that are not regular files or folders.
SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_input_file(
    path: str | os.PathLike,
    error: type[DSepConvError] = InputError,
    what: str = "file",
    folders: bool = False,
) -> Path:
    """Return `path` as a Path if it is a regular file that can be read and is not empty (or,
    with folders=True, a folder); otherwise raise `error` with one line naming the path and
    what is wrong. `what` names the expected thing in messages ("an image", "a model file")."""
    path = Path(path)
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except OSError as exc:
        raise error(f"{path}: {_stat_failure(path, exc, folders)}") from None
    if stat.S_ISDIR(mode):
        if folders:
            return path
        raise error(f"{path}: is a folder, not {what}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in SPECIAL_KINDS if test(mode)), "a special file")
        raise error(f"{path}: not a regular file ({kind}); give the path of {what}")
    try:
        with open(path, "rb") as handle:
            empty = not handle.read(1)
    except PermissionError:
        raise error(f"{path}: not readable (permission denied)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if empty:
        raise error(f"{path}: empty file (0 bytes)")
    return path


def _stat_failure(path: Path, exc: OSError, folders: bool) -> str:
    """Why stat() failed, in words."""
    if exc.errno == errno.ELOOP:
        return "a symbolic-link loop (the link leads back to itself); point it at a real file"
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return f"a symbolic link to {os.path.realpath(path)}, which does not exist"
        return "no such file or folder" if folders else "no such file"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a folder on the way is a file)"
    if exc.errno == errno.EACCES:
        return "not readable (permission denied on a folder on the way)"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long for this system"
    return f"cannot read ({exc.strerror or exc})"
