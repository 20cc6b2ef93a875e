"""Read docs/course-contract.md the way a reader does: a `### <id>` section per notebook whose
bullets open with the names a student defines (`- \\`name(args)\\` — meaning`)."""
from __future__ import annotations

import json
import re
from pathlib import Path

SECTION = re.compile(r"^### (\d\d_[a-z0-9_]+)\n(.*?)(?=^#{1,3} |\Z)", re.M | re.S)
BULLET_LEAD = re.compile(r"^- (.*?) —(?: |$)", re.M)
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)")


def names_by_notebook(contract_text: str) -> dict[str, set[str]]:
    """assignment id → the names its section says a student defines."""
    return {aid: {name for lead in BULLET_LEAD.findall(body) for name in NAME.findall(lead)}
            for aid, body in SECTION.findall(contract_text)}


def graded_names(notebook: Path) -> set[str]:
    """The grade_ids of a solutions notebook's graded answer cells (code cells marked solution)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"] for c in cells
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")}
