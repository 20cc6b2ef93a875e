"""The private nbclient and nbgrader attributes `autograde.internals` uses still exist, with the
meaning it relies on: an upgrade that removes one fails here, not in a student's grade."""
from __future__ import annotations

import inspect
import os

import nbclient.client
from nbclient import NotebookClient
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute


def test_nbclient_still_has_the_hooks_the_grader_uses():
    assert inspect.iscoroutinefunction(NotebookClient._async_handle_timeout)
    assert list(inspect.signature(NotebookClient._async_handle_timeout).parameters)[1:] == ["timeout", "cell"]
    assert "await self._async_handle_timeout(timeout, cell)" in inspect.getsource(nbclient.client)
    assert callable(Execute._check_assign_resources) and callable(NotebookClient._cleanup_kernel)


def test_nbgrader_autograde_still_sanitizes_in_a_first_pass():
    source = inspect.getsource(Autograde)
    assert "self._sanitizing" in source and "def _init_preprocessors" in source


def test_new_gradebooks_get_the_schema_version_alembic_itself_gives():
    """`autograde.internals.alembic_head_in_process` answers nbgrader's question in process; the
    answer is the one nbgrader's own `alembic heads` process gives, and nbgrader still asks it."""
    from nbgrader import api as gradebook_api

    from autograde import internals
    from autograde.course.nbgrader_app import ensure_tools_on_path

    internals.alembic_head_in_process()
    ensure_tools_on_path()
    assert gradebook_api.get_alembic_version.in_process
    assert gradebook_api.get_alembic_version() == gradebook_api.get_alembic_version.original()
    assert "alembic_version = get_alembic_version()" in inspect.getsource(gradebook_api.Gradebook.__init__)
    assert "_temp_alembic_ini" in inspect.getsource(gradebook_api.get_alembic_version.original)


def test_gradebooks_of_one_database_share_an_engine_and_keep_its_compiled_sql(tmp_path):
    """`autograde.internals.shared_engines`: nbgrader still makes its engine with the
    ``create_engine`` it imported, a second Gradebook of the same URL gets the same engine (its
    compiled statements are reused) and its connection, and closing a Gradebook gives its
    connection back."""
    from nbgrader import api as gradebook_api
    from sqlalchemy import event

    from autograde import internals

    internals.shared_engines()
    assert "self.engine = create_engine(db_url" in inspect.getsource(gradebook_api.Gradebook.__init__)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with gradebook_api.Gradebook(url) as first:
        first.add_student("ada")
        engine = first.engine
    assert engine.pool.checkedout() == 0
    connects = []
    event.listen(engine, "connect", lambda *args: connects.append(1))
    with gradebook_api.Gradebook(url) as second:
        assert second.engine is engine and second.find_student("ada").id == "ada"
        cached = len(engine._compiled_cache)
    with gradebook_api.Gradebook(url) as again:
        assert again.find_student("ada").id == "ada"
    assert cached > 0 and len(engine._compiled_cache) == cached  # nothing compiled again
    assert not connects  # nor connected again
    others = [gradebook_api.Gradebook(f"sqlite:///{tmp_path / f'g{n}.db'}") for n in range(internals.SHARED_ENGINES)]
    for gradebook in others:
        gradebook.close()
    with gradebook_api.Gradebook(url) as third:
        assert third.engine is not engine  # the least recently used URL made room


def test_a_kept_gradebook_connection_is_not_used_on_a_file_that_was_replaced(tmp_path):
    """`autograde.internals.shared_engines` keeps SQLite connections between Gradebooks only while the
    file is the one they opened: a gradebook file replaced under the grader (restored from a backup,
    made again) is read from the new file, not from the old one a kept connection still holds."""
    import shutil

    from nbgrader import api as gradebook_api

    from autograde import internals

    internals.shared_engines()
    internals.tables_made_once()
    path, backup = tmp_path / "gradebook.db", tmp_path / "backup.db"
    with gradebook_api.Gradebook(f"sqlite:///{backup}") as other:
        other.add_student("bob")
    url = f"sqlite:///{path}"
    with gradebook_api.Gradebook(url) as gb:
        gb.add_student("ada")
    with gradebook_api.Gradebook(url) as gb:
        assert [s.id for s in gb.students] == ["ada"]
        assert gb.engine.pool.checkedout() == 1
    shutil.copy(backup, tmp_path / "restored.db")
    os.replace(tmp_path / "restored.db", path)
    with gradebook_api.Gradebook(url) as gb:
        assert [s.id for s in gb.students] == ["bob"]
    path.unlink()
    with gradebook_api.Gradebook(url) as gb:
        assert gb.students == []


