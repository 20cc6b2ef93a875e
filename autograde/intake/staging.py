"""Intake: make what students handed in gradable by nbgrader, and say in plain words what was wrong.

Two sources: nbgrader's own tree `submitted/<student>/<assignment>/` (`scan_submitted`) and a
folder of zip files downloaded from an LMS for one assignment (`collect_lms`, which places them in
`submitted/`; file names in docs/lms-zips.md). `submitted/` is the students' record: it is never
renamed or rewritten, and no link in it is followed. What nbgrader grades is a staged copy,
`intake/<safe id>/<assignment>/`, with every repair (odd ids, a notebook saved under another name,
damaged nbgrader metadata) made on the copy. Every defect becomes a `Problem` saying what was done
about it; one bad hand-in never stops the others.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import stat
import unicodedata
import warnings
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import nbformat
from nbgrader.plugins import FileNameCollectorPlugin

from autograde.course import deadlines, notebook_repair
from autograde.intake.safe_copy import File, describe, kind, fingerprint_folder, hidden, open_folder, read_folder

log = logging.getLogger(__name__)

#: The folder of the course where intake stages each gradable submission for nbgrader
#: (nbgrader's `CourseDirectory.submitted_directory` while it sanitizes).
STAGED_DIRECTORY = "intake"
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


# ---- nbgrader's submitted/ tree -------------------------------------------------------------

def scan_submitted(course: Path, assignments: list[str],
                   release_directory: str = "course") -> tuple[list[tuple[str, str]], list[Problem]]:
    """(student, assignment) pairs staged for nbgrader under course/intake, and the Problems.

    submitted/ is only read, never changed, and no link in it is followed (`safe_copy`). Each
    gradable submission is copied to intake/<safe id>/<assignment>/: its notebook as
    <assignment>.ipynb (whatever name the student saved it under), its other files and
    timestamp.txt as they are; links, FIFOs, devices and hard links to files outside the
    submission are left out and named. The copy's cells are matched to the released notebook
    (release_directory/<id>/<id>.ipynb) and its nbgrader metadata restored (`notebook_repair`);
    warnings nbformat raises while reading it become Problems of that student. Not gradable: no
    notebook, or one nbformat cannot read; a link in place of the student or assignment folder.
    """
    course = Path(course)
    _clear_staged(course / STAGED_DIRECTORY, assignments)
    gradable: list[tuple[str, str]] = []
    problems: list[Problem] = []
    root = course / "submitted"
    if not root.is_dir():
        return gradable, problems
    released = _Releases(course / release_directory, problems)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the course's own folder
    try:
        for raw, safe in _student_folders(root_fd, problems):
            try:
                student_fd = open_folder(root_fd, raw)
            except OSError as error:  # it became a link or vanished since the listing
                problems.append(Problem(safe, "", f"student folder {raw!r} could not be opened as a folder "
                                                  f"({error.strerror}): not graded"))
                continue
            try:
                for assignment in _assignment_folders(student_fd, safe, assignments, released, problems):
                    if _stage(student_fd, safe, assignment, course / STAGED_DIRECTORY, released, problems):
                        gradable.append((safe, assignment))
            finally:
                os.close(student_fd)
    finally:
        os.close(root_fd)
    return gradable, problems


def _clear_staged(staged: Path, assignments: list[str]) -> None:
    """Remove the staged copies of these assignments: each run stages them afresh."""
    if not staged.is_dir():
        return
    for student in staged.iterdir():
        for assignment in assignments:
            if (student / assignment).is_dir() and not (student / assignment).is_symlink():
                shutil.rmtree(student / assignment)
        if student.is_dir() and not student.is_symlink() and not any(student.iterdir()):
            student.rmdir()


def _student_folders(root_fd: int, problems: list[Problem]) -> list[tuple[str, str]]:
    """(folder name, safe id) of each real student folder whose safe id no other folder takes."""
    by_safe: dict[str, list[str]] = {}
    for name in sorted(os.listdir(root_fd)):
        if hidden(name):
            continue
        why = describe(root_fd, name)
        if why is None:
            by_safe.setdefault(safe_student_id(name), []).append(name)
        elif not why.startswith("a regular"):
            problems.append(Problem(safe_student_id(name), "", f"student folder {name!r} is {why}: "
                                                               f"not graded ({_never(why)})"))
    folders = []
    for safe, names in sorted(by_safe.items()):
        if len(names) > 1:
            winner = safe if safe in names else None
            for name in names:
                if name == winner:
                    continue
                problems.append(Problem(name, "", f"student folder {name!r} would be graded as {safe!r}, "
                                                  f"which {'is another folder' if winner else 'other folders would be too'} "
                                                  f"({', '.join(map(repr, names))}): not graded; rename it by hand"))
            names = [winner] if winner else []
        for name in names:
            if name != safe:
                problems.append(Problem(safe, "", f"student folder {name!r} graded as {safe!r} (characters unsafe "
                                                  "in file names or nbgrader ids); submitted/ is left as it is"))
            folders.append((name, safe))
    return folders


def _assignment_folders(student_fd: int, student: str, assignments: list[str], released: _Releases,
                        problems: list[Problem]) -> list[str]:
    """The real folders of these assignments of one student; Problems for everything else worth a
    word (the course's other assignments, not asked for this time, are passed over in silence)."""
    found = []
    for name in sorted(os.listdir(student_fd)):
        if hidden(name) or (name not in assignments and released.exists(name)):
            continue
        why = describe(student_fd, name)
        if why is None and name in assignments:
            found.append(name)
        elif why is None:
            problems.append(Problem(student, name, f"unknown assignment folder {name!r}: skipped"))
        elif name in assignments:
            problems.append(Problem(student, name, f"the assignment folder is {why}: not graded ({_never(why)})"))
        elif not why.startswith("a regular"):
            problems.append(Problem(student, "", f"skipped {name!r}, {why}: {_never(why)}"))
        elif name.endswith(".ipynb"):
            problems.append(Problem(student, "", f"{name} lies outside any assignment folder: ignored"))
    return found


def _never(what: str) -> str:
    return "links are never followed" if "link" in what else "never opened"


class _Releases:
    """The released notebook of each assignment (what nbgrader generated from solutions/), read once."""

    def __init__(self, folder: Path, problems: list[Problem]):
        self.folder, self.problems, self.cache = folder, problems, {}

    def exists(self, assignment: str) -> bool:
        return (self.folder / assignment / f"{assignment}.ipynb").is_file()

    def get(self, assignment: str):
        if assignment not in self.cache:
            path = self.folder / assignment / f"{assignment}.ipynb"
            try:
                self.cache[assignment] = nbformat.read(path, as_version=4)
            except (OSError, ValueError) as error:
                self.cache[assignment] = None
                self.problems.append(Problem("", assignment, f"no released notebook to check the cells against "
                                                             f"({path}: {type(error).__name__}): cell metadata "
                                                             "not repaired"))
        return self.cache[assignment]


def _stage(student_fd: int, student: str, assignment: str, staged: Path, released: _Releases,
           problems: list[Problem]) -> bool:
    """Copy one submission into staged/<student>/<assignment>/ as nbgrader must read it; True if gradable."""
    def say(message: str) -> None:
        problems.append(Problem(student, assignment, message))

    try:
        tree = read_folder(student_fd, assignment)
    except OSError as error:
        say(f"the assignment folder could not be read ({error.strerror}): not graded")
        return False
    for line in tree.skipped:
        say(line)
    chosen = _choose_notebook(tree, assignment, say)
    if chosen is None:
        return False
    text, refusal = _gradable_text(chosen.data, released.get(assignment), f"{assignment}.ipynb", say,
                                   f"{student}/{assignment}")
    if refusal:
        say(refusal)
        return False
    folder = staged / student / assignment
    folder.mkdir(parents=True)
    for file in tree.files:
        if not file.path.endswith(".ipynb"):
            (folder / file.path).parent.mkdir(parents=True, exist_ok=True)
            (folder / file.path).write_bytes(file.data)
    (folder / f"{assignment}.ipynb").write_bytes(text)
    return True


def _choose_notebook(tree, assignment: str, say) -> File | None:
    """The notebook to grade: <assignment>.ipynb at the top, else the most recently modified."""
    expected = f"{assignment}.ipynb"
    found = [f for f in tree.files if f.path.endswith(".ipynb")]
    names = ", ".join(repr(f.path) for f in found)
    if not found:
        say("no notebook in the submission: nothing to grade")
        return None
    named = [f for f in found if f.path == expected]
    if named:
        if len(found) > 1:
            say(f"{len(found)} notebooks ({names}): graded {expected!r}, the expected name; ignored the rest")
        return named[0]
    chosen = max(found, key=lambda f: f.mtime)
    if len(found) > 1:
        say(f"{len(found)} notebooks ({names}), none named {expected!r}: graded {chosen.path!r}, the most "
            f"recently modified, as {expected!r} (a copy; the student's files are left as they are)")
    else:
        say(f"notebook was named {chosen.path!r}: graded as {expected!r} (a copy; the student's file is "
            "left as it is)")
    return chosen


def _gradable_text(data: bytes, released, released_name: str, say, who: str) -> tuple[bytes, str | None]:
    """The notebook nbgrader should read (repaired if needed), or why it is not graded; ``who``
    names it in the log of repairs.

    nbformat's warnings (duplicate or missing cell ids) are caught here and said as notes; the
    copy then holds nbformat's fixes, so nbgrader reads it without a warning."""
    if not data.strip():
        return data, "not a readable notebook: empty file; not graded"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            nbformat.validate(nb)
        except Exception as err:  # noqa: BLE001 - nbformat raises NotJSONError, ValidationError, TypeError, …
            lines = str(err).strip().splitlines() or [type(err).__name__]
            return data, f"not a readable notebook: {lines[0][:200]}; not graded"
        try:
            notes = notebook_repair.repair(nb, released) if released is not None else []
            for note in notes:
                log.info("%s: %s", who, note)
            text = nbformat.writes(nb).encode() if notes or caught else data
        except notebook_repair.Unmatched as err:
            return data, f"the notebook does not match the released {released_name}: {err}; not graded"
        except Exception as err:  # noqa: BLE001 - an odd notebook must not stop the batch
            notes, text = [f"its cells could not be checked against the released {released_name} "
                           f"({type(err).__name__}: {err}): graded as handed in"], data
    for note in notes + _warning_notes(caught):
        say(note)
    return text, None


def _warning_notes(caught: list) -> list[str]:
    """One note per kind of warning raised while reading a notebook, saying what was fixed."""
    counts: dict[str, int] = {}
    for item in caught:
        name = item.category.__name__
        if name in ("DuplicateCellId", "MissingIDFieldWarning"):
            counts[name] = counts.get(name, 0) + 1
        else:
            counts[f"{name}: {str(item.message).strip().splitlines()[0][:160]}"] = 1
    notes = []
    for key, count in counts.items():
        if key == "DuplicateCellId":
            notes.append(f"{count} cell(s) had the id of another cell (nbformat's DuplicateCellId): "
                         "given new ids in the graded copy")
        elif key == "MissingIDFieldWarning":
            notes.append(f"{count} cell(s) had no cell id (nbformat's MissingIDFieldWarning): "
                         "given ids in the graded copy")
        else:
            notes.append(f"reading the notebook warned: {key}")
    return notes


def submitted_folder(course: Path, student: str) -> str | None:
    """The name of the real folder in course/submitted whose safe id is ``student``, or None."""
    root = Path(course) / "submitted"
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    if student in names and describe(None, str(root / student)) is None:
        return student
    return next((n for n in names if not hidden(n) and safe_student_id(n) == student
                 and describe(None, str(root / n)) is None), None)


def handed_in(course: Path, student: str, assignment: str) -> bool:
    """Whether the student's folder in submitted/ has an entry named ``assignment`` (of any kind)."""
    name = submitted_folder(course, student)
    return name is not None and os.path.lexists(Path(course) / "submitted" / name / assignment)


def fingerprint(course: Path, student: str, assignment: str) -> str:
    """A hash of what the student handed in for one assignment: submitted/<their folder>/<assignment>,
    read without following any link (a link counts as its target's name). For a folder of plain
    files it equals the hash the batch grader's journals always held."""
    digest = hashlib.sha256()
    name = submitted_folder(course, student)
    if name is None:
        return digest.hexdigest()
    root_fd = os.open(Path(course) / "submitted", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        student_fd = open_folder(root_fd, name)
        try:
            fingerprint_folder(student_fd, assignment, digest)
        except OSError:
            digest.update(f"<{describe(student_fd, assignment)}>".encode())
        finally:
            os.close(student_fd)
    except OSError:
        pass
    finally:
        os.close(root_fd)
    return digest.hexdigest()


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
    marked_late: bool = False  # the LMS put LATE_ in its download name (Canvas)


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
        if hidden(path.name):
            continue
        for notebook in _read_download(path, assignment, problems):
            by_student.setdefault(notebook.student, []).append(notebook)

    safe_ids = {raw: safe_student_id(raw) for raw in by_student}
    try:
        dates = deadlines.load(course)
    except deadlines.DeadlineError:
        dates = None  # grading stops on it with its own message
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
        notes += _place(chosen, course, safe, assignment)
        late = deadlines.lms_late_note(chosen.marked_late, chosen.time, _due(dates, safe, assignment))
        notes += [late] if late else []
        problems += [Problem(safe, assignment, note) for note in notes]
    return problems


def _due(dates: deadlines.Deadlines | None, student: str, assignment: str) -> datetime | None:
    """The student's due date (extension included) in the course's deadlines, if it has one."""
    if dates is None or assignment not in dates.due:
        return None
    return dates.due[assignment] + (dates.extension(student, assignment) or timedelta(0))


def _read_download(path: Path, assignment: str, problems: list[Problem]) -> list[_Notebook]:
    """Candidate notebooks in one downloaded file: a student's zip, a bulk zip or a loose notebook."""
    parsed = _lms_name(path.name)
    student = parsed["student_id"] if parsed else path.stem

    def report(who: str, message: str) -> list[_Notebook]:
        problems.append(Problem(safe_student_id(who) if who else "", assignment, message))
        return []

    mode = os.lstat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return report("", f"{path.name} is {describe(None, str(path))}: skipped (links are never followed)")
    if stat.S_ISDIR(mode) or path.suffix.lower() not in (".zip", ".ipynb"):
        return report("", f"{path.name}: not a zip file or a notebook: skipped")
    if path.suffix.lower() == ".ipynb" and not parsed:
        return report("", f"{path.name}: a loose notebook not named like an LMS download: skipped")
    try:
        with _open_regular(path) as (handle, mtime):
            if path.suffix.lower() == ".ipynb":
                data = handle.read(MAX_MEMBER_BYTES + 1)
                if len(data) > MAX_MEMBER_BYTES:
                    return report(student, f"{path.name}: {_too_big(os.fstat(handle.fileno()).st_size)}: refused")
                return [_Notebook(student, path.name, parsed["file_id"], _utc(mtime), mtime, data,
                                  deadlines.marked_late(path.name))]
            with zipfile.ZipFile(handle) as archive:
                kept, refused, names = _members(archive)
    except zipfile.BadZipFile as err:
        return report(student, f"{path.name} is not a readable zip file ({err}): skipped")
    except OSError as err:
        return report(student, f"{path.name} could not be read ({err.strerror or err}): skipped")

    if parsed is None and any(_lms_name(info.filename) for info, _ in kept + refused):
        return _bulk(path.name, mtime, kept, refused, report)
    for info, reason in refused:
        report(student, f"{path.name}: {reason}")
    found = _student_zip(student, path.name, mtime, kept, names, report)
    for notebook in found:
        notebook.marked_late = deadlines.marked_late(path.name)
    return found


@contextmanager
def _open_regular(path: Path):
    """(binary file, modification time) of a regular file, opened without following a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"it is {kind(st.st_mode)}")
        yield handle, st.st_mtime


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
            notebooks.append(_Notebook(student, label, parsed["file_id"], _zip_time(info), mtime, data,
                                       deadlines.marked_late(info.filename)))
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                inner_kept, inner_refused, inner_names = _members(inner)
        except zipfile.BadZipFile as err:
            report(student, f"{inner_label} is not a readable zip file ({err}): skipped")
            continue
        for _, reason in inner_refused:
            report(student, f"{inner_label}: {reason}")
        found = _student_zip(student, inner_label, mtime, inner_kept, inner_names, report)
        for notebook in found:
            notebook.marked_late = deadlines.marked_late(info.filename)
        notebooks += found
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
        mode = info.external_attr >> 16  # Unix mode bits, when the zip was made on Unix
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            refused.append((info, f"member {name!r} is {kind(mode)}: skipped (links are never followed)"))
            continue
        if not info.is_dir() and not any(hidden(part) for part in parts):
            names.append(name)
        if info.is_dir() or not name.lower().endswith((".ipynb", ".zip")):
            continue
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"[A-Za-z]:", name):
            refused.append((info, f"member {name!r} has an unsafe path (outside the zip's folder): ignored"))
            continue
        if any(hidden(part) for part in parts):
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


def _place(notebook: _Notebook, course: Path, student: str, assignment: str) -> list[str]:
    """Write the notebook and nbgrader's timestamp.txt into submitted/<student>/<assignment>/,
    creating the folders as needed and following no link (a link in the way: nothing written)."""
    root = Path(course) / "submitted"
    root.mkdir(parents=True, exist_ok=True)
    where = "submitted"
    folders = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for name in (student, assignment):
            where += f"/{name}"
            try:
                os.mkdir(name, dir_fd=folders[-1])
            except FileExistsError:
                pass
            try:
                folders.append(open_folder(folders[-1], name))
            except OSError:
                return [f"{where} is {describe(folders[-1], name)}, not a folder: nothing collected "
                        "(links are never followed)"]
        return _write_submission(folders[-1], notebook, where, assignment)
    finally:
        for fd in folders:
            os.close(fd)


def _write_submission(folder_fd: int, notebook: _Notebook, where: str, assignment: str) -> list[str]:
    name, notes = f"{assignment}.ipynb", []
    why = describe(folder_fd, name)
    if why not in ("a regular file", None) and not why.startswith("unreadable"):
        return [f"{where}/{name} is {why}: nothing collected (links are never followed)"]
    if why == "a regular file":
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
        with os.fdopen(fd, "rb") as handle:
            if handle.read() != notebook.data:
                notes.append(f"replaced the different notebook already at {where}")
    _write_at(folder_fd, name, notebook.data)
    _write_at(folder_fd, "timestamp.txt", notebook.time.strftime(TIMESTAMP_FORMAT).encode())
    return notes


def _write_at(folder_fd: int, name: str, data: bytes) -> None:
    """Replace ``name`` in the folder by a new file holding ``data`` (a link there is replaced, not followed)."""
    partial = f".{name}.partial"
    try:
        os.unlink(partial, dir_fd=folder_fd)
    except FileNotFoundError:
        pass
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                 dir_fd=folder_fd)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(partial, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)


def _zip_time(info: zipfile.ZipInfo) -> datetime:
    """A zip member's date, taken as UTC (zips store no time zone)."""
    return datetime(*info.date_time, tzinfo=timezone.utc)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _too_big(size: int) -> str:
    return f"{size:,} bytes uncompressed, over the {MAX_MEMBER_BYTES // 2**20} MB limit"
