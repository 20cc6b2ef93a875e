"""`python -m autograde` leaves quickly once the command returned: with its exit code, everything
it printed, and every other exit handler run first."""
from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import atexit, sys
import autograde.__main__ as entry
from autograde import cli

def main():
    atexit.register(lambda: open(sys.argv[1], "w").write("closed"))  # as a kept fork server's close is
    print("\\n".join(f"line {n}" for n in range(20000)))
    return 3

cli.main = main
entry.run()
"""


def test_the_exit_code_the_output_and_the_exit_handlers_survive_the_quick_exit(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "handler")], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[-1] == "line 19999" and len(done.stdout.splitlines()) == 20000
    assert (tmp_path / "handler").read_text() == "closed"

