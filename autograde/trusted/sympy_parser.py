"""Rebuild a SymPy object from the ``sympy.srepr`` text that the untrusted process sent.

Nothing runs as Python: the text is parsed with ``ast`` and every node is checked against a
whitelist before the matching SymPy constructor is called (``sympify`` would use ``eval``).
Sums, products, powers and functions are rebuilt with ``evaluate=False``: the student's form
survives, and no costly evaluation runs while parsing. srepr prints the terms of a sum or
product in display order and splits a negative coefficient (``-6*x`` as ``Mul(-1, 6, x)``), so
the numbers of a product are multiplied and the terms put back in SymPy's canonical order: an
evaluated expression comes back structurally equal.
"""
from __future__ import annotations

import ast
import math
import re
from functools import cmp_to_key

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair


class UnsafeExpression(ValueError):
    """The text is not a SymPy object made only of whitelisted parts, within the limits."""


#: Called as ``f(*expressions, evaluate=False)``.
_EVALUATED = {name: getattr(sp, name) for name in (
    "Add", "Mul", "Pow", "exp", "log", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc",
    "sinh", "cosh", "tanh", "coth", "sech", "csch", "asin", "acos", "atan", "atan2",
    "asinh", "acosh", "atanh", "erf", "erfc", "Abs", "sign", "floor", "ceiling", "re", "im",
    "Max", "Min", "Heaviside", "DiracDelta", "Piecewise", "StrictGreaterThan", "StrictLessThan",
    "GreaterThan", "LessThan", "Equality", "Unequality", "And", "Or", "Not")}
#: Called as ``f(*expressions)``: containers, and the unevaluated operations, which must
#: arrive intact so that the checks reject them with their own message.
_PLAIN = {"Tuple": sp.Tuple, "ExprCondPair": ExprCondPair, "Lambda": sp.Lambda,
          "Derivative": sp.Derivative, "Integral": sp.Integral, "Subs": sp.Subs, "Limit": sp.Limit}
#: Singleton class names: bare, or called without arguments.
_SINGLETONS = {"Pi": sp.pi, "Exp1": sp.E, "ImaginaryUnit": sp.I, "Infinity": sp.oo,
               "NegativeInfinity": sp.S.NegativeInfinity, "ComplexInfinity": sp.zoo, "NaN": sp.nan,
               "Half": sp.S.Half, "One": sp.S.One, "Zero": sp.S.Zero, "NegativeOne": sp.S.NegativeOne,
               "BooleanTrue": sp.true, "BooleanFalse": sp.false}
#: Bare names: the singletons as srepr prints them (``-oo`` is a minus sign before ``oo``).
_NAMES = {"pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "zoo": sp.zoo, "nan": sp.nan,
          "true": sp.true, "false": sp.false, **_SINGLETONS}
#: Rebuilt as an ImmutableMatrix.
_MATRICES = {"ImmutableDenseMatrix", "MutableDenseMatrix", "ImmutableMatrix", "Matrix"}
_ATOMS = {"Symbol", "Dummy", "Integer", "Rational", "Float"}

#: The keyword arguments a Symbol or Dummy may carry, each True or False.
ASSUMPTIONS = frozenset({
    "algebraic", "antihermitian", "commutative", "complex", "composite", "even",
    "extended_negative", "extended_nonnegative", "extended_nonpositive", "extended_nonzero",
    "extended_positive", "extended_real", "finite", "hermitian", "imaginary", "infinite",
    "integer", "irrational", "negative", "noninteger", "nonnegative", "nonpositive", "nonzero",
    "odd", "polar", "positive", "prime", "rational", "real", "transcendental", "zero"})

#: Symbol and function names. Code printers (lambdify) paste names into Python source, so a
#: name has no brackets, dots, quotes, spaces or newlines and cannot become a call there.
_NAME = re.compile(r"[\w{}^\\+\-]{1,100}")
_DECIMAL = re.compile(r"[-+]?([0-9]*)(?:\.([0-9]*))?(?:[eE][-+]?[0-9]{1,7})?")


def parse_srepr(text: str, max_length: int = 20_000, max_depth: int = 200,
                max_int_digits: int = 2000, max_nodes: int = 10_000) -> sp.Basic:
    """The SymPy object that ``text`` (``srepr`` output) describes, or `UnsafeExpression`."""
    if type(text) is not str:
        raise UnsafeExpression(f"expected the text of srepr(...), got a {type(text).__name__}")
    if len(text) > max_length:
        raise UnsafeExpression(f"the expression text has {len(text)} characters; at most {max_length} are accepted")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise UnsafeExpression(f"not srepr text: {getattr(exc, 'msg', '') or type(exc).__name__}") from None
    for count, _ in enumerate(ast.walk(tree), 1):
        if count > max_nodes:
            raise UnsafeExpression(f"the expression has more than {max_nodes} syntax nodes")
    try:
        value = _Builder(text, max_depth, max_int_digits).build(tree.body, 1)
    except RecursionError:
        raise UnsafeExpression("the expression is too deeply nested to rebuild") from None
    if not isinstance(value, sp.Basic):
        raise UnsafeExpression(f"the text describes a {type(value).__name__}, not a SymPy object")
    return value


