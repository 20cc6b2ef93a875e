"""Read a student's folder without ever following a link, and say what was left out.

`read_folder(parent_fd, name)` reads every regular file under ``name`` (a folder inside the folder
open as ``parent_fd``) into memory. It never follows a symbolic link (to a folder or a file), never
opens a FIFO, socket or device (a FIFO would block), and never reads a regular file that has hard
links outside the folder read (st_nlink > 1, unless every one of its links lies inside that same
folder). Each such entry becomes one line in `Tree.skipped`; the rest is read.

The walk uses file descriptors only: folders are opened with O_NOFOLLOW | O_DIRECTORY relative to
their parent, files with O_NOFOLLOW | O_NONBLOCK and checked with fstat once open, so an entry
swapped for a link between the listing and the read is refused too. Names starting with "." and
`__MACOSX` (checkpoints, macOS resource forks) are neither read nor reported.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

#: A file larger than this is not read.
MAX_FILE_BYTES = 50 * 1024 * 1024
#: At most this many bytes are read from one submission in all.
MAX_TOTAL_BYTES = 100 * 1024 * 1024
#: At most this many entries (files, folders, links) are looked at in one submission.
MAX_ENTRIES = 2000

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


@dataclass
class File:
    path: str  # relative to the folder read, "/"-separated
    data: bytes
    mtime: float


@dataclass
class Tree:
    files: list[File] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one plain-words line per entry left out


def hidden(name: str) -> bool:
    """Folders and files no student meant to hand in: .ipynb_checkpoints, ._x (macOS), __MACOSX."""
    return name.startswith(".") or name == "__MACOSX"


def kind(mode: int) -> str:
    """What a file that is neither a folder nor a regular file is, in plain words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a regular file" if stat.S_ISREG(mode) else "an unknown kind of file"


