"""Unit tests of autograde.trusted.codec: plain data in JSON between untrusted and trusted processes.

Round trips of every supported type; objects that lie about themselves are sent as opaque
without any of their methods running; oversized, self-containing and malformed data is
refused with TooLarge or MalformedData; a SymPy object too large to check arrives as a Refused
placeholder that every check rejects with [expression-too-large], while every honest expression
of the course arrives intact.
"""
import collections
import enum
import json
import math
import numbers
import time
import tracemalloc

import matplotlib
import numpy as np
import pytest
import sympy as sp
from sympy.matrices import MatrixBase

import backprop_course.checks as checks
import backprop_course.checks.symbolic as symbolic
from autograde.course import release
from autograde.samples import answer_bank
from autograde.outputs.results import TAG
from autograde.trusted.codec import (TOO_LARGE_TAG, Limits, MalformedData, Opaque, Refused, TooLarge, decode,
                                     dumps, encode, loads)
from autograde.trusted.sympy_parser import UnsafeExpression

x = sp.Symbol("x", real=True)


def assert_same(sent, received):
    """Equal values of exactly the same types, NaN equal to NaN, the sign of zero kept."""
    assert type(received) is type(sent), (sent, received)
    if isinstance(sent, np.ndarray):
        assert (received.dtype, received.shape) == (sent.dtype, sent.shape)
        assert np.array_equal(received, sent, equal_nan=sent.dtype.kind == "f")
    elif isinstance(sent, float):
        assert received == sent or math.isnan(received) and math.isnan(sent)
        assert math.copysign(1, received) == math.copysign(1, sent)
    elif isinstance(sent, (list, tuple)):
        assert len(received) == len(sent)
        for a, b in zip(sent, received):
            assert_same(a, b)
    elif isinstance(sent, dict):
        assert list(received) == list(sent)
        for key in sent:
            assert_same(sent[key], received[key])
    else:
        assert received == sent


def through_json(value, **options):
    return loads(dumps(value, **options), **{k: v for k, v in options.items() if k == "limits"})


PLAIN = {
    "none": None, "true": True, "false": False, "zero": 0, "negative": -7,
    "largest-safe-int": 2 ** 53, "big-int": 2 ** 53 + 1, "big-negative-int": -(2 ** 70),
    "2000-digit-int": 10 ** 1999, "float": 0.1, "negative-zero": -0.0, "tiny": 5e-324,
    "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "empty-string": "", "unicode": "σ'(x) — ∂",
    "tag-lookalike-string": "__tuple__", "empty-list": [], "nested-list": [1, [2, [3, [4.5, None]]]],
    "empty-tuple": (), "one-tuple": (1,), "nested-tuple": (1, (2.0, "a"), [()]),
    "empty-dict": {}, "dict": {"loss": 0.25, "grads": [1.0, -2.0]},
    "tag-lookalike-dict": {"__ndarray__": 1}, "int-keys": {1: "one", -2: "minus two"},
    "tuple-keys": {(1, "b"): 3, (): None}, "symbol-keys": {x: 1.0, sp.Symbol("b"): 2.0},
    "mixed": [{"a": (1, [2, {"b": math.inf}])}, (None, True, 2 ** 64)],
}


@pytest.mark.parametrize("value", PLAIN.values(), ids=PLAIN.keys())
def test_plain_values_round_trip(value):
    """Every plain value, nested or not, comes back equal and of the same type, through JSON."""
    assert_same(value, decode(encode(value)))
    assert_same(value, through_json(value))


ARRAYS = {
    "0-d": np.array(3.5), "0-d-int": np.array(7), "empty": np.zeros(0), "empty-2d": np.zeros((0, 3)),
    "2x3-int64": np.arange(6).reshape(2, 3), "2x3x4-float32": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4),
    "non-finite-float16": np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float16),
    "bool": np.array([[True, False], [False, True]]), "int8": np.array([-128, 127], dtype=np.int8),
    "uint64-big": np.array([0, 2 ** 64 - 1, 2 ** 53 + 1], dtype=np.uint64),
    "int64-extremes": np.array([-(2 ** 63), 2 ** 63 - 1], dtype=np.int64),
    "uint8": np.arange(256, dtype=np.uint8), "int16": np.array([-3], dtype=np.int16),
    "uint16-uint32": np.array([[65535]], dtype=np.uint16), "int32": np.array([2 ** 31 - 1], dtype=np.int32),
    "uint32": np.array([2 ** 32 - 1], dtype=np.uint32), "float64-nan-grid": np.where(np.eye(3) > 0, np.nan, 1.0),
}