class _Builder:
    """One bottom-up walk of the syntax tree, rebuilding only whitelisted nodes."""

    def __init__(self, text: str, max_depth: int, max_int_digits: int):
        self.text, self.max_depth, self.max_int_digits = text, max_depth, max_int_digits
        self.int_bound = 10 ** max_int_digits
        self.max_precision = math.ceil(max_int_digits * math.log2(10)) + 64  # bits
        # A Dummy is rebuilt as a fresh Dummy, one per (name, dummy_index, assumptions): equal
        # where the student's were equal, and never equal to a Dummy of the trusted process.
        self.dummies: dict = {}

    def refuse(self, node: ast.AST, what: str):
        segment = ast.get_source_segment(self.text, node) or ""
        raise UnsafeExpression(f"{what} is not allowed: {segment[:80]!r}")

    def build(self, node: ast.AST, depth: int):
        if depth > self.max_depth:
            raise UnsafeExpression(f"the expression is nested deeper than {self.max_depth} levels")
        kind = type(node)
        if kind is ast.Call:
            return self.call(node, depth)
        if kind is ast.Name:
            if node.id in _NAMES:
                return _NAMES[node.id]
            self.refuse(node, f"the name {node.id!r}")
        if kind is ast.Constant:
            return self.constant(node)
        if kind is ast.UnaryOp and type(node.op) is ast.USub:
            value = self.build(node.operand, depth + 1)
            if type(value) in (int, float) or isinstance(value, sp.Number):
                return -value
            self.refuse(node, "a minus sign before something other than a number")
        if kind is ast.List or kind is ast.Tuple:
            return [self.build(item, depth + 1) for item in node.elts]
        self.refuse(node, f"the construct {kind.__name__}")

    def constant(self, node: ast.Constant):
        value = node.value
        if type(value) is int:
            if abs(value) >= self.int_bound:
                raise UnsafeExpression(f"an integer has more than {self.max_int_digits} digits")
            return value
        if type(value) in (str, bool) or value is None or (type(value) is float and math.isfinite(value)):
            return value
        self.refuse(node, f"the constant of type {type(value).__name__}")

    def call(self, node: ast.Call, depth: int):
        func = node.func
        if type(func) is ast.Call:
            return self.applied_function(node, depth)
        if type(func) is not ast.Name:
            self.refuse(func, f"calling {type(func).__name__}")
        name = func.id
        if name == "Function":
            self.refuse(node, "an unapplied Function(...)")
        if not (name in _EVALUATED or name in _PLAIN or name in _SINGLETONS or name in _MATRICES or name in _ATOMS):
            self.refuse(func, f"the function {name!r}")
        args, kwargs = self.arguments(node, depth)
        if name in _EVALUATED:
            args = _expressions(name, args, kwargs)
            if name == "Mul":
                args = _canonical_order(_one_coefficient(args), keep_noncommutative=True)
            elif name == "Add":
                args = _canonical_order(args, keep_noncommutative=False)
            return _make(name, _EVALUATED[name], args, evaluate=False)
        if name in _PLAIN:
            return _make(name, _PLAIN[name], _expressions(name, args, kwargs))
        if name in _SINGLETONS:
            _expect(name, args, kwargs, [])
            return _SINGLETONS[name]
        if name in _MATRICES:
            return self.matrix(name, args, kwargs)
        if name in ("Symbol", "Dummy"):
            return self.symbol(name, args, kwargs)
        if name == "Integer":
            _expect(name, args, kwargs, [(int,)])
            return sp.Integer(args[0])
        if name == "Rational":
            _expect(name, args, kwargs, [(int,), (int,)])
            return sp.Rational(*args)
        return self.decimal(args, kwargs)

    def arguments(self, node: ast.Call, depth: int) -> tuple[list, dict]:
        args = [self.build(arg, depth + 1) for arg in node.args]
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                self.refuse(keyword, "keyword unpacking (**)")
            kwargs[keyword.arg] = self.build(keyword.value, depth + 1)
        return args, kwargs

    def applied_function(self, node: ast.Call, depth: int):
        """``Function('f')(x, ...)``: an undefined function applied to expressions."""
        inner = node.func
        if not (type(inner.func) is ast.Name and inner.func.id == "Function"):
            self.refuse(inner, "calling the result of a call other than Function('name')")
        name_args, name_kwargs = self.arguments(inner, depth + 1)
        _expect("Function", name_args, name_kwargs, [(str,)])
        name = _checked_name(name_args[0])
        args, kwargs = self.arguments(node, depth)
        return _make(name, sp.Function(name), _expressions(name, args, kwargs), evaluate=False)

    def symbol(self, kind: str, args: list, kwargs: dict):
        _expect(kind, args, {}, [(str,)])
        name = _checked_name(args[0])
        index = kwargs.pop("dummy_index", None) if kind == "Dummy" else None
        for key, value in kwargs.items():
            if key not in ASSUMPTIONS:
                raise UnsafeExpression(f"{key}= is not an allowed assumption of {kind}()")
            if type(value) is not bool:
                raise UnsafeExpression(f"the assumption {key}= of {kind}() must be True or False")
        if kind == "Symbol":
            return _make(kind, sp.Symbol, [name], **kwargs)
        if index is not None and type(index) is not int:
            raise UnsafeExpression("dummy_index= of Dummy() must be an integer")
        key = (name, index, tuple(sorted(kwargs.items())))
        if index is None or key not in self.dummies:
            self.dummies[key] = _make(kind, sp.Dummy, [name], **kwargs)
        return self.dummies[key]

    def decimal(self, args: list, kwargs: dict):
        _expect("Float", args, kwargs, [(str, int, float)], keywords={"precision"})
        value, precision = args[0], kwargs.get("precision")
        if type(value) is str:
            match = _DECIMAL.fullmatch(value)
            digits = len(match.group(1)) + len(match.group(2) or "") if match else 0
            if not 0 < digits <= self.max_int_digits:
                raise UnsafeExpression(f"Float() needs a decimal number of at most {self.max_int_digits} digits, "
                                       f"got {value[:40]!r}")
        if precision is None:
            return _make("Float", sp.Float, [value])
        if type(precision) is not int or not 0 < precision <= self.max_precision:
            raise UnsafeExpression(f"precision= of Float() must be an integer from 1 to {self.max_precision}")
        return _make("Float", sp.Float, [value], precision=precision)

    def matrix(self, name: str, args: list, kwargs: dict):
        """``M([[a, b], [c, d]])``, ``M([a, b])`` (a column) or ``M(rows, cols, [a, b, ...])``."""
        if len(args) == 3 and type(args[0]) is int and type(args[1]) is int and type(args[2]) is list:
            rows, cols, flat = args
            if rows < 0 or cols < 0 or rows * cols != len(flat):
                raise UnsafeExpression(f"{name}({rows}, {cols}, ...) does not hold {len(flat)} entries")
        elif len(args) == 1 and type(args[0]) is list:
            nested = args[0]
            if nested and all(type(row) is list for row in nested):
                rows, cols = len(nested), len(nested[0])
                if any(len(row) != cols for row in nested):
                    raise UnsafeExpression(f"the rows of {name}() differ in length")
                flat = [entry for row in nested for entry in row]
            else:
                rows, cols, flat = len(nested), 1 if nested else 0, nested
        else:
            raise UnsafeExpression(f"{name}() takes a list of rows, or rows, columns and a flat list")
        return _make(name, sp.ImmutableMatrix, [rows, cols, _expressions(name, flat, kwargs)])


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UnsafeExpression(f"the name {name[:40]!r} has characters outside letters, digits and _{{}}^\\+-")
    return name


