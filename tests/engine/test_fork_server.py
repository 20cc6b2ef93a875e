"""Kernels from the fork server: ready without jupyter_client's fixed wait, and nothing they
print before or after is lost or mixed up."""
import asyncio

import pytest

from autograde.engine.fork_server import ForkServer, ReadyKernelClient, fresh_kernel


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
