"""Plain data between the untrusted (student) process and the trusted (checker) process, as JSON.

Only numbers, strings, lists, tuples, dicts, numeric NumPy arrays, SymPy objects (as srepr
text, rebuilt by a whitelist parser) and callback ids travel. Anything else arrives as an
`Opaque` placeholder that equals nothing and is not a number. A SymPy object too large to be
checked safely (its text too long, or beyond the parser's bounds on numbers, exponents, depth
and size once evaluated) arrives as a `Refused` placeholder, refused before anything is built
from it; it carries a stable tag that the check library shows to the student.

The encoder never calls methods of objects it does not know: it dispatches on exact types
(``type(x)``, which an object cannot fake, unlike ``isinstance`` and ``__class__``) and reads
subclasses of builtins through the builtin's own methods, so an overridden ``__eq__``,
``__len__``, ``__iter__``, ``__float__`` or ``tolist`` is never run. Only ``repr`` of an
opaque object and ``srepr`` of a SymPy object are called, guarded. Yet the encoder runs in the
student's process, where it can be replaced: the decoder is the security boundary. It checks
the schema strictly and builds values only from whitelisted types.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import sympy as sp
from sympy.matrices import MatrixBase

from autograde.trusted.sympy_parser import MAX_INT_DIGITS, MAX_TEXT_LENGTH, ExpressionTooLarge, UnsafeExpression, parse_srepr


class TooLarge(ValueError):
    """The value is bigger or deeper than the limits allow."""


class MalformedData(ValueError):
    """The data does not follow the schema of `encode`."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 64  # nesting of lists, tuples and dicts
    max_elements: int = 1_000_000  # values in all, counting every array element
    max_string_length: int = 100_000  # characters of one string
    max_bytes: int = 32_000_000  # characters of the JSON text, and of all strings together
    max_int_digits: int = MAX_INT_DIGITS  # of any integer, also inside SymPy objects
    max_srepr_length: int = MAX_TEXT_LENGTH  # characters of the srepr text of one SymPy object


class Opaque:
    """Stands for a value that could not be sent as plain data: equal to nothing, not a number."""

    __slots__ = ("type_name", "repr_text")

    def __init__(self, type_name: str, repr_text: str = ""):
        self.type_name, self.repr_text = type_name, repr_text

    def __repr__(self) -> str:
        return f"<an object of type {self.type_name!r} that cannot be checked>"

    def __eq__(self, other) -> bool:
        return False

    def __ne__(self, other) -> bool:
        return True

    __hash__ = object.__hash__

    def _refuse(self, *args):
        raise TypeError(repr(self))

    # Not a number, and not true or false: `if answer:` must not pass for it either.
    __float__ = __int__ = __index__ = __complex__ = __bool__ = _refuse


#: The tag of every answer refused as too large; the check library puts it in the failure message.
TOO_LARGE_TAG = "expression-too-large"


class Refused(Opaque):
    """Stands for a SymPy object that was refused before anything was built from it, because
    checking it could exhaust the checker. Like `Opaque` it equals nothing and is not a number;
    ``refusal_tag`` and ``refusal_reason`` are what the check library reports instead of a
    wrong type."""

    __slots__ = ("refusal_tag", "refusal_reason")

    def __init__(self, reason: str):
        reason = " ".join(str(reason).split())[:300]  # one line: nothing in it can pose as a [tag] line
        super().__init__("refused SymPy object", reason)
        self.refusal_tag, self.refusal_reason = TOO_LARGE_TAG, reason

    def __repr__(self) -> str:
        return f"<a SymPy object refused as too large to check: {self.refusal_reason}>"


_SAFE_INT = 2 ** 53  # larger integers travel as text, which every JSON reader keeps exact
_NUMPY_SCALARS = {np.dtype(code).type for code in "?bhilqBHILQefd"}
_DTYPES = {"bool": (bool,), "float16": (float, int), "float32": (float, int), "float64": (float, int),
           **{f"{sign}int{bits}": (int,) for sign in ("", "u") for bits in (8, 16, 32, 64)}}
_DTYPE_NAMES = {np.dtype(name): name for name in _DTYPES}
_FLOAT_WORDS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_INT_TEXT = re.compile(r"-?[0-9]+")
_TYPE_NAME = type.__dict__["__name__"].__get__  # a class's own name, even if its metaclass lies


def encode(value: Any, *, callables: Optional[dict] = None, limits: Limits = Limits()) -> Any:
    """``value`` as JSON-able plain data; callables are registered in ``callables`` when given."""
    return _Encoder(callables, limits).encode(value, 1)