def _expect(name: str, args: list, kwargs: dict, types: list, keywords: frozenset = frozenset()) -> None:
    """Fail unless ``args`` match ``types`` one to one and ``kwargs`` use only ``keywords``."""
    if len(args) != len(types) or any(type(arg) not in allowed for arg, allowed in zip(args, types)):
        wanted = ", ".join("/".join(t.__name__ for t in allowed) for allowed in types)
        raise UnsafeExpression(f"{name}() takes ({wanted}), got ({', '.join(type(a).__name__ for a in args)})")
    extra = set(kwargs) - set(keywords)
    if extra:
        raise UnsafeExpression(f"{name}() takes no keyword {', '.join(sorted(extra))}=")


def _expressions(name: str, args: list, kwargs: dict) -> list:
    """``args`` when every one is a SymPy object and there are no keyword arguments."""
    if kwargs:
        raise UnsafeExpression(f"{name}() takes no keyword {', '.join(sorted(kwargs))}=")
    for position, arg in enumerate(args, 1):
        if not isinstance(arg, sp.Basic):
            raise UnsafeExpression(f"argument {position} of {name}() is not a SymPy object: {arg!r:.60}")
    return args


def _one_coefficient(factors: list) -> list:
    """The numbers among ``factors`` multiplied into one coefficient, when there are several."""
    numbers = [factor for factor in factors if isinstance(factor, sp.Number)]
    if len(numbers) < 2:
        return factors
    return [sp.Mul(*numbers)] + [factor for factor in factors if not isinstance(factor, sp.Number)]


def _canonical_order(args: list, keep_noncommutative: bool) -> list:
    """``args`` sorted as SymPy sorts them; a product keeps its noncommutative factors, in order, last."""
    if not keep_noncommutative:
        return sorted(args, key=_SORT_KEY)
    commutative = sorted((arg for arg in args if arg.is_commutative), key=_SORT_KEY)
    return commutative + [arg for arg in args if not arg.is_commutative]


_SORT_KEY = cmp_to_key(sp.Basic.compare)


def _make(name: str, constructor, args: list, **options):
    try:
        return constructor(*args, **options)
    except Exception as exc:  # SymPy's own refusal, e.g. a wrong number of arguments
        raise UnsafeExpression(f"{name}(...) cannot be rebuilt: {str(exc)[:200]}") from None
