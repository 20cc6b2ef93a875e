"""Rebuild a SymPy object from the ``sympy.srepr`` text that the untrusted process sent.

Nothing runs as Python: the text is parsed with ``ast`` and every node is checked against a
whitelist before the matching SymPy constructor is called (``sympify`` would use ``eval``).
Sums, products, powers and functions are rebuilt with ``evaluate=False``: the student's form
survives, and no costly evaluation runs while parsing. srepr prints the terms of a sum or
product in display order and splits a negative coefficient (``-6*x`` as ``Mul(-1, 6, x)``), so
the numbers of a product are multiplied and the terms put back in SymPy's canonical order: an
evaluated expression comes back structurally equal.

The checks evaluate what is rebuilt here (``rewrite``, ``simplify``, numbers substituted), so
an object whose evaluation could exhaust the checker is refused with `ExpressionTooLarge`
before it is built: text too long, too many nodes, nesting too deep, numbers with too many
digits, exponents beyond `MAX_EXPONENT`, and objects small as text but huge once evaluated or
multiplied out (``2**2**2**2**2``, ``(a + b + c)**1000``). The last are found by a cost model
(`_Cost`), computed for each node from its arguments' costs before the node is constructed.
"""
from __future__ import annotations

import ast
import math
import re
from functools import cmp_to_key
from typing import NamedTuple

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair


class UnsafeExpression(ValueError):
    """The text is not a SymPy object made only of whitelisted parts, within the limits."""


class ExpressionTooLarge(UnsafeExpression):
    """The text describes a whitelisted object too large or too deep to rebuild and check safely."""


# Bounds. Each is far above what an honest answer needs: the test
# test_every_honest_expression_is_accepted (tests/trusted/test_codec.py) decodes the solutions'
# values, every answer-bank entry and the test cells' own expressions (72 distinct ones); their
# largest value is noted with each bound.
#: Characters of srepr text (honest maximum 1,030: 05's chain cost written with tanh, expanded).
MAX_TEXT_LENGTH = 20_000
#: Python syntax nodes, about 3 per SymPy node (honest maximum 318).
MAX_SYNTAX_NODES = 10_000
#: Nesting of calls and argument lists (honest maximum 18: three sigmoids in a chain). SymPy's
#: algorithms recurse on it, and simplify takes seconds at 100 levels; Python's own parser
#: stops at 200 nested parentheses.
MAX_DEPTH = 100
#: Decimal digits of an integer (honest maximum 3); the codec accepts as many in plain ints.
MAX_INT_DIGITS = 2000
#: Significant digits of a Float's text: srepr prints every digit, so 1e308 takes 309.
MAX_FLOAT_DIGITS = 1000
#: Bits of a Float's precision, about 1,000 digits (the course uses 53 and 103).
MAX_FLOAT_PRECISION = 3400
#: |power of ten| of a Float. Python's floats reach 1e±308; beyond, mpmath's exp of a Float slows
#: down with the square of its digits (exp(1e1999*x) took 20 s per check, 1e4000 over 30 s).
MAX_FLOAT_EXPONENT = 400
#: |numerator| and denominator of a number exponent (honest maximum 2; σ's sixth derivative has 7).
MAX_EXPONENT = 1000
#: Bits of the exact number an object would evaluate to, each symbol standing for a small number
#: (SYMBOL_BITS; 05 substitutes x = 2, θ₃ = 2, y = 1/2). An integer of MAX_INT_DIGITS digits
#: takes 6,644 bits; 2**2**2**2**2 takes 65,537 and 2**(10**9) a billion (honest maximum 123).
MAX_VALUE_BITS = 16_384
#: Terms of an object with its powers and products of sums multiplied out, as cancel() and
#: simplify() may do: (a + b + c)**1000 has 501,501 (honest maximum 13).
MAX_TERMS = 20_000
#: Rows or columns of a matrix (the course's answers have none; an empty matrix can claim any width).
MAX_MATRIX_SIDE = 1000
SYMBOL_BITS = 2


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
_DECIMAL = re.compile(r"[-+]?(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?(?:[eE](?P<exponent>[-+]?[0-9]{1,7}))?")


