"""Atomic file writers: a killed run never leaves a half-written file or a mixed folder.

One writer: every output file is created by :func:`_write_new` (mode 0666,
so the umask decides, as for any file writer), either straight into a
temporary folder that becomes the folder (:func:`write_folder`), or as a
temporary file renamed over a single file (:func:`atomic_write_bytes`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from ..errors import InputError, Issue

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_folder"]


_RENAME_EXCHANGE = 2  # renameat2 flag (Linux): swap two paths in one step
_AT_FDCWD = -100


def write_folder(directory: str | Path, files: Mapping[str, bytes], *, owned: Collection[str]) -> Path:
    """Replace a folder's owned files by ``files`` as one unit; a plan folder is written so (``Plan.write``).

    Parameters
    ----------
    directory
        The folder; created with its parents when missing.
    files
        File name (no folder) to content.
    owned
        The file names the writer owns: an owned file that ``files`` does
        not hold is dropped with the old folder; every other entry is
        carried into the new one.

    Returns
    -------
    pathlib.Path
        The folder written (symbolic links resolved).

    Notes
    -----
    Steps: a temporary sibling ``.NAME.writing-*`` receives ``files``, then
    hard links (copies where links are impossible) of the entries of the
    old folder that the writer does not own; it then swaps places with the
    folder in one rename (Linux ``renameat2`` exchange) and the old folder
    is deleted. Where no atomic exchange exists (not Linux, or a file system
    without it) the old folder is first renamed aside: for that instant the
    folder is absent, never mixed. Leftover ``.NAME.writing-*`` folders of a
    killed run are removed by the next write.
    """
    out = Path(os.path.abspath(directory)).resolve()
    _refuse_folder(out, directory)
    out.parent.mkdir(parents=True, exist_ok=True)
    for leftover in sorted(out.parent.glob(f".{out.name}.writing-*")):
        if leftover.name.endswith("-old") and not out.exists():
            os.rename(leftover, out)  # killed between the two renames of a swap without exchange
        else:
            _remove_tree(leftover)
    staging = out.parent / f".{out.name}.writing-{secrets.token_hex(6)}"
    try:
        os.mkdir(staging, 0o777)
    except PermissionError:
        raise InputError(
            Issue(
                str(directory),
                None,
                None,
                f"cannot create a folder in {out.parent} (permission denied): the plan folder "
                "is written beside itself and then swapped in; choose a folder whose parent "
                "you may write to",
            )
        ) from None
    replaced = False
    try:
        if out.is_dir():
            os.chmod(staging, stat.S_IMODE(out.stat().st_mode))
        for name, data in files.items():
            _write_new(staging / name, data)
        if out.is_dir():
            for entry in sorted(os.scandir(out), key=lambda e: e.name):
                if not _owned(entry.name, owned) and entry.name not in files:
                    _carry_entry(Path(entry.path), staging / entry.name)
        _fsync_dir(staging)
        replaced = _swap(staging, out)
    finally:
        # After the swap the staging name holds the old folder; before it, a partial new one.
        _remove_tree(staging)
        if replaced:
            _fsync_dir(out.parent)
    return out


def _owned(name: str, owned: Collection[str]) -> bool:
    """Whether the folder writer owns a file name (its files and the temporary files of the file writer)."""
    return name in owned or any(name.startswith(f".{file}.") for file in owned)


def _refuse_folder(out: Path, given: str | Path) -> None:
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise InputError(
            Issue(
                str(given),
                None,
                None,
                "the plan folder is replaced as a whole, so it cannot be the current folder or "
                "hold it; choose a sub-folder such as out/",
            )
        )
    if out.exists() and not out.is_dir():
        raise InputError(Issue(str(given), None, None, "exists and is not a folder"))
    if out.is_dir() and os.path.ismount(out):
        raise InputError(Issue(str(given), None, None, "is a mount point and cannot be replaced; choose a sub-folder"))


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist) with ``data``, durably; its mode follows the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    handle = os.open(path, flags, 0o666)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _carry_entry(source: Path, target: Path) -> None:
    """Bring a file or folder the writer does not own into the new folder: hard links, copies where impossible."""
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _swap(staging: Path, out: Path) -> bool:
    """Put ``staging`` where ``out`` is; ``staging`` then names the old folder (if any). True once done."""
    if not out.exists():
        os.rename(staging, out)
        return True
    if _exchange(staging, out):
        return True
    aside = staging.with_name(staging.name + "-old")
    os.rename(out, aside)
    os.rename(staging, out)
    os.rename(aside, staging)
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries durable (where the system allows opening folders)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write one file to a temporary file beside ``path``, then rename over it,
    so a killed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        _write_new(temp, data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
