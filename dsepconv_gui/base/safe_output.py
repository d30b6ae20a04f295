"""Writing an output without ever losing a user's file.

- Every output is made under a temporary name beside its destination and renamed over it
  only when complete. A temporary is named `.NAME.dsepconv-PID-XXXXXXXX.partSUFFIX`, where
  NAME is the destination's name (shortened and followed by a hash of the whole name when the
  temporary would pass the file system's name limit), PID the writing process and SUFFIX the
  destination's suffix (encoders choose the format by it). So a 255-byte destination name
  works, and a temporary says whose it is.
- A run killed outright (`kill -9`, power loss) leaves its temporary behind. Making a new
  temporary for a destination first removes the ones for the same destination whose process
  is gone; only names of exactly that form, never anything else, and never one whose process
  is still alive (another export running, or a PID that cannot be checked).
- An output that is one of the inputs (the same file under another spelling, a symbolic or
  a hard link) is refused, with or without --overwrite.
- Files are moved into an existing folder one by one (`merge_folder`), replacing only the
  files of the same names; nothing else in the folder is touched.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dsepconv_gui.base.errors import InputError, OutputExistsError
from dsepconv_gui.base.file_modes import default_file_mode, default_folder_mode

TEMP_TAG = ".dsepconv-"  # between the destination's name and the owner's PID
_RANDOM_CHARACTERS = 8  # what tempfile adds: [a-z0-9_]
_PID_ROOM = 10  # digits kept free for the PID, so the name part does not depend on it
_MAX_SUFFIX = 16  # bytes of the destination's suffix carried into the temporary name
DEFAULT_NAME_MAX = 255


def name_limit(folder: Path) -> int:
    """The longest file name (in bytes) the folder's file system takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def check_name(path: Path) -> None:
    """InputError when the path's name, or a folder's on the way, is longer than the file
    system allows (the temporaries beside it are kept short enough by themselves)."""
    limits = [DEFAULT_NAME_MAX] * (len(path.parts) - 1) + [name_limit(path.parent)]
    for part, limit in zip(path.parts, limits, strict=False):
        size = len(os.fsencode(part))
        if size > limit:
            raise InputError(
                f"{part[:40]}…: a name of {size} bytes is too long (at most {limit} here); "
                f"choose a shorter name"
            )


def check_output(
    path: Path, overwrite: bool, inputs: Iterable[Path] = (), folder: bool = False
) -> None:
    """InputError for an output path that cannot or must not be written: a name too long, a
    missing or read-only folder, an existing file without `overwrite`, a file where a folder
    goes (or the reverse), or one of `inputs`. An existing empty folder counts as free."""
    path = Path(path)
    check_name(path)
    try:
        parent = path.parent
        if not parent.is_dir():
            raise InputError(f"{parent}: destination folder does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{parent}: destination folder is not writable")
        for source in inputs:
            if same_file(path, source):
                raise InputError(
                    f"{path}: is the input {source}; choose another output (an input is never "
                    f"overwritten, --overwrite or not)"
                )
        if folder and path.is_dir() and any(path.iterdir()) and not overwrite:
            raise OutputExistsError(
                f"{path}: already exists and is not empty (use --overwrite to replace the files "
                f"of the names written; nothing else in it is touched)",
                path,
                folder=True,
            )
        if (
            (path.exists() or path.is_symlink())
            and not overwrite
            and not (folder and path.is_dir())
        ):
            raise OutputExistsError(
                f"{path}: already exists (use --overwrite to replace it)", path, folder=False
            )
        if path.exists() and path.is_dir() != folder:
            kind = "a folder" if path.is_dir() else "a file"
            raise InputError(
                f"{path}: is {kind}; will not replace it with {'a folder' if folder else 'a file'}"
            )
    except OSError as exc:
        raise InputError(f"{path}: cannot be used as the output ({exc.strerror or exc})") from None


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (through any spelling or link)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


# --- temporaries ----------------------------------------------------------------------------


def _suffix(path: Path) -> str:
    suffix = path.suffix
    return suffix if len(os.fsencode(suffix)) <= _MAX_SUFFIX else ""


