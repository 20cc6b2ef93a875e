"""Instructor tooling for the course: release notebooks, build and grade submissions, report scores.

Built on nbgrader (its API and gradebook), so the formgrader and `nbgrader export` keep working.
Student-facing helpers live apart, in the `backprop_course` package.
"""
