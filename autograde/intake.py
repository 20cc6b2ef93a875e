"""Intake: make what students handed in gradable by nbgrader, and say in plain words what was wrong.

Two sources: nbgrader's own tree `submitted/<student>/<assignment>/<assignment>.ipynb`
(`scan_submitted`) and a folder of zip files downloaded from an LMS for one assignment
(`collect_lms`, file names in docs/lms-zips.md). Every defect becomes a `Problem` saying what was
done about it; one bad hand-in never stops the others.
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import nbformat
from nbgrader.plugins import FileNameCollectorPlugin

#: A notebook (or a zip inside a bulk zip) larger than this, uncompressed, is refused.
MAX_MEMBER_BYTES = 50 * 1024 * 1024
#: nbgrader's own `Exchange.timestamp_format`; `CourseDirectory.get_existing_timestamp` reads it back.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


@dataclass
class Problem:
    """One thing wrong with a hand-in and what was done about it. `assignment` is "" for a problem
    with a whole student folder; `student` is "" when no student can be told from a file name."""
    student: str
    assignment: str
    message: str


def safe_student_id(raw: str) -> str:
    """A student id that is safe as a folder name and as an nbgrader id, derived from `raw`.

    Accented letters lose their accents ("José" → "Jose"); every other character outside
    [A-Za-z0-9_.-] becomes "_"; surrounding whitespace and leading dots are dropped; case is kept;
    at most 100 characters. An id left with no letter or digit ("", "..", "张伟") becomes
    "student-<8 hex digits of its SHA-1>", stable from run to run. Safe ids map to themselves.
    Two raw ids can share a safe id: the caller must check for collisions.
    """
    text = "".join(_ascii(ch) for ch in unicodedata.normalize("NFC", raw.strip()))
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip(".")[:100]
    if not re.search(r"[A-Za-z0-9]", text):
        return "student-" + hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return text


def _ascii(ch: str) -> str:
    return unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "_"


def _hidden(name: str) -> bool:
    """Folders and files no student meant to hand in: .ipynb_checkpoints, ._x (macOS), __MACOSX."""
    return name.startswith(".") or name == "__MACOSX"


# ---- nbgrader's submitted/ tree -------------------------------------------------------------

def scan_submitted(course: Path, assignments: list[str]) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(student, assignment) pairs under course/submitted that nbgrader can grade, and the Problems.

    Fixed in place, with a Problem saying so: a student folder with unsafe characters is renamed to
    its safe id (refused if that id exists), a notebook under another name is renamed to
    <assignment>.ipynb. Not gradable: no notebook, or one nbformat cannot read and validate.
    """
    root = Path(course) / "submitted"
    gradable: list[tuple[str, str]] = []
    problems: list[Problem] = []
    if not root.is_dir():
        return gradable, problems
    for folder in sorted(root.iterdir()):
        if _hidden(folder.name) or not folder.is_dir():
            continue
        folder = _settle_student(folder, problems)
        if folder is None:
            continue
        for sub in sorted(folder.iterdir()):
            if _hidden(sub.name):
                continue
            if not sub.is_dir():
                if sub.suffix.lower() == ".ipynb":
                    problems.append(Problem(folder.name, "", f"{sub.name} lies outside any assignment folder: ignored"))
            elif sub.name not in assignments:
                problems.append(Problem(folder.name, sub.name, f"unknown assignment folder {sub.name!r}: skipped"))
            elif _settle_notebook(sub, folder.name, problems):
                gradable.append((folder.name, sub.name))
    return gradable, problems


def _settle_student(folder: Path, problems: list[Problem]) -> Path | None:
    """The student folder under its safe id (renamed if needed), or None if that id is taken."""
    safe = safe_student_id(folder.name)
    if safe == folder.name:
        return folder
    target = folder.with_name(safe)
    if target.exists():
        problems.append(Problem(folder.name, "", f"student folder {folder.name!r} would become {safe!r}, "
                                                 "which already exists: not graded; merge or rename it by hand"))
        return None
    folder.rename(target)
    problems.append(Problem(safe, "", f"student folder {folder.name!r} renamed to {safe!r} "
                                      "(characters unsafe in file names or nbgrader ids)"))
    return target