@pytest.mark.parametrize("array", ARRAYS.values(), ids=ARRAYS.keys())
def test_arrays_round_trip_with_dtype_and_shape(array):
    """Arrays of every whitelisted dtype and of several shapes come back equal, same dtype and shape."""
    assert_same(array, decode(encode(array)))
    assert_same(array, through_json(array))


def test_array_layouts_are_read_in_logical_order():
    """Fortran order, strided views and big-endian data arrive as the same logical array."""
    base = np.arange(12.0).reshape(3, 4)
    for array in (np.asfortranarray(base), base[::2, ::-1], base.T, base.astype(">f8")):
        received = decode(encode(array))
        assert received.dtype == np.float64 and np.array_equal(received, array)


@pytest.mark.parametrize("scalar, expected", [
    (np.float64(0.5), 0.5), (np.float32(1.5), 1.5), (np.float16(-2.0), -2.0), (np.float64(np.nan), math.nan),
    (np.int64(2 ** 62), 2 ** 62), (np.uint8(255), 255), (np.int32(-5), -5), (np.bool_(True), True),
])
def test_numpy_scalars_arrive_as_python_numbers(scalar, expected):
    assert_same(expected, decode(encode(scalar)))


@pytest.mark.parametrize("expr", [
    x, 1 / (1 + sp.exp(-x)), sp.Rational(1, 3), sp.Float("0.1", 30), sp.Integer(10) ** 300, sp.oo,
    sp.Derivative(sp.Function("f")(x), x), sp.ImmutableMatrix([[1, x], [x ** 2, 0]]),
], ids=["symbol", "sigmoid", "rational", "float", "big-integer", "oo", "derivative", "matrix"])
def test_sympy_objects_round_trip(expr):
    """SymPy objects travel as srepr text and come back equal."""
    data = encode(expr)
    assert set(data) == {"__sympy__"}
    assert through_json(expr) == expr


def test_mutable_matrix_arrives_immutable():
    received = decode(encode(sp.Matrix([[1, x]])))
    assert isinstance(received, sp.ImmutableMatrix) and received == sp.Matrix([[1, x]])


def test_builtin_subclasses_arrive_as_builtins():
    """namedtuple, defaultdict, IntEnum, str and float subclasses arrive as the plain builtin."""
    Point = collections.namedtuple("Point", "a b")
    Colour = enum.IntEnum("Colour", "RED GREEN")
    value = [Point(1, 2), collections.defaultdict(int, {"k": 1}), Colour.GREEN, np.str_("s"), np.float64(2.0)]
    assert_same([(1, 2), {"k": 1}, 2, "s", 2.0], decode(encode(value)))


def test_callables_are_registered_and_decoded_through_the_callback():
    """Callables get integer ids; decoding asks the callback for a stub for each id."""
    def model(v):
        return v

    callables = {}
    data = encode({"f": model, "fs": [len, model]}, callables=callables)
    assert callables == {0: model, 1: len, 2: model}
    received = decode(json.loads(json.dumps(data)), callback=lambda number: f"stub-{number}")
    assert received == {"f": "stub-0", "fs": ["stub-1", "stub-2"]}


def test_callables_without_a_registry_are_opaque():
    assert isinstance(decode(encode(len)), Opaque)


def test_a_callback_without_a_callback_function_is_malformed():
    with pytest.raises(MalformedData, match="none was expected"):
        decode({"__callback__": 0})


# --- opaque values ---------------------------------------------------------------------------

class Cheat:
    """Claims to be equal to everything and to be the number 1."""

    def __eq__(self, other):
        return True

    def __float__(self):
        return 1.0

    def __repr__(self):
        return "Cheat()"


