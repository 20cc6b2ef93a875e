"""The untrusted end of trusted grading: serves the student's definitions, as plain data only.

After the student's cells (never the test cells) ran in their kernel, the grader executes
``serve(path)`` there. The trusted checker connects to the Unix socket at ``path`` and asks for
names (``describe``) or calls (``call``); arguments arrive and results leave through the plain
data codec, so nothing but numbers, strings, arrays and SymPy text crosses. Functions passed
as arguments (a test's ``f``) stay in the trusted process and are called back over the socket.

Nothing here is trusted: the student may have replaced any of it. It cannot matter, because
the student learns only the inputs of each call and answers only with plain data.
"""
from __future__ import annotations

import json
import os
import socket
import warnings

_SNAPSHOTS: dict[str, dict] = {}


def _kept(value):
    """A copy of ``value`` that later cells cannot change. SymPy objects are immutable and are kept
    as they are: copying one rebuilds it, and rebuilding an unevaluated 2**(10**9) evaluates it."""
    import copy

    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_kept(v) for v in value)
    if type(value) is dict:
        return {k: _kept(v) for k, v in value.items()}
    if type(value).__module__.startswith("sympy."):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - an uncopyable value is checked as it is at the end
        return value


def snapshot(label: str, names: list[str]) -> None:
    """Keep copies of the student's values as they are now, where test cell ``label`` stands:
    a later cell that changes a value does not change what that test cell checks."""
    namespace = _namespace()
    _SNAPSHOTS[label] = {name: _kept(namespace[name]) for name in names
                         if name in namespace and not callable(namespace[name])}


def _namespace() -> dict:
    try:
        return get_ipython().user_ns  # noqa: F821 - defined inside an IPython kernel
    except NameError:
        import __main__

        return vars(__main__)


class _Channel:
    def __init__(self, stream):
        self.stream = stream

    def send(self, message: dict) -> None:
        self.stream.write(json.dumps(message) + "\n")
        self.stream.flush()

    def receive(self) -> dict | None:
        line = self.stream.readline()
        return json.loads(line) if line else None


def _floating_point_warnings():
    """NumPy's overflow and invalid-value warnings on, as the check library has them."""
    try:
        import numpy

        return numpy.errstate(all="warn", under="ignore")
    except ImportError:
        import contextlib

        return contextlib.nullcontext()


def _error(error: BaseException) -> dict:
    return {"raised": [type(error).__name__, str(error)[:2000]]}


def serve(path: str, timeout: float = 600.0) -> None:
    from autograde.trusted.codec import decode, encode

    namespace = _namespace()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.lexists(path):  # served before, for a checker the grader stopped
        os.unlink(path)
    listener.bind(path)
    os.chmod(path, 0o666)
    listener.listen(1)
    listener.settimeout(timeout)
    connection, _ = listener.accept()
    connection.settimeout(None)
    channel = _Channel(connection.makefile("rw", encoding="utf-8"))

    calls: list[list] = []  # the arguments of the calls in progress, innermost last
    saved: dict = {}  # given names a check rebound, with the kernel's own value

    def callback(number: int):
        def trusted_function(*args, **kwargs):
            message = {"op": "callback", "id": number, "args": encode(list(args)), "kwargs": encode(kwargs)}
            if calls:  # the checker's copy of the call's arrays follows what the student did to them
                message["args_now"] = encode(calls[-1])
            channel.send(message)
            while True:  # the checker may call back into this kernel before it answers
                reply = channel.receive()
                if reply is None:
                    raise SystemExit("the grader went away")
                if "op" not in reply:
                    break
                handle(reply)
            if "raised" in reply:
                raise RuntimeError(": ".join(reply["raised"]))
            return decode(reply["value"])
        return trusted_function

    def handle(request: dict) -> None:
        name = request.get("name", "")
        try:
            if request["op"] == "describe":
                kept = _SNAPSHOTS.get(request.get("at"), {})
                if name in kept:
                    channel.send({"value": encode(kept[name])})
                elif name not in namespace:
                    channel.send({"missing": True})
                elif callable(namespace[name]):
                    channel.send({"callable": True})
                else:
                    channel.send({"value": encode(namespace[name])})
            elif request["op"] == "bind":  # a check swaps a given function for its own (to count calls)
                saved.setdefault(name, namespace.get(name))
                namespace[name] = decode(request["value"], callback=callback)
                channel.send({"value": None})
            elif request["op"] == "unbind":
                if name in saved:
                    namespace[name] = saved.pop(name)
                channel.send({"value": None})
            elif request["op"] == "call":
                args = decode(request["args"], callback=callback)
                kwargs = decode(request["kwargs"], callback=callback)
                function = saved[name] if name in saved else namespace[name]  # the student's own, even if bound
                with warnings.catch_warnings(record=True) as caught, _floating_point_warnings():
                    warnings.simplefilter("always")
                    calls.append(args)
                    try:
                        result = function(*args, **kwargs)
                    except BaseException as error:  # noqa: BLE001 - the student's error goes back as data
                        channel.send(_error(error))
                        return
                    finally:
                        calls.pop()
                said = [[w.category.__name__, str(w.message)[:500]] for w in caught[:20]]
                channel.send({"value": encode(result), "args_after": encode(args), "warnings": said})
        except BaseException as error:  # noqa: BLE001 - an unencodable result, say
            channel.send(_error(error))

    while True:
        request = channel.receive()
        if request is None or request.get("op") == "exit":
            break
        handle(request)
    connection.close()
    listener.close()