def describe(dir_fd: int | None, name: str) -> str | None:
    """Why the entry ``name`` may not be entered as a folder ("a symbolic link to '/x'", "a FIFO …"),
    or None if it is a real folder. Looks with lstat only."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if stat.S_ISDIR(mode):
        return None
    return _link_words(dir_fd, name, mode)


def _link_words(dir_fd: int | None, name: str, mode: int) -> str:
    if not stat.S_ISLNK(mode):
        return kind(mode)
    try:
        return f"a symbolic link to {os.readlink(name, dir_fd=dir_fd)!r}"
    except OSError:
        return "a symbolic link"


def open_folder(dir_fd: int | None, name: str) -> int:
    """A descriptor of the real folder ``name``; OSError if it is a link or not a folder."""
    return os.open(name, _FOLDER, dir_fd=dir_fd)


@dataclass
class _Entry:
    path: str
    folder: int  # descriptor of the folder holding it
    name: str
    st: os.stat_result


def read_folder(dir_fd: int | None, name: str) -> Tree:
    """Every regular file under the folder ``name`` of ``dir_fd``, and what was skipped."""
    tree, folders, found = Tree(), [], []
    try:
        folders.append(open_folder(dir_fd, name))
        _list(folders[0], "", folders, found, tree)
        _read(found, tree)
    finally:
        for fd in folders:
            os.close(fd)
    return tree


def _list(fd: int, prefix: str, folders: list[int], found: list[_Entry], tree: Tree) -> None:
    """Record the regular files under ``fd``; skip and report links and special files."""
    with os.scandir(fd) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if hidden(entry.name):
                continue
            path = prefix + entry.name
            if len(found) + len(folders) + len(tree.skipped) >= MAX_ENTRIES:
                tree.skipped.append(f"more than {MAX_ENTRIES} files and folders: the rest was not read")
                return
            try:
                st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
            except OSError as error:  # gone since the listing
                tree.skipped.append(f"skipped {path!r}: {error.strerror}")
                continue
            if stat.S_ISREG(st.st_mode):
                found.append(_Entry(path, fd, entry.name, st))
            elif stat.S_ISDIR(st.st_mode):
                try:
                    child = open_folder(fd, entry.name)
                except OSError as error:  # swapped for a link since the listing
                    tree.skipped.append(f"skipped {path!r}: it could not be opened as a folder ({error.strerror})")
                    continue
                folders.append(child)
                _list(child, path + "/", folders, found, tree)
            else:
                never = "links are never followed" if stat.S_ISLNK(st.st_mode) else "never opened"
                tree.skipped.append(f"skipped {path!r}, {_link_words(fd, entry.name, st.st_mode)}: {never}")


def _read(found: list[_Entry], tree: Tree) -> None:
    """Read the files recorded by `_list`, except hard links to files outside the folder."""
    inside: dict[tuple[int, int], int] = {}
    for entry in found:
        key = (entry.st.st_dev, entry.st.st_ino)
        inside[key] = inside.get(key, 0) + 1
    total = 0
    for entry in found:
        if entry.st.st_nlink > inside[(entry.st.st_dev, entry.st.st_ino)]:
            tree.skipped.append(f"skipped {entry.path!r}, a hard link to a file outside the submission: never read")
            continue
        if entry.st.st_size > MAX_FILE_BYTES or total + entry.st.st_size > MAX_TOTAL_BYTES:
            tree.skipped.append(f"skipped {entry.path!r}: {entry.st.st_size:,} bytes, over the "
                                f"{MAX_FILE_BYTES // 2**20} MB limit per file or {MAX_TOTAL_BYTES // 2**20} MB "
                                "per submission")
            continue
        data, why = _read_file(entry)
        if data is None:
            tree.skipped.append(f"skipped {entry.path!r}: {why}")
            continue
        total += len(data)
        tree.files.append(File(entry.path, data, entry.st.st_mtime))


def _read_file(entry: _Entry) -> tuple[bytes | None, str]:
    """The bytes of a file listed earlier, if it is still that same regular file."""
    try:
        fd = os.open(entry.name, _FILE, dir_fd=entry.folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "it became a symbolic link while being read (links are never followed)"
        return None, f"it could not be read ({error.strerror})"
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino, st.st_nlink) != (entry.st.st_dev, entry.st.st_ino, entry.st.st_nlink) \
                or not stat.S_ISREG(st.st_mode):
            return None, "it changed while being read (never opened as anything but the file listed)"
        chunks, left = [], MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_FILE_BYTES:
            return None, f"it grew over the {MAX_FILE_BYTES // 2**20} MB limit while being read"
        return data, ""
    except OSError as error:
        return None, f"it could not be read ({error.strerror})"
    finally:
        os.close(fd)


def fingerprint_folder(dir_fd: int | None, name: str, digest) -> None:
    """Feed ``digest`` with everything under the folder ``name``, following no link: each regular
    file as its path and bytes (as `batch.fingerprint` always did), each link as its target text,
    each other special file as its kind. Hidden entries count too: they were handed in."""
    fd = open_folder(dir_fd, name)
    try:
        _fingerprint(fd, (), digest)
    finally:
        os.close(fd)


def _fingerprint(fd: int, parts: tuple[str, ...], digest) -> None:
    with os.scandir(fd) as listing:
        names = sorted(entry.name for entry in listing)
    entries = []
    for name in names:
        try:
            entries.append((parts + (name,), name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
        except OSError:  # gone since the listing
            continue
    # the order of pathlib's sorted(rglob): by path components, folders walked in place
    for path, name, st in sorted(entries, key=lambda e: e[0]):
        label = "/".join(path).encode("utf-8", "surrogateescape")
        if stat.S_ISDIR(st.st_mode):
            try:
                child = open_folder(fd, name)
            except OSError:
                digest.update(label + b"\0<changed>\0")
                continue
            try:
                _fingerprint(child, path, digest)
            finally:
                os.close(child)
        elif stat.S_ISREG(st.st_mode):
            _hash_file(fd, name, label, digest)
        else:
            digest.update(label + b"\0<" + _link_words(fd, name, st.st_mode).encode("utf-8", "replace") + b">\0")


def _hash_file(fd: int, name: str, label: bytes, digest) -> None:
    try:
        file_fd = os.open(name, _FILE, dir_fd=fd)
    except OSError:
        digest.update(label + b"\0<unreadable>\0")
        return
    try:
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            digest.update(label + b"\0<changed>\0")
            return
        digest.update(label + b"\0")
        while chunk := os.read(file_fd, 1 << 20):
            digest.update(chunk)
        digest.update(b"\0")
    finally:
        os.close(file_fd)
