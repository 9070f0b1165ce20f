"""Staging folders of live writers, and finding (and removing) what dead writers left behind.

Each writer owns `<data>/_staging/<token>/` and holds an exclusive flock on its `writer.lock` for its whole
life. The kernel drops that lock when the process dies, SIGKILL included, so "the lock can be taken" means
"its owner is gone". Data files carry the writer token in their names (`part-PPPPP-<token>-SSS.parquet`), so
files a dead writer moved into place but never listed in a manifest are told apart from a live writer's.
A whole run (`flywheel evolve`) also holds `<data>/.lock` (`data_lock`), so a second run on the same folder is
refused at the door instead of interleaving its rounds with the first.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.manifest import PROBLEMS, REJECTIONS, STAGING, committed_entries, foreign_entries, load_manifests

LOCK = "writer.lock"
MUTEX = ".mutex"
DATA_LOCK = ".lock"
_DATA_FILE = re.compile(r"^part-\d{5,}-(?P<token>[0-9a-f]+)-\d{3,}\.parquet$")


class DataFolderError(RuntimeError):
    """The data folder cannot be written by this run: another live process holds its lock, or it is not ours."""


@contextmanager
def data_lock(data: Path, what: str = "evolve") -> Iterator[None]:
    """Hold an exclusive flock on `<data>/.lock` for the whole block (creating `data`); refuse if it is held.

    The kernel drops the lock when its holder dies (SIGKILL included), so a stale lock file never blocks.
    The holder's pid and command are written into the file only to make the refusal message useful. A
    non-empty folder of another tool is refused before anything is written into it.
    """
    if strangers := foreign_entries(data):
        shown = ", ".join(strangers[:5]) + (", ..." if len(strangers) > 5 else "")
        raise DataFolderError(f"{data} is not a flywheel data folder (it holds {shown}); choose a new or empty "
                              "--data folder")
    try:
        data.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DataFolderError(f"cannot create data folder {data}: it or a folder above it is a file") from None
    fd = os.open(data / DATA_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise DataFolderError(f"{data} is in use by {holder}; wait for it to finish (or stop it), "
                                  "then rerun with --resume, or choose another --data folder") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({what})\n".encode(), 0)
        except OSError:  # e.g. a full disk: the note is for people only; the flock is what counts
            pass
        yield
    finally:
        os.close(fd)  # closing drops the flock


@contextmanager
def staging_mutex(data: Path) -> Iterator[None]:
    """Serialises registration with cleanup, so a new writer's folder is never mistaken for a dead one."""
    staging = data / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    fd = os.open(staging / MUTEX, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _is_live(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except OSError:  # no lock file (or not a folder): nobody can own it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False  # we got the lock, so its owner is gone; closing below releases it again
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def live_tokens(data: Path) -> set[str]:
    """Tokens of writers whose process is still alive and holding its staging lock."""
    staging = data / STAGING
    if not staging.is_dir():
        return set()
    return {p.name for p in staging.iterdir() if p.name != MUTEX and _is_live(p)}


def data_file_token(name: str) -> str | None:
    """The writer token in a data file name, or None when the name is not one a writer makes.

    >>> data_file_token("part-00002-3fa9c1d2e4b5-001.parquet")
    '3fa9c1d2e4b5'
    """
    m = _DATA_FILE.match(name)
    return m.group("token") if m else None


def find_orphans(data: Path, live: set[str]) -> list[Path]:
    """Staging folders of dead writers and unlisted data files not owned by a live writer.

    Reads the manifests first so that a part committed while we look cannot make its files look orphaned
    (its writer is live, or its manifest is already listed). Raises CorruptShardError on a broken manifest:
    without every manifest we cannot know which files are committed, so nothing may be called an orphan.
    """
    listed = {data / f.path for f in committed_entries(load_manifests(data))}
    found: list[Path] = []
    staging = data / STAGING
    if staging.is_dir():
        found += sorted(p for p in staging.iterdir() if p.name != MUTEX and p.name not in live)
    for dataset in (PROBLEMS, REJECTIONS):
        for path in sorted(Path(data, dataset).glob("round-*/*")):
            if path in listed or not path.is_file():
                continue
            if data_file_token(path.name) not in live:
                found.append(path)
    return found


def remove_orphans(data: Path) -> list[Path]:
    """Delete what dead writers left (only files named like ours); returns what was removed."""
    removed = []
    for path in find_orphans(data, live_tokens(data)):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.parent.name == STAGING or data_file_token(path.name):
            path.unlink(missing_ok=True)
        else:
            continue  # a stranger's file inside a round folder: invisible to readers, left for a person
        removed.append(path)
    return removed


def register_writer(data: Path, token: str) -> int:
    """Clean up after dead writers, then create and lock this writer's staging folder; returns the lock fd."""
    with staging_mutex(data):
        remove_orphans(data)
        folder = data / STAGING / token
        folder.mkdir()
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def release_writer(data: Path, token: str, fd: int) -> None:
    """Remove this writer's staging folder, then drop its lock."""
    shutil.rmtree(data / STAGING / token, ignore_errors=True)
    os.close(fd)
