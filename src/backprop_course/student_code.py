"""Running a student's function from a plot or widget: quietly, and with a message they can act on."""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np


@contextmanager
def quiet():
    """Run student code, and arithmetic on its results, without warnings reaching stderr."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def failure_message(error: Exception) -> str:
    """What to tell a student whose function raised ``error`` while a plot or widget called it."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = frame.tb_frame.f_code.co_name if frame is not None else "your function"
    if isinstance(error, NotImplementedError):
        return (f"{where} is still a stub (it raises NotImplementedError). Finish it, run its cell, "
                "then run this cell again.")
    if isinstance(error, NameError):
        return f"{error}: run the cells above (setup and your answers) first, then this cell again."
    return f"{where} raised {type(error).__name__}: {error}. Fix it, then run this cell again."