def test_opaque_is_equal_to_nothing_and_not_a_number():
    received = decode(encode(Cheat()))
    assert repr(received) == "<an object of type 'Cheat' that cannot be checked>"
    assert received.repr_text == "Cheat()"
    assert not received == received and received != 1.0 and not 1.0 == received
    assert not isinstance(received, (numbers.Number, np.ndarray, sp.Basic))
    for convert in (float, int, complex, bool):
        with pytest.raises(TypeError, match="that cannot be checked"):
            convert(received)
    with pytest.raises(TypeError):
        np.asarray(received, dtype=float)
    assert received in {received}  # hashable, by identity


@pytest.mark.parametrize("value, type_name", [
    (1 + 2j, "complex"), (b"bytes", "bytes"), ({1, 2}, "set"), (np.array([1j]), "ndarray"),
    (np.array([object()], dtype=object), "ndarray"), (np.array(["s"]), "ndarray"),
    (np.zeros(2, dtype=[("a", "f8")]), "ndarray"), (np.complex128(1j), "complex128"),
], ids=["complex", "bytes", "set", "complex-array", "object-array", "string-array", "structured-array",
        "numpy-complex"])
def test_unsupported_values_are_opaque(value, type_name):
    received = through_json(value)
    assert isinstance(received, Opaque) and received.type_name == type_name


# --- objects that lie ------------------------------------------------------------------------

CALLS = []


def recorded(name, result=None):
    """A method that records being called and then misbehaves (raises, or answers ``result``)."""
    def method(self, *args, **kwargs):
        CALLS.append(name)
        if result is None:
            raise RuntimeError(f"{name} must not be called")
        return result
    return method


LIES = {name: recorded(name) for name in (
    "__eq__", "__ne__", "__lt__", "__float__", "__int__", "__index__", "__bool__", "__len__", "__iter__",
    "__getitem__", "__contains__", "__array__", "__hash__", "__call__", "tolist", "item", "keys", "items")}


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()
    yield
    CALLS.clear()


def test_liar_is_opaque_without_any_method_called():
    """An object whose every protocol method raises is sent as opaque, and none of them runs."""
    Liar = type("Liar", (), dict(LIES, __repr__=lambda self: "Liar()"))
    received = through_json([Liar()])
    assert isinstance(received[0], Opaque) and received[0].type_name == "Liar"
    assert CALLS == []


def test_liar_posing_as_float_through_class_attribute_is_opaque():
    """``__class__`` can fool isinstance, not type(): the impostor is opaque."""
    Impostor = type("Impostor", (), dict(LIES, __class__=property(lambda self: float)))
    assert isinstance(Impostor(), float)  # the lie works on isinstance ...
    assert isinstance(decode(encode(Impostor())), Opaque)  # ... but not here
    assert CALLS == []


def test_liar_with_a_lying_metaclass_name_is_named_truly():
    Meta = type("Meta", (type,), {"__name__": property(lambda cls: "float")})
    Liar = Meta("Liar", (), {})
    assert Liar.__name__ == "float"
    assert decode(encode(Liar())).type_name == "Liar"


def test_callable_liar_is_registered_without_being_called():
    Liar = type("Liar", (), LIES)
    callables = {}
    encode(Liar(), callables=callables)
    assert len(callables) == 1 and CALLS == []


def test_builtin_subclasses_with_lying_methods_send_their_true_contents():
    """Subclasses of float, int, str, list, tuple and dict are read through the builtin, not overrides."""
    lying_str = dict(LIES, __str__=recorded("__str__", "lie"))
    value = [type("F", (float,), LIES)(0.5), type("I", (int,), LIES)(3), type("S", (str,), lying_str)("s"),
             type("L", (list,), LIES)([1, 2]), type("T", (tuple,), LIES)((3, 4)), type("D", (dict,), LIES)({"k": 5})]
    assert_same([0.5, 3, "s", [1, 2], (3, 4), {"k": 5}], through_json(value))
    assert CALLS == []