def parse_srepr(text: str, max_length: int = MAX_TEXT_LENGTH, max_depth: int = MAX_DEPTH,
                max_int_digits: int = MAX_INT_DIGITS, max_nodes: int = MAX_SYNTAX_NODES) -> sp.Basic:
    """The SymPy object that ``text`` (``srepr`` output) describes; `ExpressionTooLarge` when it
    is beyond the bounds, `UnsafeExpression` when it is anything but whitelisted parts."""
    if type(text) is not str:
        raise UnsafeExpression(f"expected the text of srepr(...), got a {type(text).__name__}")
    if len(text) > max_length:
        raise ExpressionTooLarge(f"the expression text has {len(text)} characters; at most {max_length} are accepted")
    try:
        tree = ast.parse(text, mode="eval")
    except (MemoryError, RecursionError):
        raise ExpressionTooLarge("the expression is too deeply nested to read") from None
    except (SyntaxError, ValueError) as exc:
        message = getattr(exc, "msg", "") or type(exc).__name__
        # Python's parser stops at 200 nested parentheses and at integers of 4300 decimal digits.
        kind = ExpressionTooLarge if "nested" in message or "limit" in message else UnsafeExpression
        raise kind(f"not srepr text: {message[:100]}") from None
    for count, _ in enumerate(ast.walk(tree), 1):
        if count > max_nodes:
            raise ExpressionTooLarge(f"the expression has more than {max_nodes} syntax nodes")
    try:
        value = _Builder(text, max_depth, max_int_digits).build(tree.body, 1)
    except RecursionError:
        raise ExpressionTooLarge("the expression is too deeply nested to rebuild") from None
    if not isinstance(value, sp.Basic):
        raise UnsafeExpression(f"the text describes a {type(value).__name__}, not a SymPy object")
    return value


class _Builder:
    """One bottom-up walk of the syntax tree, rebuilding only whitelisted nodes."""

    def __init__(self, text: str, max_depth: int, max_int_digits: int):
        self.text, self.max_depth, self.max_int_digits = text, max_depth, max_int_digits
        self.int_bound = 10 ** max_int_digits
        # A Dummy is rebuilt as a fresh Dummy, one per (name, dummy_index, assumptions): equal
        # where the student's were equal, and never equal to a Dummy of the trusted process.
        self.dummies: dict = {}
        self.costs = _Costs()

    def segment(self, node: ast.AST) -> str:
        return repr((ast.get_source_segment(self.text, node) or "")[:80])

    def refuse(self, node: ast.AST, what: str):
        raise UnsafeExpression(f"{what} is not allowed: {self.segment(node)}")

    def admit(self, node: ast.AST, kind: str, args: list) -> None:
        """Refuse, before it is constructed, a node of ``kind`` whose evaluation could be too costly."""
        try:
            self.costs.combine(kind, args)
        except ExpressionTooLarge as exc:
            raise ExpressionTooLarge(f"{exc}: {self.segment(node)}") from None

    def build(self, node: ast.AST, depth: int):
        if depth > self.max_depth:
            raise ExpressionTooLarge(f"the expression is nested deeper than {self.max_depth} levels")
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
                raise ExpressionTooLarge(f"an integer has more than {self.max_int_digits} digits")
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
            self.admit(node, _KINDS.get(name, "function"), args)  # before Mul multiplies its numbers
            if name == "Mul":
                args = _canonical_order(self.one_coefficient(node, args), keep_noncommutative=True)
            elif name == "Add":
                args = _canonical_order(args, keep_noncommutative=False)
            return _make(name, _EVALUATED[name], args, evaluate=False)
        if name in _PLAIN:
            args = _expressions(name, args, kwargs)
            self.admit(node, "function", args)
            return _make(name, _PLAIN[name], args)
        if name in _SINGLETONS:
            _expect(name, args, kwargs, [])
            return _SINGLETONS[name]
        if name in _MATRICES:
            return self.matrix(node, name, args, kwargs)
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
        args = _expressions(name, args, kwargs)
        self.admit(node, "function", args)
        return _make(name, sp.Function(name), args, evaluate=False)

    def one_coefficient(self, node: ast.AST, factors: list) -> list:
        """`_one_coefficient`, refusing a product of Floats beyond `MAX_FLOAT_EXPONENT`."""
        factors = _one_coefficient(factors)
        if factors and isinstance(factors[0], sp.Float) and not _float_in_range(factors[0]):
            raise ExpressionTooLarge(f"a product of numbers is beyond 1e±{MAX_FLOAT_EXPONENT}: {self.segment(node)}")
        return factors

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
            digits = match.group("whole") + (match.group("fraction") or "") if match else ""
            if not digits:
                raise UnsafeExpression(f"Float() needs a decimal number, got {value[:40]!r}")
            if len(digits) > MAX_FLOAT_DIGITS:
                raise ExpressionTooLarge(f"Float() needs a decimal number of at most {MAX_FLOAT_DIGITS} digits, "
                                         f"got {len(digits)}")
            power = _decimal_exponent(digits, len(match.group("whole")), int(match.group("exponent") or 0))
        else:
            power = math.floor(math.log10(abs(value))) if value else 0
        if abs(power) > MAX_FLOAT_EXPONENT:
            raise ExpressionTooLarge(f"Float() is beyond 1e±{MAX_FLOAT_EXPONENT}: {str(value)[:40]!r}")
        if precision is None:  # SymPy's default: as many digits as the text has, at most MAX_FLOAT_DIGITS
            return _make("Float", sp.Float, [value])
        if type(precision) is not int or not 0 < precision <= MAX_FLOAT_PRECISION:
            raise ExpressionTooLarge(f"precision= of Float() must be an integer from 1 to {MAX_FLOAT_PRECISION} (bits)")
        return _make("Float", sp.Float, [value], precision=precision)

    def matrix(self, node: ast.AST, name: str, args: list, kwargs: dict):
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
        if max(rows, cols) > MAX_MATRIX_SIDE:
            raise ExpressionTooLarge(f"{name}() has {max(rows, cols)} rows or columns; at most {MAX_MATRIX_SIDE}")
        flat = _expressions(name, flat, kwargs)
        self.admit(node, "function", flat)
        return _make(name, sp.ImmutableMatrix, [rows, cols, flat])


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
    except Exception as exc:  # SymPy's own refusal, e.g. a wrong number of arguments  # noqa: BLE001
        raise UnsafeExpression(f"{name}(...) cannot be rebuilt: {str(exc)[:200]}") from None


