"""The trusted end: the course's test cells (hidden tests included) run here, never in the
student's kernel, with libraries no student code has touched.

Every name a solution cell defines is looked up in the student's kernel over the socket: a
value comes back as plain data, a function becomes a `StudentFunction` whose calls send their
arguments as plain data and rebuild the result the same way. The student's objects never
exist here, so a lying ``__eq__``, a patched ``np.allclose`` or a swallowed exception in the
student's kernel changes nothing in this process.
"""
from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import json
import os
import signal
import socket
import stat
import time
import warnings

import numpy as np

from autograde.trusted.codec import Opaque, decode, encode
from autograde.trusted.spec import CourseCell

# Exceptions rebuilt under their own type, so that the check library recognises a stub's
# NotImplementedError; any other type arrives as a StudentError.
_REBUILT = {name: getattr(builtins, name) for name in (
    "NotImplementedError", "ValueError", "TypeError", "ZeroDivisionError", "IndexError", "KeyError",
    "AttributeError", "NameError", "OverflowError", "FloatingPointError", "ArithmeticError",
    "AssertionError", "RuntimeError", "RecursionError", "MemoryError")}


_WARNINGS = {name: getattr(builtins, name) for name in (
    "RuntimeWarning", "UserWarning", "DeprecationWarning", "FutureWarning", "SyntaxWarning")}


class StudentError(Exception):
    """The student's function raised an exception of a type this process does not rebuild."""


class StudentGone(Exception):
    """The student's kernel stopped answering (it died, or a call ran out of time)."""


