"""Trusted grading: plain data between the student's untrusted process and the trusted checker."""
