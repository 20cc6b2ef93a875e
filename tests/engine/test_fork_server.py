"""Fork servers kept from one grading run to the next, and the kernels they fork: ready without
jupyter_client's fixed wait, and nothing they print first is lost."""
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograde.engine.fork_server import (SANDBOX_VARIABLES, ForkServer, ReadyKernelClient, fresh_kernel, kept_servers,
                                          server_environment)


@pytest.fixture(scope="module")
def server():
    with ForkServer(preload=["numpy"]) as forked:
        yield forked


def _run(server, tmp_path, before_ready=None):
    """Start a kernel, wait until ready, run one cell; return (client type, its stdout)."""
    async def go():
        async with fresh_kernel(server, tmp_path) as km:
            kc = km.client()
            kc.start_channels()
            try:
                if before_ready:
                    before_ready(kc)
                await kc.wait_for_ready(timeout=60)
                outputs = []
                reply = await kc.execute_interactive("print('first', 6 * 7)", timeout=30,
                                                     output_hook=outputs.append)
                assert reply["content"]["status"] == "ok"
                text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
                return type(kc), text
            finally:
                kc.stop_channels()

    return asyncio.run(go())


def test_a_fresh_kernel_is_ready_and_its_first_output_arrives(server, tmp_path):
    for attempt in range(5):  # each start races the kernel's binding of its sockets
        folder = tmp_path / str(attempt)
        folder.mkdir()
        kind, text = _run(server, folder)
        assert kind is ReadyKernelClient
        assert text == "first 42\n", f"start {attempt}: the first cell's output was {text!r}"


def test_answers_to_earlier_kernel_info_requests_do_not_confuse_the_wait(server, tmp_path):
    """Replies to requests sent before the wait are skipped; the first cell still gets its output."""
    def ask_twice(kc):
        kc.kernel_info()
        kc.kernel_info()

    kind, text = _run(server, tmp_path, ask_twice)
    assert text == "first 42\n"


class _Channel:
    """A channel that hands out the given messages, then has nothing (as jupyter_client's does)."""

    def __init__(self, messages):
        self.messages = list(messages)

    async def get_msg(self, timeout=None):
        from queue import Empty

        if not self.messages:
            raise Empty
        return self.messages.pop(0)


def _message(msg_type: str, parent: str, state: str | None = None) -> dict:
    return {"msg_type": msg_type, "parent_header": {"msg_id": parent},
            "content": {"execution_state": state} if state else {}}


def test_the_wait_takes_only_the_answers_to_its_own_request():
    """`ReadyKernelClient._answer`: a reply or an "idle" that answers an earlier request (its
    parent is another message) is not the kernel answering this one."""
    shell = _Channel([_message("kernel_info_reply", "earlier"), _message("kernel_info_reply", "mine")])
    found = asyncio.run(ReadyKernelClient._answer(shell, "mine", "kernel_info_reply", 1.0))
    assert found["parent_header"]["msg_id"] == "mine"
    iopub = _Channel([_message("status", "earlier", "idle"), _message("status", "mine", "busy")])
    assert asyncio.run(ReadyKernelClient._answer(iopub, "mine", "status", 1.0, idle=True)) is None
    iopub = _Channel([_message("status", "mine", "busy"), _message("status", "mine", "idle")])
    assert asyncio.run(ReadyKernelClient._answer(iopub, "mine", "status", 1.0, idle=True))["content"] == \
        {"execution_state": "idle"}


def _pids(servers) -> list[int]:
    return [s._process.pid for s in servers] + [servers[0].checker._process.pid]


@pytest.fixture
def own_pool(monkeypatch):
    """An empty pool of kept servers for this test alone (the servers this worker kept for its
    other tests would serve these runs too); what the test leaves in it is closed after. Its
    servers preload the kernel machinery only: these tests are about which servers a run gets."""
    from autograde.engine import fork_server

    pool: list = []
    monkeypatch.setattr(fork_server, "_idle", pool)
    monkeypatch.setattr(fork_server, "PRELOAD", ["json"])
    yield
    for _, server in pool:
        server.close()


def test_a_run_uses_the_servers_an_earlier_run_kept_never_a_dead_or_busy_one(own_pool):
    with kept_servers(1, sandboxed=False) as first:
        kept = _pids(first)
    with kept_servers(1, sandboxed=False) as second:
        assert _pids(second) == kept  # the kernels' server and the checker's, started once
        with kept_servers(1, sandboxed=False) as meanwhile:  # another run at the same time
            assert not set(_pids(meanwhile)) & set(kept)
        second[0]._process.kill()
        second[0]._process.wait()
    with kept_servers(1, sandboxed=False) as third:
        assert third[0].running() and _pids(third)[0] != kept[0]  # the dead one was not kept