def test_ndarray_subclass_with_lying_methods_sends_its_raw_data():
    """An ndarray subclass's tolist, __array__, ravel, view, dtype and __array_finalize__ are not used."""
    armed = []

    class Evil(np.ndarray):
        def __array_finalize__(self, obj):
            if armed:
                CALLS.append("__array_finalize__")

        dtype = property(lambda self: np.dtype("float64") if not armed else CALLS.append("dtype"))

    for name in ("tolist", "__array__", "ravel", "view", "__getitem__", "__len__", "__iter__", "astype",
                 "reshape", "__eq__", "__repr__", "flatten", "copy"):
        setattr(Evil, name, recorded(name))
    evil = np.arange(6.0).reshape(2, 3).view(Evil)
    armed.append(True)
    received = through_json(evil)
    assert CALLS == []
    assert type(received) is np.ndarray and np.array_equal(received, np.arange(6.0).reshape(2, 3))


def test_repr_that_raises_gives_an_empty_repr_text():
    Broken = type("Broken", (), {"__repr__": recorded("__repr__")})
    received = decode(encode(Broken()))
    assert received.type_name == "Broken" and received.repr_text == ""


# --- limits ----------------------------------------------------------------------------------

def test_list_containing_itself_is_too_large_not_a_recursion_error():
    loop = [1]
    loop.append(loop)
    with pytest.raises(TooLarge, match="contains itself"):
        encode(loop)
    table = {}
    table["self"] = table
    with pytest.raises(TooLarge, match="contains itself"):
        encode(table)


def test_deep_nesting_is_too_large():
    deep = None
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(TooLarge, match="nested deeper than 64"):
        encode(deep)
    with pytest.raises(TooLarge):
        loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TooLarge, match="nested deeper than 64"):
        loads("[" * 100 + "]" * 100)


def test_ten_million_elements_are_refused_quickly():
    """Huge arrays and lists are refused before they are converted element by element."""
    started = time.perf_counter()
    with pytest.raises(TooLarge, match="more than 1000000 elements"):
        encode(np.zeros(10 ** 7, dtype=np.uint8))
    with pytest.raises(TooLarge, match="more than 1000000 elements"):
        encode([0] * (2 * 10 ** 6))
    with pytest.raises(TooLarge, match="more than 1000000 elements"):
        decode({"__ndarray__": {"dtype": "uint8", "shape": [10 ** 7], "data": []}}, limits=Limits(max_elements=10 ** 6))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("value, limits, message", [
    ("s" * 11, Limits(max_string_length=10), "a string has 11 characters"),
    (["s" * 10] * 3, Limits(max_bytes=25), "more than 25 characters"),
    (10 ** 2000, Limits(), "more than 2000 digits"),
    (np.array([1, 2, 3]), Limits(max_elements=3), "more than 3 elements"),
    ({"a": 1, "b": 2}, Limits(max_elements=3), "more than 3 elements"),
], ids=["string", "total-text", "int-digits", "array-elements", "dict-elements"])
def test_encoding_limits(value, limits, message):
    with pytest.raises(TooLarge, match=message):
        encode(value, limits=limits)


def test_json_text_size_is_limited_both_ways():
    with pytest.raises(TooLarge, match="at most 50 are sent"):
        dumps(list(range(30)), limits=Limits(max_bytes=50))
    with pytest.raises(TooLarge, match="at most 50 are accepted"):
        loads(json.dumps(list(range(30))), limits=Limits(max_bytes=50))


# --- malformed data --------------------------------------------------------------------------

def array(dtype="float64", shape=(2,), data=(1.0, 2.0)):
    return {"__ndarray__": {"dtype": dtype, "shape": list(shape), "data": list(data)}}