def _name_part(path: Path, suffix: str) -> str:
    """The destination's name as it appears in its temporaries: whole when it fits, else cut
    and followed by a hash of the whole name (so two long names never share temporaries)."""
    fixed = f".{TEMP_TAG}{'9' * _PID_ROOM}-{'x' * _RANDOM_CHARACTERS}.part{suffix}"
    room = name_limit(path.parent) - len(os.fsencode(fixed))
    name = path.name
    if len(os.fsencode(name)) <= room:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    while len(os.fsencode(name)) > room - 1 - len(digest):
        name = name[:-1]
    return f"{name}~{digest}"


def _prefix(path: Path, suffix: str) -> str:
    return f".{_name_part(path, suffix)}{TEMP_TAG}{os.getpid()}-"


def _stale_patterns(path: Path) -> list[re.Pattern]:
    """The names of this destination's temporaries (a file's, a folder's), the PID captured."""
    return [
        re.compile(
            re.escape(f".{_name_part(path, s)}{TEMP_TAG}")
            + rf"(\d+)-[a-z0-9_]{{{_RANDOM_CHARACTERS}}}"
            + re.escape(f".part{s}")
        )
        for s in {"", _suffix(path)}
    ]


def temp_file(path: Path) -> Path:
    """A new empty temporary file beside `path`, ending in its suffix (stale ones removed first)."""
    remove_stale_temporaries(path)
    suffix = _suffix(path)
    fd, name = tempfile.mkstemp(
        prefix=_prefix(path, suffix), suffix=f".part{suffix}", dir=path.parent
    )
    os.close(fd)
    return Path(name)


def temp_folder(path: Path) -> Path:
    """A new empty temporary folder beside `path` (stale ones removed first)."""
    remove_stale_temporaries(path)
    return Path(tempfile.mkdtemp(prefix=_prefix(path, ""), suffix=".part", dir=path.parent))


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries for `path` that runs of this tool left when they were killed
    (their process is gone); return what was removed."""
    patterns = _stale_patterns(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = next((m for m in (p.fullmatch(entry.name) for p in patterns) if m), None)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass  # someone else's, or gone already: leave it
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` may still be running (True when it cannot be told)."""
    if os.name != "posix" or pid <= 0 or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: another user's live process
    return True


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """`with atomic_file(dest) as tmp:` write tmp; it replaces dest on success and is removed
    on any error or interrupt, leaving dest untouched."""
    path = Path(path)
    tmp = temp_file(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def commit(tmp: Path, path: Path) -> None:
    """Move a finished temporary file over its destination, with the usual file mode."""
    os.chmod(tmp, default_file_mode())  # mkstemp makes 0600 files
    os.replace(tmp, path)


@contextmanager
def atomic_folder(path: Path, protected: Iterable[Path] = ()) -> Iterator[Path]:
    """`with atomic_folder(dest) as staged:` write files into staged; on success they are merged
    into dest (created with its parents; only files of the same names replaced, never one of
    `protected`: see merge_folder), and staged is removed in any case."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = temp_folder(path)
    try:
        yield staged
        merge_folder(staged, path, protected=protected)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def merge_folder(
    staged: Path, folder: Path, protected: Iterable[Path] = (), remove: Iterable[str] = ()
) -> None:
    """Move every file of the folder `staged` into `folder` (created if missing) and remove
    `staged`; a file of the same name is replaced, nothing else in `folder` is touched. Then
    remove the files named in `remove` (only plain files). Before moving anything, raises
    OSError when a name is taken by a folder, and InputError when a file would replace one
    of `protected`."""
    if not folder.exists():
        os.chmod(staged, default_folder_mode())  # mkdtemp makes 0700 folders
        os.replace(staged, folder)
        return
    names = sorted(os.listdir(staged))
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            raise OSError(
                errno.EISDIR, f"{target} is a folder; move it away or choose another output"
            )
        for source in protected:
            if same_file(target, source):
                raise InputError(
                    f"{target}: is the input {source}; choose another folder (an input is "
                    f"never overwritten)"
                )
    for name in names:
        os.replace(staged / name, folder / name)
    shutil.rmtree(staged, ignore_errors=True)
    for name in remove:
        target = folder / name
        if target.is_file() and not target.is_symlink():
            target.unlink(missing_ok=True)