def _decimal_exponent(digits: str, whole_digits: int, exponent: int) -> int:
    """The power of ten of the leading digit of a decimal number (0 for zero)."""
    significant = digits.lstrip("0")
    if not significant:
        return 0
    return whole_digits - (len(digits) - len(significant)) - 1 + exponent


_LOG2_10 = math.log2(10)


def _float_in_range(number: sp.Float) -> bool:
    _, mantissa, exponent, bits = number._mpf_
    return not mantissa or abs(exponent + bits) <= MAX_FLOAT_EXPONENT * _LOG2_10 + 1


class _Cost(NamedTuple):
    """Upper bounds of what evaluating an object may build, each symbol standing for a small
    number: an object within them cannot exhaust the checker however the checks evaluate it."""

    bits: int  # of the exact number it evaluates to (numerator and denominator)
    magnitude: int  # of |log2 |value||: how far a power of it (2**x) can grow or shrink
    terms: int  # of the object with its powers and products of sums multiplied out


_SYMBOL_COST = _Cost(SYMBOL_BITS, SYMBOL_BITS, 1)
#: How a node combines its arguments' costs; any other node is a "function": its value is as
#: large as its largest argument (Abs, Max, re ...), and it is one term, a generator.
_KINDS = {"Add": "add", "Mul": "mul", "Pow": "pow", "exp": "grows", "sinh": "grows", "cosh": "grows",
          "floor": "integer-part", "ceiling": "integer-part"}
_KIND_OF_TYPE = ((sp.Add, "add"), (sp.Mul, "mul"), (sp.Pow, "pow"), (sp.exp, "grows"), (sp.sinh, "grows"),
                 (sp.cosh, "grows"), (sp.floor, "integer-part"), (sp.ceiling, "integer-part"))
_CAP = 2 ** 64  # a bound far beyond every limit: costs are capped there, so they stay small integers