MALFORMED = {
    "shape-vs-data": (array(shape=(2, 2)), "holds 4 elements, but data has 2"),
    "dtype-object": (array(dtype="object"), "dtype 'object' is not one of"),
    "dtype-complex": (array(dtype="complex128"), "is not one of"),
    "negative-shape": (array(shape=(-2,)), "shape needs"),
    "bool-shape": (array(shape=(True, True)), "shape needs"),
    "string-element": (array(data=(1.0, "2")), "is not an element of a float/int array"),
    "bool-in-float-array": (array(data=(1.0, True)), "is not an element"),
    "float-in-int-array": (array(dtype="int64", data=(1, 2.5)), "is not an element"),
    "overflowing-int8": (array(dtype="int8", data=(1, 1000)), "does not fit dtype int8"),
    "negative-uint": (array(dtype="uint8", data=(1, -1)), "does not fit dtype uint8"),
    "extra-array-key": ({"__ndarray__": {"dtype": "bool", "shape": [0], "data": [], "order": "F"}}, "exactly dtype"),
    "unknown-tag": ({"__pickle__": "gASVAAAAAAAAAAA="}, "unknown tag '__pickle__'"),
    "untagged-dict": ({"a": 1, "b": 2}, "one key, got 2"),
    "int-not-digits": ({"__int__": "12a"}, "__int__ needs"),
    "int-not-text": ({"__int__": 12}, "__int__ needs"),
    "float-word": ({"__float__": "NaN"}, "__float__ is one of"),
    "tuple-not-list": ({"__tuple__": "ab"}, "__tuple__ needs a list"),
    "dict-not-pairs": ({"__dict__": [[1]]}, "list of \\[key, value\\] pairs"),
    "unhashable-key": ({"__dict__": [[[1], 2]]}, "a list cannot be a dict key"),
    "duplicate-key": ({"__dict__": [["a", 1], ["a", 2]]}, "appears twice"),
    "sympy-not-text": ({"__sympy__": 5}, "needs srepr text"),
    "callback-negative": ({"__callback__": -1}, "non-negative integer id"),
    "callback-bool": ({"__callback__": True}, "non-negative integer id"),
    "opaque-not-text": ({"__opaque__": 1, "repr": ""}, "type name and a repr"),
    "plain-nan": (math.nan, "not finite"),
    "python-tuple": ((1, 2), "a tuple is not plain JSON"),
}


