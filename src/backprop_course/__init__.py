"""Student-facing helpers for the backpropagation course: checks, plots, widgets, data.

Nothing here contains a reference solution: checks compare against oracles computed from
first principles (SymPy, finite differences) or against values that live in hidden tests.
"""
__version__ = "0.1.0"