def decode(data: Any, *, callback: Optional[Callable[[int], Any]] = None, limits: Limits = Limits()) -> Any:
    """The value that `encode` turned into ``data``; ``callback(id)`` stands in for a callable."""
    return _Decoder(callback, limits).decode(data, 1)


def dumps(value: Any, *, callables: Optional[dict] = None, limits: Limits = Limits()) -> str:
    """`encode` and write as JSON text of at most ``limits.max_bytes`` characters."""
    text = json.dumps(encode(value, callables=callables, limits=limits), allow_nan=False, separators=(",", ":"))
    if len(text) > limits.max_bytes:
        raise TooLarge(f"the value takes {len(text)} characters as JSON; at most {limits.max_bytes} are sent")
    return text


def loads(text: str, *, callback: Optional[Callable[[int], Any]] = None, limits: Limits = Limits()) -> Any:
    """Read JSON text written by `dumps` and `decode` it."""
    if type(text) is not str:
        raise MalformedData(f"expected JSON text, got a {type(text).__name__}")
    if len(text) > limits.max_bytes:
        raise TooLarge(f"the data has {len(text)} characters; at most {limits.max_bytes} are accepted")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise TooLarge("the data is nested too deeply") from None
    except ValueError as exc:
        raise MalformedData(f"not JSON: {str(exc)[:200]}") from None
    return decode(data, callback=callback, limits=limits)


def _refuse_constant(word: str):
    raise MalformedData(f"{word} is not plain JSON; non-finite numbers travel as {{'__float__': ...}}")


class _Budget:
    """Counts elements and characters against the limits; ``what`` names the value or the data."""

    def __init__(self, limits: Limits, what: str):
        self.limits, self.what = limits, what
        self.int_bound = 10 ** limits.max_int_digits
        self.elements = self.characters = 0

    def spend(self, elements: int, characters: int = 0) -> None:
        self.elements += elements
        self.characters += characters
        self.check_room(0)
        if self.characters > self.limits.max_bytes:
            raise TooLarge(f"the {self.what} holds more than {self.limits.max_bytes} characters of text")

    def check_room(self, elements: int) -> None:
        """Fail early, before ``elements`` more are read one by one."""
        if self.elements + elements > self.limits.max_elements:
            raise TooLarge(f"the {self.what} holds more than {self.limits.max_elements} elements")

    def check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise TooLarge(f"the {self.what} is nested deeper than {self.limits.max_depth} levels")

    def integer(self, x: int) -> int:
        if not -self.int_bound < x < self.int_bound:
            raise TooLarge(f"an integer has more than {self.limits.max_int_digits} digits")
        return x

    def string(self, x: str) -> str:
        if len(x) > self.limits.max_string_length:
            raise TooLarge(f"a string has {len(x)} characters; at most {self.limits.max_string_length} travel")
        self.spend(0, len(x))
        return x