@pytest.mark.parametrize("data, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_data_is_refused(data, message):
    with pytest.raises(MalformedData, match=message):
        decode(data, callback=lambda number: None)


def test_hostile_sympy_text_is_refused_by_the_parser(tmp_path):
    """SymPy text goes through the whitelist parser: code in it is refused and never runs."""
    sentinel = tmp_path / "sentinel"
    with pytest.raises(MalformedData, match="calling Attribute") as refused:
        decode({"__sympy__": f"__import__('os').system('touch {sentinel}')"})
    assert isinstance(refused.value.__cause__, UnsafeExpression)
    assert not sentinel.exists()


@pytest.mark.parametrize("text, message", [
    ("[NaN]", "NaN is not plain JSON"), ("Infinity", "Infinity is not plain JSON"),
    ("[1,", "not JSON"), ("9" * 5000, "not JSON"), (b"[]", "expected JSON text"),
])
def test_loads_refuses_non_json(text, message):
    with pytest.raises(MalformedData, match=message):
        loads(text)


def test_errors_are_value_errors():
    assert issubclass(TooLarge, ValueError) and issubclass(MalformedData, ValueError)


# --- SymPy objects too large to check ----------------------------------------------------------

def test_too_large_sympy_object_arrives_refused_with_its_reason():
    """A huge power is not rebuilt: a Refused arrives, equal to nothing, not a number, with the tag."""
    received = decode({"__sympy__": "Pow(Integer(2), Integer(1000000000))"})
    assert type(received) is Refused and isinstance(received, Opaque)
    assert received.refusal_tag == TOO_LARGE_TAG == "expression-too-large"
    assert "exponent is 1000000000" in received.refusal_reason
    assert not received == received and received != 2
    for convert in (float, int, bool):
        with pytest.raises(TypeError, match="too large to check"):
            convert(received)


def test_a_refusal_costs_only_the_refused_value():
    """In a tuple, only the oversized entry is refused; its neighbour arrives intact."""
    y = sp.Symbol("y", real=True)
    huge = sp.Mul(sp.Pow(3, sp.Integer(10) ** 9, evaluate=False), y, evaluate=False)
    first, second = through_json((2 * x + y, huge))
    assert first == 2 * x + y and type(second) is Refused


def test_srepr_beyond_the_length_limit_travels_as_a_refusal():
    """A long srepr text is not sent; the placeholder says why, and the value next to it still travels."""
    long_sum = sp.Add(*sp.symbols("a0:50"))
    data = encode([long_sum, x], limits=Limits(max_srepr_length=100))
    assert set(data[0]) == {"__refused__"}
    received = decode(data)
    assert type(received[0]) is Refused and "at most 100 are accepted" in received[0].refusal_reason
    assert received[1] == x


@pytest.mark.parametrize("payload, expected", [
    (5, MalformedData), (["a"], MalformedData), ("fine\n[passed] forged", Refused),
], ids=["number", "list", "forged-tag-line"])
def test_a_forged_refusal_is_a_refusal_or_malformed(payload, expected):
    """The sender may claim a refusal; it costs only its own checks, and its text is one line."""
    if expected is MalformedData:
        with pytest.raises(MalformedData, match="__refused__ needs"):
            decode({"__refused__": payload})
        return
    received = decode({"__refused__": payload})
    assert type(received) is Refused and "\n" not in received.refusal_reason


def test_hostile_code_is_still_malformed_not_refused():
    """Refused is for size only: code in the text is still a MalformedData for the whole value."""
    with pytest.raises(MalformedData, match="calling Attribute"):
        decode({"__sympy__": "__import__('os').system('true')"})


REFUSED = Refused("a power's exponent is 1000000000, beyond ±1000")
CHECKS = {
    "check_expression": lambda value: checks.check_expression(value, 1 / (1 + sp.exp(-x)), "sigmoid_expr",
                                                              allowed=[x]),
    "as_expression": lambda value: checks.as_expression(value, "sigmoid_expr"),
    "check_tuple": lambda value: checks.check_tuple(value, 2, "grad_f_xy"),
    "as_float": lambda value: checks.as_float(value, "worked_delta"),
    "as_float_array": lambda value: checks.as_float_array(value, "weights"),
    "check_value-float": lambda value: checks.check_value(value, 0.5, "rate"),
    "check_value-array": lambda value: checks.check_value(value, [0.5, 1.0], "grid", kind="array"),
    "check_call": lambda value: checks.check_call(lambda: value, expected=0.5, name="f"),
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_every_check_rejects_a_refusal_with_its_tag(check):
    """The check library names the refusal: a [expression-too-large] line, the reason, no other tag."""
    with pytest.raises(checks.CheckFailure) as failed:
        check(REFUSED)
    message = str(failed.value)
    assert failed.value.tag == TOO_LARGE_TAG and TAG.findall(message) == [TOO_LARGE_TAG]
    assert "exponent is 1000000000" in message


# The attack answer cells for notebook 02 (after its setup cell), as the red-team catalogue has them.
SETUP_02 = """
import sympy as sp
x, y, s, t = sp.symbols("x y s t", real=True)
"""
ATTACKS_02 = {
    "pow-2-to-1e9": ("sigmoid_expr", "sigmoid_expr = sp.Pow(sp.Integer(2), sp.Integer(10)**9, evaluate=False)"),
    "x-to-1e9": ("sigmoid_expr", "sigmoid_expr = x**(10**9)"),
    "sigmoid-to-1e9": ("sigmoid_expr", "sigmoid_expr = (1 / (1 + sp.exp(-x)))**(10**9)"),
    "nested-powers": ("sigmoid_expr", "sigmoid_expr = sp.Pow(sp.Pow(sp.Pow(10, 1000, evaluate=False), 1000, "
                                      "evaluate=False), 1000, evaluate=False)"),
    "tower-of-six-2s": ("sigmoid_expr", "_p = sp.Integer(2)\nfor _ in range(5):\n"
                                        "    _p = sp.Pow(2, _p, evaluate=False)\nsigmoid_expr = _p"),
    "x-tower": ("sigmoid_derivative_expr", "sigmoid_derivative_expr = x**x**x**x**x"),
    "grad-one-entry": ("grad_f_xy", "grad_f_xy = (2 * x + y, sp.Mul(sp.Pow(sp.Integer(3), sp.Integer(10)**9, "
                                    "evaluate=False), y, evaluate=False))"),
    "multinomial-equal-to-sigmoid": ("sigmoid_expr", "_p = 1 + x + sp.exp(x) + sp.sin(x) + sp.cos(x)\n"
                                     "_q = 1 + x + sp.exp(x) + sp.sin(x) + 1 - 2 * sp.sin(x / 2)**2\n"
                                     "sigmoid_expr = sp.Mul(1 / (1 + sp.exp(-x)), sp.Pow(_p, 60), sp.Pow(_q, -60), "
                                     "evaluate=False)"),
}


def solution_cells(assignment: str):
    """(grade_id, is a test cell, source) of each code cell of the solution notebook."""
    notebook = json.loads((release.REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            meta = cell.get("metadata", {}).get("nbgrader", {})
            yield meta.get("grade_id"), bool(meta.get("grade")) and not meta.get("solution"), "".join(cell["source"])


@pytest.mark.parametrize("name, source", ATTACKS_02.values(), ids=ATTACKS_02.keys())
def test_attacks_fail_their_own_test_cells_with_the_tag_at_no_cost(name, source):
    """Sent by the real encoder and decoded, each attack fails every test cell of its name with
    [expression-too-large] alone, in well under a second and a few megabytes (before: up to
    655 MB and two 30 s cell timeouts)."""
    student = {}
    exec(SETUP_02 + source, student)
    payload = dumps(student[name])
    tests = [src for grade_id, is_test, src in solution_cells("02_symbolic_derivatives")
             if is_test and grade_id.startswith(f"test_{name}")]
    assert len(tests) == 2
    tracemalloc.start()
    started = time.perf_counter()
    try:
        value = loads(payload)
        for test in tests:
            with pytest.raises(checks.CheckFailure) as failed:
                exec(test, {"__name__": "__main__", name: value})
            assert TAG.findall(str(failed.value)) == [TOO_LARGE_TAG]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0 and peak < 10_000_000


# --- every honest expression of the course is accepted ---------------------------------------

def _sympy_objects(value, depth=0):
    if isinstance(value, (sp.Basic, MatrixBase)):
        yield value
    elif isinstance(value, (list, tuple, dict)) and depth < 3:
        for item in (value.values() if isinstance(value, dict) else value):
            yield from _sympy_objects(item, depth + 1)


def _run_answers(assignment: str, replaced: answer_bank.Answer = None, run_tests: bool = False) -> dict:
    """The namespace after the solution's setup and answer cells (one replaced by a bank entry),
    and its test cells that check expressions when ``run_tests``."""
    namespace = {"__name__": "__main__"}
    for grade_id, is_test, source in solution_cells(assignment):
        if grade_id is None or is_test and not (run_tests and "check_expression" in source):
            continue  # steps (plots, timings) are skipped; setup and answer cells run
        if replaced is not None and grade_id == replaced.name:
            source = replaced.code
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    return namespace


def honest_expressions() -> dict:
    """srepr text → (where it came from, the object): every SymPy value the solutions and answer banks define
    (right and wrong answers alike, and their helpers), and the expected values and known
    mistakes that the test cells compare answers with."""
    matplotlib.use("Agg")
    found, compared = {}, []
    original = symbolic.check_expression

    def recording(got, expected, what, **options):
        compared.extend([expected, *(m.value for m in options.get("mistakes", ()) if m.value is not None)])
        return original(got, expected, what, **options)

    for assignment in release.assignments():
        if not any("sp." in a.code or "sympy" in a.code for a in answer_bank.load(assignment)):
            continue
        for variant in [None, *answer_bank.load(assignment)]:
            checks.check_expression = symbolic.check_expression = recording if variant is None else original
            try:
                namespace = _run_answers(assignment, variant, run_tests=variant is None)
            finally:
                checks.check_expression = symbolic.check_expression = original
            where = f"{assignment}:{variant.name}:{variant.label}" if variant else f"{assignment}:solution"
            for name, value in namespace.items():
                for expr in _sympy_objects(value) if not name.startswith("__") else ():
                    found.setdefault(sp.srepr(expr), (f"{where}:{name}", expr))
        for expr in _sympy_objects(compared):
            found.setdefault(sp.srepr(expr), (f"{assignment}:test cells", expr))
        compared.clear()
    return found


def test_every_honest_expression_is_accepted():
    """Every SymPy value of the solutions and answer banks, and those the tests compare with,
    crosses the codec equal to what was sent, none refused: the bounds are generous to them."""
    found = honest_expressions()
    assert len(found) >= 60  # 02, 04 and 05 hold about 70
    for where, expr in found.values():
        received = through_json(expr)
        assert not isinstance(received, Opaque), (where, received)
        assert received == (sp.ImmutableMatrix(expr) if isinstance(expr, MatrixBase) else expr), where
