"""Unit tests of autograde.trusted.sympy_parser: srepr text rebuilt by a whitelist, never run.

Round trips over the expression forms of the course; hostile texts that must be refused with
a message naming the construct, without anything being executed; texts that are small but
would be huge once evaluated, refused as too large before anything is built from them.
"""
import builtins
import inspect
import os
import sys
import time
import tracemalloc

import pytest
import sympy as sp
from sympy.core.assumptions import _assume_defined

from autograde.trusted import sympy_parser
from autograde.trusted.sympy_parser import (ASSUMPTIONS, MAX_DEPTH, MAX_EXPONENT, MAX_FLOAT_DIGITS,
                                            ExpressionTooLarge, UnsafeExpression, parse_srepr)

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", positive=True)
f = sp.Function("f")
A, B = sp.symbols("A B", commutative=False)
sigmoid = 1 / (1 + sp.exp(-x))

ROUND_TRIPS = {
    "sigmoid": sigmoid,
    "sigmoid-derivative": sp.diff(sigmoid, x),
    "sigmoid-second-derivative": sp.diff(sigmoid, x, 2),
    "sigmoid-sixth-derivative": sp.diff(sigmoid, x, 6),
    "sigmoid-product-form": sigmoid * (1 - sigmoid),
    "sigmoid-as-tanh": (1 + sp.tanh(x / 2)) / 2,
    "tanh-derivative": 1 - sp.tanh(x) ** 2,
    "tanh-derivative-negated": sp.tanh(x) ** 2 - 1,
    "tanh-fifth-derivative": sp.diff(sp.tanh(x), x, 5),
    "softplus": sp.log(1 + sp.exp(x)),
    "gaussian": sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi),
    "gelu": x * (1 + sp.erf(x / sp.sqrt(2))) / 2,
    "relu": sp.Max(0, x),
    "relu-piecewise": sp.Piecewise((x, x > 0), (0, True)),
    "heaviside": sp.Heaviside(x) * y,
    "mixed-functions": sp.asin(x) + sp.acos(x) + sp.atan(x) + sp.sinh(x) + sp.cosh(x) + sp.Abs(x) * sp.sign(x),
    "two-variables": sp.diff(sp.tanh(x * y + sp.log(y)), x, y),
    "polynomial": sp.expand((x + y + 1) ** 5),
    "negative-coefficients": -6 * x + sp.Rational(-3, 2) * y - sp.Float(2.5) * x * y,
    "rational": sp.Rational(3, 7),
    "rational-power": x ** sp.Rational(1, 3),
    "float": sp.Float(-1e-300),
    "float-30-digits": sp.Float("1.2345678901234567890123456789", 30),
    "huge-integer": sp.Integer(10) ** 1500 + 7,
    "noncommutative": sp.Rational(-3, 2) * x * A * B + B * A,
    "undefined-function": f(x) + f(x, y) ** 2,
    "assumptions": sp.Symbol("n", integer=True, nonzero=True) + sp.Symbol("m", commutative=False),
    "subscript-names": sp.Symbol("x_{1}") + sp.Symbol("θ") + sp.Symbol("w^2"),
    "relations": sp.And(x > 0, x <= 1, sp.Or(sp.Eq(x, y), sp.Ne(x, 2), sp.Not(x >= y))),
    "derivative": sp.Derivative(f(x), x),
    "integral": sp.Integral(x, (x, 0, 1)),
    "subs": sp.Subs(f(x), x, 1),
    "limit": sp.Limit(1 / x, x, 0),
    "lambda": sp.Lambda(x, x ** 2),
    "tuple": sp.Tuple(1, x, sp.pi),
    "nan": sp.nan, "oo": sp.oo, "-oo": -sp.oo, "zoo": sp.zoo, "pi": sp.pi, "E": sp.E, "I": sp.I,
    "true": sp.true, "false": sp.false, "half": sp.S.Half, "-oo*x": -sp.oo * x,
    "complex": 2 + 3 * sp.I * x,
}