def _settle_notebook(folder: Path, student: str, problems: list[Problem]) -> bool:
    """Put the submission's notebook at <assignment>.ipynb and say whether nbformat can read it."""
    assignment = folder.name
    expected = folder / f"{assignment}.ipynb"

    def say(message: str) -> None:
        problems.append(Problem(student, assignment, message))

    found = sorted(p for p in folder.rglob("*.ipynb")
                   if p.is_file() and not any(_hidden(part) for part in p.relative_to(folder).parts))
    names = ", ".join(repr(p.relative_to(folder).as_posix()) for p in found)
    if not found:
        say("no notebook in the submission: nothing to grade")
        return False
    if expected in found:
        if len(found) > 1:
            say(f"{len(found)} notebooks ({names}): graded {expected.name!r}, the expected name; ignored the rest")
    else:
        chosen = max(found, key=lambda p: p.stat().st_mtime)
        was = chosen.relative_to(folder).as_posix()
        chosen.rename(expected)
        if len(found) > 1:
            say(f"{len(found)} notebooks ({names}), none named {expected.name!r}: "
                f"renamed {was!r}, the most recently modified, to {expected.name!r} and graded it")
        else:
            say(f"notebook was named {was!r}: renamed to {expected.name!r} and graded")
    reason = _unreadable(expected)
    if reason:
        say(f"not a readable notebook: {reason}; not graded")
        return False
    return True


def _unreadable(path: Path) -> str | None:
    """Why nbformat cannot read and validate the notebook (any version it converts), or None."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as err:  # nbformat raises NotJSONError, ValidationError, TypeError, … on bad input
        lines = str(err).strip().splitlines() or [type(err).__name__]
        return lines[0][:200]
    return None


# ---- LMS downloads --------------------------------------------------------------------------

_quiet = logging.getLogger(__name__ + ".nbgrader")  # the collector logs every non-match as a warning
_quiet.setLevel(logging.ERROR)
_quiet.propagate = False


def _collector(named_regexp: str) -> FileNameCollectorPlugin:
    return FileNameCollectorPlugin(named_regexp=named_regexp, valid_ext=[".ipynb", ".zip"], log=_quiet)


#: LMS file-name layouts, tried in order with nbgrader's zip_collect plugin (docs/lms-zips.md).
_LMS_NAMES = [
    # Canvas: <login>_<userid>_<submissionid>_<name>, late ones <login>_LATE_<userid>_<submissionid>_<name>
    _collector(r"(?P<student_id>[^_/]+)_(?:LATE_)?\d+_\d+_(?P<file_id>[^/]+)$"),
    # Moodle: <Full Name>_<id>_assignsubmission_file_<name>, or <name> inside a folder of that prefix
    _collector(r"(?P<student_id>[^/]+?_\d+)_assignsubmission_file_/?(?P<file_id>[^/]*)$"),
]


def _lms_name(path: str) -> dict | None:
    """{"student_id", "file_id"} from an LMS file name (or its last folder and name), else None."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    for name in ("/".join(parts[-1:]), "/".join(parts[-2:])):
        for collector in _LMS_NAMES:
            info = collector.collect(name)
            if info:
                return info
    return None


@dataclass
class _Notebook:
    """A candidate notebook found in the downloads."""
    student: str       # the id as the LMS spells it
    submission: str    # the hand-in it came in, for messages: "alice.zip", "bulk.zip: a_1_2_x.zip"
    name: str          # its file name as the student saved it
    time: datetime     # zip member time (UTC) or, for a loose file, its modification time
    file_mtime: float  # the downloaded file's modification time, to break ties
    data: bytes