class _Encoder(_Budget):
    def __init__(self, callables: Optional[dict], limits: Limits):
        super().__init__(limits, "value")
        self.callables = callables
        self.open_containers: set[int] = set()

    def encode(self, x: Any, depth: int) -> Any:
        self.spend(1)
        kind = type(x)
        if x is None or kind is bool:
            return x
        if kind is int:
            return self.integer(x)
        if kind is float:
            return _float(x)
        if kind is str:
            return self.string(x)
        if kind in _NUMPY_SCALARS:  # exact NumPy types: their conversions are NumPy's own
            if kind is np.bool_:
                return bool(x)
            return self.integer(int(x)) if x.dtype.kind in "iu" else _float(float(x))
        if issubclass(kind, np.ndarray):
            return self.array(np.ndarray.view(x, np.ndarray), x)
        if issubclass(kind, (sp.Basic, MatrixBase)):
            return self.sympy(x)
        # Subclasses of builtins (namedtuple, defaultdict, IntEnum ...): read through the
        # builtin's own methods, never through overrides.
        if issubclass(kind, int):
            return self.integer(int.__index__(x))
        if issubclass(kind, float):
            return _float(float.__float__(x))
        if issubclass(kind, str):
            return self.string(str.__str__(x))
        if issubclass(kind, (list, tuple, dict)):
            return self.container(x, kind, depth)
        if self.callables is not None and callable(x):
            number = len(self.callables)
            while number in self.callables:  # the registry may be shared, and pruned
                number += 1
            self.callables[number] = x
            return {"__callback__": number}
        return self.opaque(x)

    def integer(self, x: int) -> Any:
        if -_SAFE_INT <= x <= _SAFE_INT:
            return x
        return {"__int__": str(super().integer(x))}

    def container(self, x: Any, kind: type, depth: int) -> Any:
        if id(x) in self.open_containers:
            raise TooLarge("the value contains itself")
        self.check_depth(depth + 1)
        self.open_containers.add(id(x))
        try:
            if issubclass(kind, dict):
                pairs = list(dict.items(x))
                self.check_room(2 * len(pairs))
                return {"__dict__": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in pairs]}
            items = list.copy(x) if issubclass(kind, list) else tuple.__getitem__(x, slice(None))
            self.check_room(len(items))
            encoded = [self.encode(item, depth + 1) for item in items]
            return encoded if issubclass(kind, list) else {"__tuple__": encoded}
        finally:
            self.open_containers.discard(id(x))

    def array(self, array: np.ndarray, original: Any) -> Any:
        """``array`` is a plain ndarray view of the data, so no subclass method runs."""
        dtype = array.dtype
        name = _DTYPE_NAMES.get(dtype) or dtype.name  # dtype.name is slow to compute; most arrays are native
        if name not in _DTYPES or dtype.fields is not None:
            return self.opaque(original)
        self.spend(array.size)
        flat = array.ravel().tolist()
        if dtype.kind == "f" and not np.isfinite(array).all():
            flat = [_float(v) for v in flat]
        elif dtype.kind in "iu" and dtype.itemsize == 8:
            flat = [v if -_SAFE_INT <= v <= _SAFE_INT else {"__int__": str(v)} for v in flat]
        return {"__ndarray__": {"dtype": name, "shape": list(array.shape), "data": flat}}

    def sympy(self, x: Any) -> Any:
        try:
            text = sp.srepr(x)
        except Exception:  # noqa: BLE001
            return self.opaque(x)
        if len(text) > self.limits.max_srepr_length:  # checked as a refused answer, not lost with its neighbours
            return {"__refused__": f"its text takes {len(text)} characters; at most "
                                   f"{self.limits.max_srepr_length} are accepted"}
        self.spend(0, len(text))
        return {"__sympy__": text}

    def opaque(self, x: Any) -> dict:
        try:
            text = repr(x)
            text = str.__str__(text)[:200]
        except Exception:  # noqa: BLE001
            text = ""
        return {"__opaque__": _TYPE_NAME(type(x))[:100], "repr": text}


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else "inf" if x > 0 else "-inf"}


