"""The private attributes of nbclient and nbgrader this package relies on, all in one place.

Each is used because the public API has no equivalent (see the functions). pyproject.toml pins
the versions they were read from (nbclient <0.12, nbgrader <0.10) and tests/test_internals.py
fails as soon as one of them is gone, so an upgrade breaks a test, not a grade.
"""
from __future__ import annotations

import atexit
import functools
import threading


def on_cell_timeout(client, handler) -> None:
    """nbclient calls ``await handler(timeout, cell)`` when a cell outlives its timeout (instead of
    interrupting the kernel: the grader kills it and skips the cell). Public only as a trait that
    cannot raise out of the execution loop."""
    client._async_handle_timeout = handler


def assign_resources(client, path: str) -> None:
    """What ``NotebookClient.execute`` does with its resources before starting a kernel: the
    kernel's working folder. The grader starts the kernel itself, so it calls this directly."""
    client._check_assign_resources({"metadata": {"path": path}})


def forget_cleanup(client) -> None:
    """nbclient registers an atexit hook per client that failed to start a kernel; a grader that
    runs thousands of notebooks would keep each client alive until it exits."""
    atexit.unregister(client._cleanup_kernel)


def sanitize_only(converter) -> None:
    """nbgrader's ``Autograde`` switched to its first pass (sanitizing): ``convert_single_notebook``
    then runs only the preprocessors that restore the course's cells into the submission."""
    converter._sanitizing = True
    converter._init_preprocessors()


def alembic_head_in_process() -> None:
    """nbgrader stamps every new gradebook with its schema version, which it learns by starting
    `alembic heads` in a new process (``nbgrader.api.get_alembic_version``): 1 to 5 s per gradebook,
    as that process imports nbgrader again. The same answer is read here once, in this process, from
    nbgrader's own migration scripts (through its private ``_temp_alembic_ini``)."""
    import functools

    from nbgrader import api as gradebook_api

    if getattr(gradebook_api.get_alembic_version, "in_process", False):
        return
    original = gradebook_api.get_alembic_version

    @functools.cache
    def head() -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        with gradebook_api._temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
            return ScriptDirectory.from_config(Config(ini)).get_current_head()

    head.in_process, head.original = True, original
    gradebook_api.get_alembic_version = head


SHARED_ENGINES = 8