def collect_lms(downloads: Path, course: Path, assignment: str) -> list[Problem]:
    """Place each student's notebook from a folder of LMS zip downloads for one assignment at
    course/submitted/<safe id>/<assignment>/<assignment>.ipynb, with nbgrader's timestamp.txt.

    Reads per-student zips, bulk zips (Canvas, Moodle) and loose notebooks named like bulk
    members. Only notebook bytes are written, to paths built from safe ids, so no member path can
    reach outside the course. Running it again on the same downloads changes nothing.
    """
    if assignment != safe_student_id(assignment):
        raise ValueError(f"not a plain assignment name: {assignment!r}")
    downloads, problems = Path(downloads), []
    if not downloads.is_dir():
        return [Problem("", assignment, f"download folder {str(downloads)!r} does not exist: nothing collected")]
    by_student: dict[str, list[_Notebook]] = {}
    for path in sorted(downloads.iterdir()):
        if _hidden(path.name):
            continue
        for notebook in _read_download(path, assignment, problems):
            by_student.setdefault(notebook.student, []).append(notebook)

    safe_ids = {raw: safe_student_id(raw) for raw in by_student}
    for raw in sorted(by_student):
        safe = safe_ids[raw]
        sharing = sorted(r for r, s in safe_ids.items() if s == safe)
        if len(sharing) > 1:
            problems.append(Problem(safe, assignment, f"LMS ids {', '.join(map(repr, sharing))} all become {safe!r}: "
                                                      f"{raw!r} not collected; rename its download by hand"))
            continue
        if raw != safe:
            problems.append(Problem(safe, assignment, f"LMS id {raw!r} stored as {safe!r} "
                                                      "(characters unsafe in file names or nbgrader ids)"))
        chosen, notes = _pick(by_student[raw], assignment)
        notes += _place(chosen, Path(course) / "submitted" / safe / assignment)
        problems += [Problem(safe, assignment, note) for note in notes]
    return problems


def _read_download(path: Path, assignment: str, problems: list[Problem]) -> list[_Notebook]:
    """Candidate notebooks in one downloaded file: a student's zip, a bulk zip or a loose notebook."""
    mtime = path.stat().st_mtime
    parsed = _lms_name(path.name)
    student = parsed["student_id"] if parsed else path.stem

    def report(who: str, message: str) -> list[_Notebook]:
        problems.append(Problem(safe_student_id(who) if who else "", assignment, message))
        return []

    if path.is_dir() or path.suffix.lower() not in (".zip", ".ipynb"):
        return report("", f"{path.name}: not a zip file or a notebook: skipped")
    if path.suffix.lower() == ".ipynb":
        if not parsed:
            return report("", f"{path.name}: a loose notebook not named like an LMS download: skipped")
        if path.stat().st_size > MAX_MEMBER_BYTES:
            return report(student, f"{path.name}: {_too_big(path.stat().st_size)}: refused")
        return [_Notebook(student, path.name, parsed["file_id"], _utc(mtime), mtime, path.read_bytes())]
    try:
        with zipfile.ZipFile(path) as archive:
            kept, refused, names = _members(archive)
    except (zipfile.BadZipFile, OSError) as err:
        return report(student, f"{path.name} is not a readable zip file ({err}): skipped")

    if parsed is None and any(_lms_name(info.filename) for info, _ in kept + refused):
        return _bulk(path.name, mtime, kept, refused, report)
    for info, reason in refused:
        report(student, f"{path.name}: {reason}")
    return _student_zip(student, path.name, mtime, kept, names, report)


def _bulk(label, mtime, kept, refused, report) -> list[_Notebook]:
    """Candidates from a bulk zip whose members are named <LMS prefix>_<file>."""
    for info, reason in refused:
        parsed = _lms_name(info.filename)
        report(parsed["student_id"] if parsed else "", f"{label}: {reason}")
    notebooks: list[_Notebook] = []
    for info, data in kept:
        parsed = _lms_name(info.filename)
        if not parsed:
            report("", f"{label}: {info.filename!r} is not named like an LMS submission: skipped")
            continue
        student, inner_label = parsed["student_id"], f"{label}: {info.filename}"
        if info.filename.lower().endswith(".ipynb"):
            notebooks.append(_Notebook(student, label, parsed["file_id"], _zip_time(info), mtime, data))
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                inner_kept, inner_refused, inner_names = _members(inner)
        except zipfile.BadZipFile as err:
            report(student, f"{inner_label} is not a readable zip file ({err}): skipped")
            continue
        for _, reason in inner_refused:
            report(student, f"{inner_label}: {reason}")
        notebooks += _student_zip(student, inner_label, mtime, inner_kept, inner_names, report)
    return notebooks


def _student_zip(student, label, mtime, kept, names, report) -> list[_Notebook]:
    """Candidates from one student's zip; a Problem if it holds no notebook."""
    notebooks = [_Notebook(student, label, PurePosixPath(info.filename).name, _zip_time(info), mtime, data)
                 for info, data in kept if info.filename.lower().endswith(".ipynb")]
    if not notebooks:
        listing = ", ".join(map(repr, names[:5])) or "nothing"
        report(student, f"{label} holds no notebook (it holds {listing}): skipped")
    return notebooks