def test_a_run_with_another_environment_gets_servers_of_its_own(own_pool, monkeypatch):
    with kept_servers(1, sandboxed=False) as first:
        kept = _pids(first)
    monkeypatch.setenv("BACKPROP_SOMETHING_ELSE", "1")  # an unsandboxed server hands it to its kernels
    with kept_servers(1, sandboxed=False) as other:
        assert not set(_pids(other)) & set(kept)


def test_the_step_a_caller_is_at_does_not_keep_a_server_from_its_next_run(own_pool, monkeypatch):
    """pytest rewrites PYTEST_CURRENT_TEST before every test: a server kept under one serves the next."""
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/a.py::test_one (call)")
    with kept_servers(1, sandboxed=False) as first:
        kept = _pids(first)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/a.py::test_two (setup)")
    with kept_servers(1, sandboxed=False) as second:
        assert _pids(second) == kept


def test_a_sandboxed_server_sees_only_its_own_variables(monkeypatch):
    """So a variable it never receives does not keep it from a run (the key is what it sees)."""
    monkeypatch.setenv("BACKPROP_SOMETHING_ELSE", "1")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert server_environment(True) == {k: v for k, v in os.environ.items() if k in SANDBOX_VARIABLES}
    assert server_environment(True)["PATH"] == "/usr/bin:/bin"
    assert server_environment(False)["BACKPROP_SOMETHING_ELSE"] == "1"
    assert "PYTEST_CURRENT_TEST" not in server_environment(False)


def test_a_package_star_preloads_every_module_of_the_course_package():
    """"backprop_course.*" in PRELOAD: the misconceptions the test cells import and the plots and
    widgets the notebooks import are loaded once in the server, not in every kernel and checker."""
    from autograde.engine.fork_server import PRELOAD
    from autograde.engine.fork_server_process import _expanded

    names = _expanded(PRELOAD)
    assert "backprop_course.*" not in names and {"numpy", "backprop_course", "backprop_course.checks"} <= set(names)
    assert {"backprop_course.misconceptions.single_path_backprop", "backprop_course.lab_widgets",
            "backprop_course.checks.symbolic"} <= set(names)
    assert _expanded(["no_such_package.*", "json"]) == ["json"]


def test_a_first_simplify_imports_nothing_the_server_has_not():
    """SymPy imports its physical units on the first ``simplify``: 0.23 s in every kernel and every
    checker of 02, each a fresh fork, unless the server has them (PRELOAD)."""
    code = ("import importlib, sys\nfrom autograde.engine.fork_server import PRELOAD\n"
            "from autograde.engine.fork_server_process import _expanded\n"
            "for name in _expanded(PRELOAD):\n    importlib.import_module(name)\n"
            "import sympy as sp\nbefore = set(sys.modules)\nx = sp.Symbol('x')\n"
            "sp.simplify(sp.diff(1 / (1 + sp.exp(-x)), x) - sp.exp(-x) / (1 + sp.exp(-x))**2)\n"
            "print(sorted(set(sys.modules) - before))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "agg"})
    assert done.stdout.strip() == "[]", done.stdout + done.stderr[-1000:]


_DETACHED = """import os, time
reader, writer = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(writer, str(os.getpid()).encode())
        time.sleep(600)
    os._exit(0)
print(os.read(reader, 32).decode())
"""


def test_a_process_the_kernel_detached_does_not_outlive_the_kernel():
    """A sandboxed kernel's daemon (its own session, no parent) is killed with the kernel: every
    process of the slot's user is, by the server's killing helper (`_start_killer`)."""
    from autograde.engine import sandbox

    if sandbox.level() not in sandbox.ISOLATED:
        pytest.skip("no sandbox on this machine: kernels run as the grader's user")

    async def detach(server, folder):
        async with fresh_kernel(server, folder) as km:
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
                outputs = []
                await kc.execute_interactive(_DETACHED, timeout=30, output_hook=outputs.append)
                pid = int("".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"))
            finally:
                kc.stop_channels()
            assert server.alive(pid)  # detached and running, until the kernel is killed
        return pid

    with kept_servers(1) as (server,):
        assert server.uid is not None
        with tempfile.TemporaryDirectory(dir=server.scratch_root) as folder:  # where a sandboxed kernel may work
            pid = asyncio.run(detach(server, Path(folder)))
        # SIGKILL sent, it runs no more code; on a busy machine it may take a moment to be gone.
        deadline = time.monotonic() + 10
        while server.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.alive(pid)
