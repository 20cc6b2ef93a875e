"""Nbgrader glue: the API object, release, the sanitize and finish passes, deadlines, roster, repair."""