@pytest.mark.parametrize("expr", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_is_structurally_equal(expr):
    """An evaluated expression comes back structurally equal, not merely mathematically."""
    assert parse_srepr(sp.srepr(expr)) == expr


@pytest.mark.parametrize("matrix", [
    sp.Matrix([[1, x], [2, sigmoid]]), sp.ImmutableMatrix([1, 2]), sp.Matrix(0, 0, []),
    sp.Matrix(2, 0, []), sp.Matrix(1, 3, [x, y, 0]),
], ids=["2x2", "column", "0x0", "2x0", "row"])
def test_matrices_come_back_immutable_and_equal(matrix):
    """Matrices, mutable or not, come back as equal ImmutableMatrix objects."""
    rebuilt = parse_srepr(sp.srepr(matrix))
    assert isinstance(rebuilt, sp.ImmutableMatrix)
    assert rebuilt.shape == matrix.shape and rebuilt == sp.ImmutableMatrix(matrix)


def test_unevaluated_forms_survive():
    """Unevaluated sums, powers and derivatives stay unevaluated so the checks can judge them."""
    doubled = parse_srepr(sp.srepr(sp.Add(x, x, evaluate=False)))
    assert doubled.args == (x, x)
    assert sp.simplify(doubled - 2 * x) == 0
    assert parse_srepr("Pow(Integer(4), Rational(1, 2))").args == (4, sp.Rational(1, 2))
    assert parse_srepr(sp.srepr(sp.Derivative(sigmoid, x))).has(sp.Derivative)


def test_singletons_are_accepted_bare_and_called():
    """Singletons are read as srepr prints them and by their class names."""
    assert parse_srepr("Infinity()") is sp.oo and parse_srepr("NegativeInfinity") is -sp.oo
    assert parse_srepr("Half()") == sp.S.Half and parse_srepr("Pi") is sp.pi
    assert parse_srepr("Add(Exp1(), ImaginaryUnit, Integer(-1))") == sp.E + sp.I - 1


def test_dummies_are_fresh_but_consistent():
    """A Dummy is rebuilt as a new Dummy, the same one wherever the student's was the same."""
    d = sp.Dummy("d")
    rebuilt = parse_srepr(sp.srepr(d + sp.exp(d)))
    (fresh,) = rebuilt.free_symbols
    assert isinstance(fresh, sp.Dummy) and fresh != d
    assert rebuilt == fresh + sp.exp(fresh)


def test_assumption_allowlist_is_sympys_own():
    """Every allowed assumption keyword is one SymPy knows."""
    assert ASSUMPTIONS <= _assume_defined


HOSTILE = {
    "import-call": ("__import__('os').system('touch {sentinel}')", "calling Attribute"),
    "open": ("open('{sentinel}', 'w')", "the function 'open'"),
    "exec": ("exec('open(\"{sentinel}\", \"w\")')", "the function 'exec'"),
    "eval": ("eval('1')", "the function 'eval'"),
    "getattr": ("getattr(Integer(1), '__class__')", "the function 'getattr'"),
    "import-in-keyword": ("Symbol('x', real=__import__('os'))", "the function '__import__'"),
    "attribute": ("Symbol.__class__", "the construct Attribute"),
    "attribute-chain": ("Integer(1).__class__.__mro__", "the construct Attribute"),
    "method-call": ("Symbol('x').subs(Symbol('x'), Integer(1))", "calling Attribute"),
    "power-tower": ("Integer(10**10**10)", "the construct BinOp"),
    "starred": ("Add(*[Integer(1), Integer(2)])", "the construct Starred"),
    "keyword-unpacking": ("Symbol('x', **{'real': True})", "keyword unpacking"),
    "lambda": ("(lambda: Integer(1))()", "calling Lambda"),
    "lambda-value": ("Tuple(lambda: 0)", "the construct Lambda"),
    "comprehension": ("Tuple([Integer(i) for i in range(9)])", "the construct ListComp"),
    "conditional": ("Integer(1) if true else Integer(0)", "the construct IfExp"),
    "dict": ("Tuple({'a': Integer(1)})", "the construct Dict"),
    "fstring": ("Symbol(f'{Integer(1)}')", "the construct JoinedStr"),
    "subscript": ("Tuple(Integer(1))[0]", "the construct Subscript"),
    "walrus": ("Tuple((a := Integer(1)))", "the construct NamedExpr"),
    "bare-class-name": ("Add(Symbol, Integer(1))", "the name 'Symbol'"),
    "unknown-name": ("os", "the name 'os'"),
    "bytes": ("Symbol(b'x')", "the constant"),
    "complex-constant": ("Integer(1j)", "the constant"),
    "float-nan": ("Float('nan')", "decimal number"),
    "float-inf": ("Float('inf')", "decimal number"),
    "float-huge-exponent": ("Float('1e123456789')", "decimal number"),
    "float-huge-precision": ("Float('1.5', precision=1000000000)", "precision="),
    "float-unknown-keyword": ("Float('1.5', dps=15)", "no keyword dps="),
    "evil-assumption": ("Symbol('x', evil=True)", "evil= is not an allowed assumption"),
    "non-bool-assumption": ("Symbol('x', real=Integer(1))", "must be True or False"),
    "inconsistent-assumptions": ("Symbol('x', positive=True, negative=True)", "cannot be rebuilt"),
    "code-in-name": ("Symbol(\"exec(bytes([111]))\")", "has characters outside"),
    "newline-in-name": ("Symbol('x\\nimport os')", "has characters outside"),
    "code-in-function-name": ("Function('open(0)')(Symbol('x'))", "has characters outside"),
    "string-sympified": ("Add('x + 1', Integer(1))", "argument 1 of Add() is not a SymPy object"),
    "string-integer": ("Integer('5')", "Integer() takes (int)"),
    "bool-integer": ("Integer(True)", "Integer() takes (int)"),
    "unapplied-function": ("Function('f')", "an unapplied Function"),
    "called-symbol": ("Symbol('x')(Integer(1))", "calling the result of a call"),
    "list-result": ("[Integer(1)]", "describes a list"),
    "string-result": ("'x'", "describes a str"),
    "keyword-on-add": ("Add(Integer(1), Integer(2), evaluate=True)", "no keyword evaluate="),
    "dummy-index-text": ("Dummy('d', dummy_index='1')", "dummy_index="),
    "matrix-shape": ("MutableDenseMatrix(2, 2, [Integer(1)])", "does not hold 1 entries"),
    "matrix-ragged": ("MutableDenseMatrix([[Integer(1)], []])", "differ in length"),
    "minus-on-symbol": ("-Symbol('x')", "a minus sign"),
    "many-digits": ("Integer(" + "9" * 2001 + ")", "more than 2000 digits"),
    "many-hex-digits": ("Integer(0x" + "f" * 1700 + ")", "more than 2000 digits"),
    "statement": ("Integer(1); import os", "not srepr text"),
    "null-byte": ("Integer(1)\x00", "not srepr text"),
    "megabyte": ("Symbol('" + "a" * 1_000_000 + "')", "at most 20000 are accepted"),
    "nested-10000": ("exp(" * 10_000 + "Symbol('x')" + ")" * 10_000, "at most 20000 are accepted"),
}


@pytest.mark.parametrize("text, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_refused_without_running_anything(text, message, tmp_path, monkeypatch):
    """Hostile text raises UnsafeExpression naming the construct; nothing runs, no file appears."""
    sentinel = tmp_path / "sentinel"
    ran = []
    monkeypatch.setattr(os, "system", lambda *args: ran.append(("os.system", args)))
    monkeypatch.setattr(builtins, "eval", lambda *args, **kwargs: ran.append(("eval", args)))
    monkeypatch.setattr(builtins, "exec", lambda *args, **kwargs: ran.append(("exec", args)))
    with pytest.raises(UnsafeExpression) as refused:
        parse_srepr(text.replace("{sentinel}", str(sentinel)))
    assert message in str(refused.value)
    assert ran == [] and not sentinel.exists()


def test_legitimate_parsing_never_calls_eval(monkeypatch):
    """The round trips themselves use neither eval nor exec (sympify of a string would)."""
    ran = []
    monkeypatch.setattr(builtins, "eval", lambda *args, **kwargs: ran.append(args))
    monkeypatch.setattr(builtins, "exec", lambda *args, **kwargs: ran.append(args))
    texts = [sp.srepr(expr) for expr in ROUND_TRIPS.values()]
    for text in texts:
        parse_srepr(text)
    assert ran == []


def test_unsafe_expression_is_a_value_error():
    assert issubclass(UnsafeExpression, ValueError)


@pytest.mark.parametrize("text, limits, message", [
    ("exp(" * 30 + "Symbol('x')" + ")" * 30, {"max_depth": 20}, "nested deeper than 20 levels"),
    ("exp(" * 5000 + "Symbol('x')" + ")" * 5000, {"max_length": 10 ** 6}, "not srepr text"),
    ("-" * 15_000 + "1", {"max_length": 10 ** 6}, "too deeply nested to read"),
    ("Tuple(" + "Integer(1), " * 200 + ")", {"max_nodes": 100}, "more than 100 syntax nodes"),
    ("Integer(123456)", {"max_int_digits": 5}, "more than 5 digits"),
    ("Float('1." + "2" * MAX_FLOAT_DIGITS + "')", {}, f"at most {MAX_FLOAT_DIGITS} digits"),
    ("Symbol('x')", {"max_length": 5}, "at most 5 are accepted"),
], ids=["depth", "parser-depth", "unary-chain", "nodes", "int-digits", "float-digits", "length"])
def test_limits_are_enforced(text, limits, message):
    """Length, nesting depth, node count and digit limits each refuse with their own message."""
    with pytest.raises(ExpressionTooLarge) as refused:
        parse_srepr(text, **limits)
    assert message in str(refused.value)


def test_depth_within_the_default_limit_parses():
    """An expression nested just within MAX_DEPTH levels rebuilds; one level more is refused."""
    pairs = (MAX_DEPTH - 1) // 2  # Add(1, exp(...)) takes two levels, the symbol one more
    text = "Add(Integer(1), exp(" * pairs + "Symbol('x')" + "))" * pairs
    rebuilt = parse_srepr(text)
    for _ in range(pairs):
        assert isinstance(rebuilt, sp.Add)
        rebuilt = rebuilt.args[1].args[0]
    assert rebuilt == sp.Symbol("x")
    with pytest.raises(ExpressionTooLarge, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_srepr("exp(" * 2 + text + ")" * 2)


def test_recursion_limit_is_reported_not_raised():
    """When the stack runs out while rebuilding, the caller gets UnsafeExpression, not RecursionError."""
    text = "exp(" * 150 + "Symbol('x')" + ")" * 150
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 200)
    try:
        with pytest.raises(UnsafeExpression, match="too deeply nested"):
            parse_srepr(text)
    finally:
        sys.setrecursionlimit(limit)


def test_non_text_is_refused():
    with pytest.raises(UnsafeExpression, match="got a bytes"):
        parse_srepr(b"Integer(1)")


# --- small texts that would be huge once evaluated -------------------------------------------

X = "Symbol('x', real=True)"


def tower(base: str, height: int) -> str:
    return "Pow(" + base + ", " + tower(base, height - 1) + ")" if height > 1 else base


def product(factor: str, count: int) -> str:
    return "Mul(" + ", ".join([factor] * count) + ")"


TOO_LARGE = {
    "pow-2-to-1e9": ("Pow(Integer(2), Integer(1000000000))", "a power's exponent is 1000000000,"),
    "x-to-1e9": (f"Pow({X}, Integer(1000000000))", "a power's exponent is 1000000000,"),
    "x-to-minus-1e9": (f"Pow({X}, Integer(-1000000000))", "a power's exponent is -1000000000,"),
    "sigmoid-to-1e9": (f"Pow(Add(Integer(1), exp(Mul(Integer(-1), {X}))), Integer(-1000000000))", "exponent"),
    "rational-exponent": ("Pow(Integer(2), Rational(1000000000, 3))", "a power's exponent is 1000000000/3,"),
    "root-of-order-1e9": (f"Pow({X}, Rational(1, 1000000000))", "whose denominator is beyond 1000"),
    "float-exponent": (f"Pow({X}, Float('1.0e9', precision=53))", "a power's exponent is 1000000000.0"),
    "huge-exponent-digits": ("Pow(Integer(2), Integer(" + "9" * 1999 + "))", "exponent is a number of 1,999 digits"),
    "nested-powers": ("Pow(Pow(Pow(Integer(10), Integer(1000)), Integer(1000)), Integer(1000))", "digits"),
    "tower-of-five-2s": (tower("Integer(2)", 5), "could be a number of"),
    "tower-of-six-2s": (tower("Integer(2)", 6), "could be a number of"),
    "tower-of-four-x": (tower(X, 4), "could be a number of"),
    "exponent-hiding-a-number": (f"Pow(Integer(2), Add(Integer(1000000000), {X}))", "could be a number"),
    "product-of-big-integers": (product("Integer(" + "9" * 1999 + ")", 9), "could be a number"),
    "integer-part-of-exp-tower": ("floor(exp(exp(Integer(100))))", "could be a number"),
    "multinomial": ("Pow(Add(Symbol('a'), Symbol('b'), Symbol('c')), Integer(1000))", "up to 501,501 terms"),
    "product-of-sums": (product("Add(Symbol('a'), Symbol('b'))", 15), "up to 32,768 terms"),
    "float-1e9999999": ("Float('1e9999999', precision=53)", "beyond 1e±400"),
    "float-from-int": ("Float(1" + "0" * 500 + ")", "beyond 1e±400"),
    "tiny-float": ("Float('1e-9999999', precision=53)", "beyond 1e±400"),
    "float-product": (product("Float('1e300', precision=53)", 2), "a product of numbers is beyond"),
    "float-digits": ("Float('" + "1" * 1001 + "')", "at most 1000 digits"),
    "float-precision": ("Float('1.5', precision=100000)", "precision="),
    "inside-integral": (f"Integral(Pow({X}, Integer(1000000000)), Tuple({X}, Integer(0), Integer(1)))", "exponent"),
    "inside-matrix": ("ImmutableDenseMatrix([[Integer(1), Pow(Integer(2), Integer(1000000000))]])", "exponent"),
    "inside-function": ("Function('f')(Pow(Integer(3), Integer(1000000000)))", "exponent"),
    "inside-tuple": (f"Tuple({X}, Pow(Integer(3), Integer(1000000000)))", "exponent"),
    "empty-matrix-of-huge-width": ("MutableDenseMatrix(0, " + "9" * 1999 + ", [])", "rows or columns; at most 1000"),
}


@pytest.mark.parametrize("text, message", TOO_LARGE.values(), ids=TOO_LARGE.keys())
def test_huge_once_evaluated_is_refused_before_it_is_built(text, message):
    """Each is refused as too large, in a millisecond and without allocating what it describes."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ExpressionTooLarge) as refused:
            parse_srepr(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message in str(refused.value)
    assert time.perf_counter() - started < 0.5 and peak < 2_000_000


def test_the_refused_node_is_never_constructed(monkeypatch):
    """The power with a huge exponent is refused before Pow is called on it; its parts were built."""
    calls = []

    def recorded(name, constructor):
        def construct(*args, **options):
            calls.append(name)
            return constructor(*args, **options)
        return construct

    for name in ("Pow", "Mul", "Add"):
        monkeypatch.setitem(sympy_parser._EVALUATED, name, recorded(name, sympy_parser._EVALUATED[name]))
    with pytest.raises(ExpressionTooLarge):
        parse_srepr(f"Mul(Integer(3), Pow(Add({X}, Integer(1)), Integer(1000000000)))")
    assert calls == ["Add"]


@pytest.mark.parametrize("text", [
    f"Pow({X}, Integer({MAX_EXPONENT}))", f"Pow({X}, Integer(-{MAX_EXPONENT}))",
    f"Pow({X}, Rational(1, {MAX_EXPONENT}))", f"Pow(Add({X}, Integer(1)), Integer({MAX_EXPONENT}))",
    tower("Integer(2)", 4), tower(X, 3), "Integer(" + "9" * 2000 + ")",
    "Rational(" + "9" * 2000 + ", " + "7" * 2000 + ")", "Float('1e400', precision=53)",
    "Float('-1.5e-400', precision=53)", "Float('1.5', precision=3400)", "floor(exp(Integer(1000)))",
    f"Pow({X}, Mul(Float('0.5', precision=53), Symbol('y')))", f"Pow(Integer(2), Mul(Integer(-1), {X}))",
    "Pow(Add(Symbol('a'), Symbol('b'), Symbol('c'), Symbol('d')), Integer(47))",
], ids=["x**1000", "x**-1000", "x**(1/1000)", "(x+1)**1000", "2**2**2**2", "x**x**x", "2000-digits",
        "rational-2000-digits", "float-1e400", "float-1e-400", "float-3400-bits", "floor-exp-1000",
        "float-in-symbolic-exponent", "2**-x", "(a+b+c+d)**47"])
def test_large_but_bounded_is_accepted(text):
    """At the bounds, and the cheap forms near them, the object is rebuilt."""
    assert isinstance(parse_srepr(text), sp.Basic)


def test_too_large_is_unsafe_expression():
    """Callers that catch UnsafeExpression also catch ExpressionTooLarge."""
    assert issubclass(ExpressionTooLarge, UnsafeExpression)