def shared_engines() -> None:
    """nbgrader opens a new `Gradebook` (and so a new SQLAlchemy engine) in each preprocessor of each
    notebook, eleven per submission, and each one connected afresh: SQLAlchemy compiled every
    statement again and SQLite read the file's schema again. Engines are now made once per database
    URL in this process, by replacing the ``create_engine`` that ``nbgrader.api`` imported, and keep
    their connections: ``Gradebook.close`` ends its session (its connection goes back to the pool,
    its transaction rolled back) but no longer closes the pool (`_kept_connections`). The last
    `SHARED_ENGINES` URLs are kept; older ones are closed."""
    from nbgrader import api as gradebook_api

    if getattr(gradebook_api.create_engine, "shared", False):
        return
    original, engines, lock = gradebook_api.create_engine, {}, threading.Lock()

    def create_engine(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        with lock:  # the coordinator's gradebook thread and its main thread both open gradebooks
            engine = engines.pop(key, None) or _kept_connections(original(url, **_pinged(url), **options))
            engines[key] = engine  # the most recently used last
            while len(engines) > SHARED_ENGINES:
                _close_pool(engines.pop(next(iter(engines))))
        return engine

    create_engine.shared, create_engine.original = True, original
    gradebook_api.create_engine = create_engine


def _pinged(url) -> dict:
    """A server's pooled connection is checked before it is used again: one the server dropped (a
    restart) is replaced, not handed to nbgrader."""
    from sqlalchemy.engine import make_url

    return {} if make_url(url).get_backend_name() == "sqlite" else {"pool_pre_ping": True}


def _file_identity(path: str) -> tuple | None:
    import os

    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _kept_connections(engine):
    """``engine`` whose ``dispose`` (what ``Gradebook.close`` calls) keeps the pooled connections.
    A connection to a SQLite file is used again only while the file is the one it opened (same
    device and inode): one deleted and made again gets a new connection, never the old file's. A
    server's connection is pinged before it is used again. An in-memory database is left as it
    was: closing its last Gradebook still ends it."""
    from sqlalchemy import event, exc

    url = engine.url
    if url.get_backend_name() == "sqlite":  # a server's connections are pinged instead (`_pinged`)
        if url.database in (None, "", ":memory:") or "mode=memory" in str(url):
            return engine
        path = url.database

        @event.listens_for(engine, "connect")
        def opened(dbapi_connection, record):
            record.info["file"] = _file_identity(path)

        @event.listens_for(engine, "checkout")
        def same_file(dbapi_connection, record, proxy):
            if record.info.get("file") != _file_identity(path):
                raise exc.DisconnectionError("the gradebook file was replaced")  # the pool connects again

    engine.dispose = _keep
    return engine


def _keep(close: bool = True) -> None:
    """``Engine.dispose`` of an engine that keeps its connections (`_kept_connections`)."""


def _close_pool(engine) -> None:
    type(engine).dispose(engine)


class _SchemaOnce:
    """``jsonschema`` as nbgrader's cell-metadata check sees it, with ``validate`` keeping one
    validator per schema (`schema_checked_once`); every other name is jsonschema's own. Metadata
    that the schema compiled by fastjsonschema accepts passes at once (a twentieth of jsonschema's
    time); any other is validated by jsonschema, which raises its own error or lets it pass."""

    def __init__(self, module):
        self._module, self._validators, self._lock = module, {}, threading.Lock()

    def validate(self, instance, schema) -> None:
        import json

        import fastjsonschema
        from jsonschema import exceptions, validators

        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            entry = self._validators.get(key)
            if entry is None:
                kind = validators.validator_for(schema)
                kind.check_schema(schema)
                entry = self._validators[key] = (kind(schema), fastjsonschema.compile(schema))
        validator, compiled = entry
        try:
            compiled(instance)  # the schema compiled to Python by fastjsonschema (as nbformat does): valid
            return
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema decides, and gives its own error
        error = exceptions.best_match(validator.iter_errors(instance))  # as jsonschema.validate does
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(self._module, name)


def schema_checked_once() -> None:
    """nbgrader checks each cell's nbgrader metadata with ``jsonschema.validate(metadata, schema)``,
    which first checks the schema itself against JSON Schema's meta-schema: for every cell of every
    notebook, in the sanitize pass and again in scoring (a third of the sanitize pass). nbgrader's
    metadata module now sees a ``jsonschema`` whose ``validate`` checks each schema once and raises
    the same errors (`_SchemaOnce`)."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _SchemaOnce):
        common.jsonschema = _SchemaOnce(common.jsonschema)


def _sqlite_file(url) -> str | None:
    """The file of a SQLite database URL (a string or SQLAlchemy's URL), or None: a server or in memory."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _gradebook_file(engine) -> tuple | None:
    """(URL, device, inode) of a non-empty SQLite gradebook file, or None."""
    import os

    import sqlalchemy

    path = _sqlite_file(engine.url) if isinstance(engine, sqlalchemy.engine.Engine) else None
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (str(engine.url), found.st_dev, found.st_ino) if found and found.st_size else None


def _new_gradebook_file(db_url) -> bool:
    """Whether ``db_url`` names a SQLite file that is missing or empty: opening it makes a new gradebook."""
    import os

    path = _sqlite_file(db_url)
    try:
        return path is not None and os.stat(path).st_size == 0
    except OSError:
        return True


def course_checked_once() -> None:
    """Each `Gradebook` nbgrader opens ends its ``__init__`` with ``check_course``: a query for the
    course's row (made if missing) and a commit, about 1 ms, eleven times per submission. Here,
    once this process has checked a course in a SQLite gradebook file, later openings of the same
    file (device and inode) skip it: nbgrader never deletes a course. ``check_course`` called by
    anything but ``Gradebook.__init__``, a server database, and a file that is missing or empty
    when a Gradebook opens it (made again, even on the inode of the old one) are checked as
    nbgrader checks them."""
    import sqlalchemy
    from nbgrader import api as gradebook_api

    gradebook = gradebook_api.Gradebook
    if getattr(gradebook.check_course, "once", False):
        return
    original_init, original_check = gradebook.__init__, gradebook.check_course
    checked, opening, lock = set(), threading.local(), threading.Lock()

    def __init__(self, db_url, *args, **kwargs):
        if _new_gradebook_file(db_url):  # made again (maybe on the same inode): its course is checked again
            same = str(sqlalchemy.engine.make_url(db_url))
            with lock:
                checked.difference_update({key for key in checked if key[0][0] == same})
        opening.now = True
        try:
            original_init(self, db_url, *args, **kwargs)
        finally:
            opening.now = False

    def check_course(self, course_id="default_course", **kwargs):
        key = (_gradebook_file(self.engine), course_id)
        if getattr(opening, "now", False) and not kwargs and key[0] is not None:
            with lock:
                if key in checked:
                    return None  # Gradebook.__init__ does not use the course it returns
        course = original_check(self, course_id, **kwargs)
        if key[0] is not None:
            with lock:
                checked.add(key)
        return course

    functools.update_wrapper(__init__, original_init)
    functools.update_wrapper(check_course, original_check)
    check_course.once = True
    gradebook.__init__, gradebook.check_course = __init__, check_course


def tables_made_once() -> None:
    """Each `Gradebook` nbgrader opens (eleven per submission in autograde) asks the database for its
    table names and then runs SQLAlchemy's ``create_all``, one query per table, though the tables
    exist after the first. Here ``create_all`` and that question are answered once per SQLite
    gradebook file in this process: while the file is the same one (device and inode) and not empty,
    it holds nbgrader's tables. A file deleted and made again, an empty file, an in-memory or a
    server database are checked as nbgrader checks them."""
    import sqlalchemy
    from nbgrader import api as gradebook_api

    metadata = gradebook_api.Base.metadata
    if getattr(metadata.create_all, "once", False):
        return
    original_create_all, made, lock = metadata.create_all, set(), threading.Lock()

    class _Made:
        def get_table_names(self) -> list[str]:
            return sorted(metadata.tables)

    def inspect(subject, *args, **kwargs):
        with lock:
            done = _gradebook_file(subject) in made
        return _Made() if done else sqlalchemy.inspect(subject, *args, **kwargs)

    def create_all(bind=None, tables=None, checkfirst=True):
        whole = tables is None and checkfirst
        with lock:
            if whole and _gradebook_file(bind) in made:
                return
        original_create_all(bind=bind, tables=tables, checkfirst=checkfirst)
        key = _gradebook_file(bind) if whole else None  # the file exists now
        if key is not None:
            with lock:
                made.add(key)

    create_all.once, create_all.original = True, original_create_all
    metadata.create_all = create_all
    gradebook_api.inspect = inspect


def html_page_before_its_soup(exporter, nb, resources=None, **kw):
    """``HTMLExporter.from_notebook_node`` up to its BeautifulSoup pass: the notebook's lexer, its
    ``highlight_code`` and ``filter_data_type`` filters and its resources (through the private
    ``_init_resources`` and ``_nb_metadata``), then the template's page as ``(html, resources)``.
    The pass it leaves out gives images without alt text a default one and makes input and output
    areas focusable; `autograde.outputs.feedback_pages` does the latter itself on pages without
    images, and takes nbconvert's whole route for pages with them."""
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    langinfo = nb.metadata.get("language_info", {})
    lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
    highlight_code = exporter.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=exporter))
    resources = exporter._init_resources(resources)
    filter_data_type = WidgetsDataTypeFilter(notebook_metadata=exporter._nb_metadata, parent=exporter,
                                             resources=resources)
    exporter.register_filter("highlight_code", highlight_code)
    exporter.register_filter("filter_data_type", filter_data_type)
    return TemplateExporter.from_notebook_node(exporter, nb, resources, **kw)