def test_an_html_page_before_its_soup_is_what_nbconverts_html_exporter_renders_before_its_soup():
    """`autograde.internals.html_page_before_its_soup` repeats HTMLExporter.from_notebook_node's steps
    before its BeautifulSoup pass, and that pass still only gives images alt text and makes input
    and output areas focusable (what `FeedbackExporter` does itself on pages without images)."""
    from nbconvert.exporters import HTMLExporter

    source = inspect.getsource(HTMLExporter.from_notebook_node)
    before, soup = source.split("soup = BeautifulSoup(html", 1)
    for step in ('Highlight2HTML(pygments_lexer=lexer, parent=self)', "resources = self._init_resources(resources)",
                 "notebook_metadata=self._nb_metadata, parent=self, resources=resources",
                 'self.register_filter("highlight_code", highlight_code)',
                 'self.register_filter("filter_data_type", filter_data_type)',
                 "html, resources = super().from_notebook_node(nb, resources, **kw)"):
        assert step in before
    assert soup.count(".select(") == 3 and 'soup.select("img:not([alt])")' in soup
    assert 'soup.select(".jp-Notebook div.jp-Cell-inputWrapper")' in soup
    assert 'soup.select(".jp-Notebook div.jp-OutputArea-output")' in soup
    assert soup.count('elem.attrs["tabindex"] = "0"') == 2 and "return str(soup), resources" in soup


def test_cell_metadata_is_checked_against_a_schema_checked_once_with_jsonschemas_own_errors():
    """`autograde.internals.schema_checked_once`: nbgrader still validates cell metadata with
    ``jsonschema.validate`` from its module's ``jsonschema``; valid metadata passes, invalid metadata
    raises the error jsonschema itself raises, and the schema is checked once."""
    import jsonschema
    from nbformat.v4 import new_code_cell
    from nbgrader.nbgraderformat import MetadataValidator, common

    from autograde import internals

    internals.schema_checked_once()
    assert "jsonschema.validate(cell.metadata['nbgrader'], self.schema)" in inspect.getsource(common)
    checker = MetadataValidator()
    good = {"grade": True, "grade_id": "test_a", "locked": True, "points": 1, "schema_version": 3, "solution": False}
    checker.validate_cell(new_code_cell("x = 1", metadata={"nbgrader": good}))
    bad = {**good, "points": "one"}
    try:
        jsonschema.validate(bad, checker.schema)
    except jsonschema.ValidationError as error:
        expected = error.message
    try:
        checker.validate_cell(new_code_cell("x = 1", metadata={"nbgrader": bad}))
        raise AssertionError("invalid metadata passed")
    except jsonschema.ValidationError as error:
        assert error.message == expected
    assert len(common.jsonschema._validators) == 1


def _metadata_variants() -> list:
    """nbgrader metadata as the course's notebooks have it, then each field removed, nulled, given
    another type, and an unknown field added: what a damaged or forged submission may carry."""
    import json

    from autograde.course.release import REPO

    found = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "nbgrader" in cell.get("metadata", {}):
                found.append(cell["metadata"]["nbgrader"])
    kinds = {json.dumps({k: type(v).__name__ if k in ("grade_id", "points") else v for k, v in m.items()},
                        sort_keys=True): m for m in found}  # one of each kind of cell
    variants = []
    for meta in kinds.values():
        variants.append(meta)
        for key in meta:
            variants.append({k: v for k, v in meta.items() if k != key})
            for other in (None, "1", 1, 1.5, True, [], {}, -3):
                variants.append({**meta, key: other})
        variants.append({**meta, "bonus": 1000})
    return variants


