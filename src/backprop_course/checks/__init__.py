"""The check library every test cell calls. Failures name the call, the result, the
expectation and the misconception, with a stable ``[tag]`` a class report can count."""
from .feedback import CheckFailure, Mistake, defined, passed
from .gradients import check_gradients, gradient_error, telling_ratio
from .numeric import as_float, as_float_array, call, check_call, check_value, close
from .symbolic import as_expression, check_expression, check_symbols, check_tuple, equivalent

__all__ = [
    "CheckFailure", "Mistake", "defined", "passed",
    "check_gradients", "gradient_error", "telling_ratio",
    "as_float", "as_float_array", "call", "check_call", "check_value", "close",
    "as_expression", "check_expression", "check_symbols", "check_tuple", "equivalent",
]