class _Costs:
    """The `_Cost` of each object built so far, kept with the object so that its id stays its own."""

    def __init__(self):
        self.known: dict[int, tuple[sp.Basic, _Cost]] = {}

    def of(self, obj: sp.Basic) -> _Cost:
        entry = self.known.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        if not obj.args:
            cost = _atom_cost(obj)
        else:
            kind = next((name for cls, name in _KIND_OF_TYPE if isinstance(obj, cls)), "function")
            cost = self.combine(kind, list(obj.args))
        self.known[id(obj)] = (obj, cost)
        return cost

    def combine(self, kind: str, args: list) -> _Cost:
        """The cost of a node of ``kind`` with ``args``, or `ExpressionTooLarge` beyond the bounds."""
        costs = [self.of(arg) for arg in args]
        if kind == "pow" and len(args) == 2:
            cost = _power_cost(args[1], costs[0], costs[1])
        elif kind == "add":  # a sum may cancel to almost 0: only its exact size bounds 1/|value|
            bits = sum(c.bits for c in costs)
            cost = _Cost(bits, bits, sum(c.terms for c in costs))
        elif kind == "mul":
            cost = _Cost(sum(c.bits for c in costs), sum(c.magnitude for c in costs), math.prod(c.terms for c in costs))
        else:
            bits = max((c.bits for c in costs), default=SYMBOL_BITS)
            magnitude = max((c.magnitude for c in costs), default=SYMBOL_BITS)
            if kind == "grows":  # |log2 e**a| < 1.45 |a|: exp(exp(100)) has 2**144 digits before the point
                magnitude = math.ceil(1.45 * 2 ** min(magnitude, 64))
            elif kind == "integer-part":  # floor(e**1000) is an integer of 1443 bits
                bits = max(bits, magnitude)
            cost = _Cost(bits, magnitude, 1)
        cost = _Cost(*(min(value, _CAP) for value in cost))
        if cost.bits > MAX_VALUE_BITS:
            raise ExpressionTooLarge(f"evaluated, this could be a number of {_digits(cost.bits)} digits "
                                     f"(powers of powers, or products of large numbers); at most "
                                     f"{math.floor(MAX_VALUE_BITS / _LOG2_10):,} digits are accepted")
        if cost.terms > MAX_TERMS:
            raise ExpressionTooLarge(f"multiplied out, this could have {_count(cost.terms)} terms; "
                                     f"at most {MAX_TERMS:,} are accepted")
        return cost


def _atom_cost(obj: sp.Basic) -> _Cost:
    if isinstance(obj, sp.Rational):  # |log2 (p/q)| <= the larger of log2 |p| and log2 q
        top, bottom = abs(obj.p), obj.q
        return _Cost(max(top.bit_length(), 1) + bottom.bit_length() - 1,
                     max((top - 1).bit_length(), (bottom - 1).bit_length()), 1)
    if isinstance(obj, sp.Float):  # mantissa * 2**exponent
        _, mantissa, exponent, bits = obj._mpf_
        if not mantissa:
            return _Cost(1, 0, 1)
        return _Cost(bits + abs(exponent), abs(exponent + bits) + 1, 1)
    return _SYMBOL_COST  # a symbol, pi, E, I, oo, nan, true ...


def _power_cost(exponent: sp.Basic, base: _Cost, power: _Cost) -> _Cost:
    """base**exponent: a number exponent must be within ±MAX_EXPONENT; the result grows with it."""
    if isinstance(exponent, (sp.Rational, sp.Float)):
        if isinstance(exponent, sp.Rational):
            top, bottom = abs(exponent.p), exponent.q
        else:
            top, bottom = (abs(float(exponent)) if _float_in_range(exponent) else math.inf), 1
        if top > MAX_EXPONENT:
            raise ExpressionTooLarge(f"a power's exponent is {_short(exponent)}, beyond ±{MAX_EXPONENT}")
        if bottom > MAX_EXPONENT:
            raise ExpressionTooLarge(f"a power's exponent is {_short(exponent)}, whose denominator is "
                                     f"beyond {MAX_EXPONENT}")
        times = max(math.ceil(top / bottom), 1)
        whole = math.floor(top / bottom)
        return _Cost(base.bits * times, base.magnitude * times, _expanded_terms(whole, base.terms) if whole else 1)
    # A symbolic exponent (or an unevaluated number: 2**(2**2)) is at most 2**magnitude in size.
    times = 2 ** min(power.magnitude, 64)
    return _Cost(base.bits * times, base.magnitude * times, 1)


def _expanded_terms(power: int, terms: int) -> int:
    """Terms of (a sum of ``terms`` terms)**power multiplied out, C(power + terms - 1, power), capped."""
    if terms <= 1 or power <= 1:
        return terms if power == 1 else 1
    n, k = power + terms - 1, min(power, terms - 1)
    count = 1
    for i in range(1, k + 1):  # C(n - k + i, i): an integer at every step, and growing
        count = count * (n - k + i) // i
        if count > _CAP:
            break
    return count


def _digits(bits: int) -> str:
    return f"up to {math.ceil(bits / _LOG2_10):,}" if bits < _CAP else "more than 10**18"


def _count(number: int) -> str:
    return f"up to {number:,}" if number < _CAP else "more than 10**19"


def _short(number: sp.Basic) -> str:
    """A number, or how many digits it has (an integer here has at most MAX_INT_DIGITS)."""
    if isinstance(number, sp.Rational) and max(abs(number.p), number.q).bit_length() > 96:
        return f"a number of {len(str(max(abs(number.p), number.q))):,} digits"
    return str(number)[:30]