def _connect_exactly(sock: socket.socket, path: str) -> None:
    """Connect to the socket file at ``path`` itself. The folder belongs to the student, and
    connect() follows symbolic links: a link there would point this unsandboxed process at any
    socket of the host. So the file is opened without following links, must be a socket at
    exactly ``path``, and is connected to through that open file."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW)
    try:
        here = os.readlink(f"/proc/self/fd/{fd}")
        if not stat.S_ISSOCK(os.fstat(fd).st_mode) or here != path:
            raise StudentGone(f"{path} is not the student's socket (a link or another file)")
        sock.connect(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


class Connection:
    """Requests to the student's kernel over a Unix socket, one JSON object per line."""

    def __init__(self, path: str, call_timeout: float, connect_timeout: float = 30.0):
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                _connect_exactly(self.socket, path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.socket.close()
                if time.monotonic() > deadline:
                    raise StudentGone("the student's kernel never opened its socket") from None
                time.sleep(0.02)
        self.socket.settimeout(call_timeout)
        self.stream = self.socket.makefile("rw", encoding="utf-8")
        self.callbacks: dict[int, object] = {}
        self.kernel_clock = _cpu_clock_of_peer(self.socket)

    def _send(self, message: dict) -> None:
        try:
            self.stream.write(json.dumps(message) + "\n")
            self.stream.flush()
        except OSError:  # the kernel closed its end: it died, or its code closed the socket
            raise StudentGone("the student's kernel died") from None

    def _receive(self) -> dict:
        try:
            line = self.stream.readline(64 * 1024 * 1024)
        except (TimeoutError, socket.timeout):
            raise StudentGone("the student's code did not answer in time") from None
        except OSError:  # a stream that timed out once stays unreadable
            raise StudentGone("the student's code stopped answering") from None
        if not line:
            raise StudentGone("the student's kernel died")
        return json.loads(line)

    def request(self, message: dict, args: tuple = ()) -> dict:
        """Send a request; answer the student's callbacks to trusted functions until the reply.

        Before a callback runs, the call's array arguments take the values they have in the
        student's process, so a trusted function that reads them sees what the student did."""
        self._send(message)
        while True:
            reply = self._receive()
            if reply.get("op") != "callback":
                return reply
            if "args_now" in reply:
                _copy_back(args, decode(reply["args_now"]))
            function = self.callbacks[reply["id"]]
            try:
                value = function(*decode(reply["args"]), **decode(reply["kwargs"]))
                self._send({"value": encode(value)})
            except Exception as error:  # noqa: BLE001 - goes back to the student's code
                self._send({"raised": [type(error).__name__, str(error)]})

    def close(self) -> None:
        with contextlib.suppress(OSError, StudentGone):
            self._send({"op": "exit"})
        with contextlib.suppress(OSError):
            self.socket.close()


class StudentFunction:
    """A function defined by the student, called in the student's kernel."""

    def __init__(self, connection: Connection, name: str):
        self.connection, self.__name__ = connection, name
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"

    def __deepcopy__(self, memo):  # the check library copies arguments; a function stays itself
        return self

    def __copy__(self):
        return self

    def __call__(self, *args, **kwargs):
        reply = self.connection.request({"op": "call", "name": self.__name__,
                                         "args": encode(list(args), callables=self.connection.callbacks),
                                         "kwargs": encode(kwargs, callables=self.connection.callbacks)}, args)
        if "raised" in reply:
            kind, message = reply["raised"]
            raise _REBUILT.get(kind, StudentError)(message if kind in _REBUILT else f"{kind}: {message}")
        for kind, message in reply.get("warnings", []):  # seen again here, where the checks look
            warnings.warn(message, _WARNINGS.get(kind, RuntimeWarning), stacklevel=2)
        _copy_back(args, decode(reply["args_after"]))  # the student's function changed an input array
        return decode(reply["value"])


def _copy_back(given: tuple, changed: list) -> None:
    for mine, theirs in zip(given, changed):
        if type(mine) is np.ndarray and isinstance(theirs, np.ndarray) and theirs.shape == mine.shape \
                and mine.flags.writeable:
            np.copyto(mine, theirs, casting="unsafe")


class Namespace(dict):
    """The checks' globals. When a check rebinds a function the course's own cells or the student
    defined (to count the student's calls to ``sigmoid`` or ``chain_forward``, say), the student's
    kernel gets the same binding, as it would if the check ran there: the student's code then calls
    the check's function, here, where the counting happens. Binding the original back undoes it;
    a `StudentFunction` always calls the student's own definition."""

    def __init__(self, connection: Connection, given: set[str], student: list[str]):
        super().__init__()
        self.connection, self.given, self.student = connection, given, set(student)
        self.originals: dict[str, object] = {}  # given name → the course's own definition
        self.bound: set[str] = set()  # names the kernel has bound to a function of this process

    def _original(self, name, value) -> bool:
        if isinstance(value, StudentFunction):
            return value.__name__ == name and value.connection is self.connection
        return name in self.originals and value is self.originals[name]

    def __setitem__(self, name, value):
        before = self.get(name)
        super().__setitem__(name, value)
        if name in self.given and name not in self.originals:
            self.originals[name] = value  # the course's setup cell defining it
            return
        if not (name in self.given or name in self.bound
                or (name in self.student and isinstance(before, StudentFunction))):
            return  # not a function the kernel has: nothing to mirror
        if self._original(name, value):
            if name in self.bound:
                self.bound.discard(name)
                self.connection.request({"op": "unbind", "name": name})
        elif callable(value):
            self.bound.add(name)
            self.connection.request({"op": "bind", "name": name,
                                     "value": encode(value, callables=self.connection.callbacks)})


def _cpu_clock_of_peer(sock: socket.socket) -> int | None:
    """The CPU-time clock of the process at the other end of a Unix socket: the kernel's pid comes
    from the operating system (SO_PEERCRED, translated into this PID namespace), not from the
    kernel, and its clock is read from outside it. None where the system refuses."""
    import ctypes
    import struct

    try:
        pid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        clock = ctypes.c_int()
        if pid <= 0 or ctypes.CDLL(None).clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
            return None
        time.clock_gettime(clock.value)
        return clock.value
    except (OSError, AttributeError):
        return None


def _cpu_time_with_student(connection: Connection):
    """time.process_time for the checks: the checker's CPU time plus the student's kernel's, both
    measured by this process (the kernel's clock is read from outside it: nothing the student's
    code says about itself counts). The kernel's time includes serving the calls, a cost per call
    that a timing check cancels by comparing differences."""
    own = time.process_time
    clock = connection.kernel_clock

    def process_time() -> float:
        try:
            kernel = time.clock_gettime(clock) if clock is not None else 0.0
        except OSError:  # the kernel is gone: its time no longer grows
            kernel = 0.0
        return own() + kernel
    return process_time


def student_namespace(connection: Connection, names: list[str], at: str | None = None) -> dict:
    """name → the student's value (plain data, as it was where test cell ``at`` stands) or a
    StudentFunction; undefined names are left out."""
    found = {}
    for name in names:
        reply = connection.request({"op": "describe", "name": name, "at": at})
        if reply.get("callable"):
            found[name] = StudentFunction(connection, name)
        elif "value" in reply:
            try:
                found[name] = decode(reply["value"])
            except ValueError as refused:  # costs the checks of this name only
                found[name] = Opaque(f"refused ({refused})")
        elif "raised" in reply:
            found[name] = Opaque(f"unreadable ({': '.join(reply['raised'])})")
    return found


class _CellTimeout(Exception):
    pass


def _alarm(*_):
    raise _CellTimeout()


def _mark(progress: str | None, grade_id: str) -> None:
    """Say which test cell runs now, so the grader can stop a cell stuck where no alarm reaches
    (inside a C function) and run the checks again without it."""
    if progress:
        with open(progress, "w") as handle:
            handle.write(grade_id)


def run_cells(cells: list[CourseCell], namespace: dict, cell_timeout: float, refresh=None,
              skip: dict[str, str] | None = None, progress: str | None = None) -> dict[str, dict]:
    """Run the course's cells in order; grade_id → {"passed", "outputs"} for each test cell.

    A setup cell (the instructor's own code) that fails is ignored; a test cell passes when it
    raises nothing, as in nbgrader. Test cells in ``skip`` (grade_id → why) fail without running.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.show = lambda *a, **k: None
    verdicts = {}
    signal.signal(signal.SIGALRM, _alarm)
    for cell in cells:
        printed = io.StringIO()
        error = None
        if cell.is_test and cell.grade_id in (skip or {}):
            why = skip[cell.grade_id]
            verdicts[cell.grade_id] = {"passed": False, "outputs": [
                {"output_type": "error", "ename": "CellTimeoutError", "evalue": why,
                 "traceback": [f"CellTimeoutError: {why}"]}]}
            continue
        if not cell.is_test and not cell.needed:
            continue  # a demonstration no test cell depends on
        if cell.is_test:
            _mark(progress, cell.grade_id)
        if cell.is_test and refresh is not None:
            try:
                namespace.update(refresh(cell.grade_id))
            except StudentGone:
                pass
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        try:
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                exec(compile(cell.source, f"<{cell.grade_id or 'cell'}>", "exec"), namespace)
        except _CellTimeout:
            error = ("CellTimeoutError", f"the check ran longer than {cell_timeout:g} s")
        except StudentGone as gone:
            error = ("StudentKernelGone", str(gone))
        except BaseException as raised:  # noqa: BLE001 - a failed check is a verdict, not a crash
            error = (type(raised).__name__, str(raised))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            plt.close("all")
        if not cell.is_test:
            continue
        outputs = []
        if printed.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout", "text": printed.getvalue()[:20000]})
        if error:
            outputs.append({"output_type": "error", "ename": error[0], "evalue": error[1],
                            "traceback": [f"{error[0]}: {error[1]}"]})
        verdicts[cell.grade_id] = {"passed": error is None, "outputs": outputs}
    return verdicts


def _open_memos(memos: dict[str, dict]) -> dict[str, tuple[dict, set]]:
    """Install the memo tables the task carries ("module:name" → entries) where the check library
    looks for them; returns each table with the keys it started with."""
    tables = {}
    for where, entries in memos.items():
        module, _, name = where.partition(":")
        try:
            target = importlib.import_module(module)
        except ImportError:
            continue
        table = dict(entries)
        setattr(target, name, table)
        tables[where] = (table, set(table))
    return tables


def check(task: dict) -> dict:
    """Run one notebook's checks against the student kernel serving at task["socket"]. Returns
    {"verdicts": grade_id → verdict, "memos": the entries this notebook's checks added to each memo
    table of task["memos"] (`autograde.trusted.run.MEMOS`)}."""
    memos = _open_memos(task.get("memos", {}))
    call_timeout = task.get("call_timeout", 60.0)
    # The grader asks the idle kernel to open its socket just before this checker starts: a kernel
    # that has not opened it within one call's limit (and at most 30 s) is not answering, and
    # waiting longer proves nothing more (it is run once more in a fresh kernel, `run.UNANSWERED`).
    connection = Connection(task["socket"], call_timeout, connect_timeout=min(30.0, call_timeout))
    try:
        names = task["student_names"]
        cells = [CourseCell.from_wire(c) for c in task["cells"]]
        given = {n for cell in cells if not cell.is_test for n in cell.defines}
        namespace = Namespace(connection, given, names)
        namespace.update({"__name__": "__main__", "__builtins__": builtins})
        namespace.update(student_namespace(connection, names))
        time.process_time = _cpu_time_with_student(connection)  # this process checks one notebook only
        verdicts = run_cells(cells, namespace, task.get("cell_timeout", 30.0),
                             refresh=lambda grade_id: student_namespace(connection, names, at=grade_id),
                             skip=task.get("skip"), progress=task.get("progress"))
        learned = {where: {k: v for k, v in table.items() if k not in known}
                   for where, (table, known) in memos.items()}
        return {"verdicts": verdicts, "memos": learned}
    finally:
        connection.close()