class _Decoder(_Budget):
    def __init__(self, callback: Optional[Callable[[int], Any]], limits: Limits):
        super().__init__(limits, "data")
        self.callback = callback
        self.tags = {"__int__": self.integer_text, "__float__": self.float_word, "__tuple__": self.tuple_of,
                     "__dict__": self.mapping, "__ndarray__": self.array, "__sympy__": self.sympy,
                     "__refused__": self.refused, "__callback__": self.callback_stub}

    def decode(self, x: Any, depth: int) -> Any:
        self.check_depth(depth)
        self.spend(1)
        kind = type(x)
        if x is None or kind is bool:
            return x
        if kind is int:
            return self.integer(x)
        if kind is float:
            if not math.isfinite(x):
                raise MalformedData("a plain number is not finite; nan and inf travel as {'__float__': ...}")
            return x
        if kind is str:
            return self.string(x)
        if kind is list:
            return self.sequence(x, depth)
        if kind is not dict:
            raise MalformedData(f"a {kind.__name__} is not plain JSON data")
        if len(x) == 2 and "__opaque__" in x and "repr" in x:
            return self.opaque(x)
        if len(x) != 1:
            raise MalformedData(f"a tagged object has one key, got {len(x)}")
        ((tag, payload),) = x.items()
        if tag not in self.tags:
            raise MalformedData(f"unknown tag {str(tag)[:40]!r}")
        return self.tags[tag](payload, depth)

    def sequence(self, x: list, depth: int) -> list:
        self.check_room(len(x))
        return [self.decode(item, depth + 1) for item in x]

    def integer_text(self, payload: Any, depth: int) -> int:
        digits = self.limits.max_int_digits + 1  # and a sign
        if type(payload) is not str or len(payload) > digits or not _INT_TEXT.fullmatch(payload):
            raise MalformedData(f"__int__ needs the decimal digits of an integer, got {str(payload)[:40]!r}")
        return self.integer(int(payload))

    def float_word(self, payload: Any, depth: int) -> float:
        if type(payload) is not str or payload not in _FLOAT_WORDS:
            raise MalformedData(f"__float__ is one of nan, inf, -inf, got {str(payload)[:40]!r}")
        return _FLOAT_WORDS[payload]

    def tuple_of(self, payload: Any, depth: int) -> tuple:
        if type(payload) is not list:
            raise MalformedData("__tuple__ needs a list")
        return tuple(self.sequence(payload, depth))

    def mapping(self, payload: Any, depth: int) -> dict:
        if type(payload) is not list or any(type(pair) is not list or len(pair) != 2 for pair in payload):
            raise MalformedData("__dict__ needs a list of [key, value] pairs")
        self.check_room(2 * len(payload))
        result = {}
        for key, value in payload:
            key = self.decode(key, depth + 1)
            try:
                if key in result:
                    raise MalformedData(f"the key {key!r:.60} appears twice")
            except TypeError:
                raise MalformedData(f"a {type(key).__name__} cannot be a dict key") from None
            result[key] = self.decode(value, depth + 1)
        return result

    def array(self, payload: Any, depth: int) -> np.ndarray:
        if type(payload) is not dict or set(payload) != {"dtype", "shape", "data"}:
            raise MalformedData("__ndarray__ needs exactly dtype, shape and data")
        dtype, shape, data = payload["dtype"], payload["shape"], payload["data"]
        if type(dtype) is not str or dtype not in _DTYPES:
            raise MalformedData(f"dtype {str(dtype)[:40]!r} is not one of {', '.join(sorted(_DTYPES))}")
        if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
            raise MalformedData("shape needs a list of at most 32 sizes")
        if type(data) is not list:
            raise MalformedData("data needs a flat list")
        size = math.prod(shape)
        self.check_room(size)
        if size != len(data):
            raise MalformedData(f"shape {shape} holds {size} elements, but data has {len(data)}")
        self.spend(size)
        if dtype.startswith("float") and all(type(value) is float for value in data):
            fast = np.array(data, dtype=np.float64)  # the common case, checked whole
            if np.isfinite(fast).all():
                return fast.astype(dtype).reshape(shape)
        values = [self.element(value, _DTYPES[dtype]) for value in data]
        try:
            return np.array(values, dtype=dtype).reshape(shape)
        except (OverflowError, ValueError) as exc:
            raise MalformedData(f"the data does not fit dtype {dtype}: {str(exc)[:100]}") from None

    def element(self, value: Any, kinds: tuple) -> Any:
        kind = type(value)
        if kind in kinds and (kind is not float or math.isfinite(value)):
            return self.integer(value) if kind is int else value
        if kind is dict and len(value) == 1:
            ((tag, payload),) = value.items()
            if tag == "__float__" and float in kinds:
                return self.float_word(payload, 0)
            if tag == "__int__" and int in kinds:
                return self.integer_text(payload, 0)
        raise MalformedData(f"{str(value)[:40]} is not an element of a {'/'.join(k.__name__ for k in kinds)} array")

    def sympy(self, payload: Any, depth: int) -> sp.Basic:
        if type(payload) is not str:
            raise MalformedData("__sympy__ needs srepr text")
        try:
            return parse_srepr(payload, max_length=self.limits.max_srepr_length,
                               max_int_digits=self.limits.max_int_digits)
        except ExpressionTooLarge as exc:  # costs the checks of this value only
            return Refused(str(exc))
        except UnsafeExpression as exc:
            raise MalformedData(f"the SymPy object was refused: {exc}") from exc

    def refused(self, payload: Any, depth: int) -> Refused:
        """The sender refused the object itself (its text too long): whatever it says, a refusal."""
        if type(payload) is not str:
            raise MalformedData("__refused__ needs the reason as text")
        return Refused(payload)

    def callback_stub(self, payload: Any, depth: int) -> Any:
        if type(payload) is not int or payload < 0:
            raise MalformedData("__callback__ needs a non-negative integer id")
        if self.callback is None:
            raise MalformedData("a callable arrived where none was expected")
        return self.callback(payload)

    def opaque(self, x: dict) -> Opaque:
        type_name, text = x["__opaque__"], x["repr"]
        if type(type_name) is not str or type(text) is not str:
            raise MalformedData("__opaque__ needs a type name and a repr text")
        return Opaque(type_name[:100], text[:200])