def _members(archive: zipfile.ZipFile) -> tuple[list, list, list[str]]:
    """([(info, bytes)] for each notebook or zip member, [(info, reason)] for those refused, and the
    names of all files a student meant to hand in). Hidden members (.ipynb_checkpoints, __MACOSX)
    are left out; paths that climb out or are absolute, huge or unreadable members are refused.
    Reading stops past the size limit, whatever the zip's header claims."""
    kept, refused, names = [], [], []
    for info in archive.infolist():
        name = info.filename
        parts = re.split(r"[\\/]", name)
        if not info.is_dir() and not any(_hidden(part) for part in parts):
            names.append(name)
        if info.is_dir() or not name.lower().endswith((".ipynb", ".zip")):
            continue
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"[A-Za-z]:", name):
            refused.append((info, f"member {name!r} has an unsafe path (outside the zip's folder): ignored"))
            continue
        if any(_hidden(part) for part in parts):
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            refused.append((info, f"member {name!r}: {_too_big(info.file_size)}: refused"))
            continue
        try:
            with archive.open(info) as member:
                data = member.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, zlib.error) as err:
            refused.append((info, f"member {name!r} could not be read ({err}): skipped"))
            continue
        if len(data) > MAX_MEMBER_BYTES:
            refused.append((info, f"member {name!r}: {_too_big(len(data))}: refused"))
        else:
            kept.append((info, data))
    return kept, refused, names


def _pick(notebooks: list[_Notebook], assignment: str) -> tuple[_Notebook, list[str]]:
    """The notebook to grade among one student's candidates, and a note on each choice made."""
    notes: list[str] = []
    by_submission: dict[str, list[_Notebook]] = {}
    for notebook in notebooks:
        by_submission.setdefault(notebook.submission, []).append(notebook)
    chosen = []
    for label, group in by_submission.items():
        named = [nb for nb in group if _is_expected(nb.name, assignment)]
        best = max(named or group, key=_recency)
        if len(group) > 1:
            why = "the expected name" if named else "the most recently modified"
            notes.append(f"{label} holds {len(group)} notebooks ({', '.join(repr(nb.name) for nb in group)}): "
                         f"took {best.name!r}, {why}")
        chosen.append(best)
    latest = max(chosen, key=_recency)
    if len(chosen) > 1:
        listing = ", ".join(f"{nb.submission} {nb.time:%Y-%m-%d %H:%M}" for nb in sorted(chosen, key=_recency))
        tie = sum(nb.time == latest.time for nb in chosen) > 1
        which = "the later download (same date inside the zips)" if tie else "the later one"
        notes.append(f"{len(chosen)} submissions ({listing}): graded {which}, {latest.submission}")
    if not _is_expected(latest.name, assignment):
        notes.append(f"notebook was named {latest.name!r} (in {latest.submission}): graded as {assignment}.ipynb")
    return latest, notes


def _is_expected(name: str, assignment: str) -> bool:
    """<assignment>.ipynb, or <assignment>-<n>.ipynb as Canvas names a resubmitted file."""
    return re.fullmatch(re.escape(assignment) + r"(-\d+)?\.ipynb", name) is not None


def _recency(notebook: _Notebook) -> tuple[datetime, float]:
    return notebook.time, notebook.file_mtime


def _place(notebook: _Notebook, folder: Path) -> list[str]:
    """Write the notebook and nbgrader's timestamp.txt into the submission folder."""
    dest = folder / f"{folder.name}.ipynb"
    notes = []
    if dest.exists() and dest.read_bytes() != notebook.data:
        notes.append(f"replaced the different notebook already at submitted/{folder.parent.name}/{folder.name}")
    folder.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(notebook.data)
    (folder / "timestamp.txt").write_text(notebook.time.strftime(TIMESTAMP_FORMAT))
    return notes


def _zip_time(info: zipfile.ZipInfo) -> datetime:
    """A zip member's date, taken as UTC (zips store no time zone)."""
    return datetime(*info.date_time, tzinfo=timezone.utc)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _too_big(size: int) -> str:
    return f"{size:,} bytes uncompressed, over the {MAX_MEMBER_BYTES // 2**20} MB limit"