def test_the_compiled_schema_lets_through_exactly_what_jsonschema_does():
    """The fast check (fastjsonschema's compiled schema) never accepts metadata that jsonschema
    rejects: on every variant, nbgrader's check raises exactly when jsonschema does, with its error."""
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator, common

    from autograde import internals

    internals.schema_checked_once()
    schema = MetadataValidator().schema
    variants = _metadata_variants()
    rejected = 0
    for meta in variants:
        try:
            jsonschema.validate(meta, schema)
            expected = None
        except jsonschema.ValidationError as error:
            expected, rejected = error.message, rejected + 1
        try:
            common.jsonschema.validate(meta, schema)
            got = None
        except jsonschema.ValidationError as error:
            got = error.message
        assert got == expected, meta
    assert len(variants) > 100 and 0 < rejected < len(variants)


def test_a_gradebook_files_tables_are_made_once_and_checked_again_when_the_file_is_new(tmp_path):
    """`autograde.internals.tables_made_once`: nbgrader still asks ``inspect`` for the table names and
    runs ``create_all`` in `Gradebook.__init__`; after the first Gradebook of a file, later ones do
    not ask the database about its tables, until the file is deleted and made again."""
    from nbgrader import api as gradebook_api
    from sqlalchemy import event

    from autograde import internals

    internals.shared_engines()
    internals.tables_made_once()
    source = inspect.getsource(gradebook_api.Gradebook.__init__)
    assert "inspect(self.engine).get_table_names()" in source and "Base.metadata.create_all(bind=self.engine)" in source
    path = tmp_path / "gradebook.db"
    url = f"sqlite:///{path}"
    with gradebook_api.Gradebook(url) as gb:
        gb.add_student("ada")
        engine = gb.engine
    asked = []

    def schema_query(conn, cursor, statement, *args):
        if "sqlite_master" in statement or "PRAGMA" in statement:
            asked.append(statement)

    event.listen(engine, "before_cursor_execute", schema_query)

    def students() -> int:
        with gradebook_api.Gradebook(url) as gb:
            assert gb.engine is engine
            return len(gb.students)

    assert students() == 1 and students() == 1 and not asked
    path.unlink()
    assert students() == 0 and asked  # a new, empty file: its tables are made (and stamped) again
    asked.clear()
    with gradebook_api.Gradebook(url) as gb:
        assert gb.db.execute(gradebook_api.text("SELECT version_num FROM alembic_version")).scalar()
    assert students() == 0 and not asked


def test_a_gradebook_files_course_is_checked_once_and_again_when_the_file_is_new(tmp_path):
    """`autograde.internals.course_checked_once`: `Gradebook.__init__` still ends with
    ``check_course``; after the first Gradebook of a file, later ones send no query for the course,
    until the file is deleted and made again. ``check_course`` called directly still checks."""
    from nbgrader import api as gradebook_api
    from sqlalchemy import event

    from autograde import internals

    internals.shared_engines()
    internals.tables_made_once()
    internals.course_checked_once()
    assert "self.check_course(course_id=course_id)" in inspect.getsource(gradebook_api.Gradebook.__init__)
    path = tmp_path / "gradebook.db"
    url = f"sqlite:///{path}"
    with gradebook_api.Gradebook(url, "backprop") as gb:
        engine = gb.engine
    asked = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: asked.append(statement) if "course" in statement else None)

    def courses() -> list[str]:
        with gradebook_api.Gradebook(url, "backprop") as gb:
            return [c.id for c in gb.db.query(gradebook_api.Course)]

    assert courses() == ["backprop"] and len(asked) == 1  # the listing only
    with gradebook_api.Gradebook(url, "backprop") as gb:
        assert gb.check_course("backprop").id == "backprop" and len(asked) > 1  # asked directly: checked
    path.unlink()
    asked.clear()
    assert courses() == ["backprop"] and len(asked) > 1  # a new file: the course is made again
