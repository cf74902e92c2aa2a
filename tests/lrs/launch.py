"""Runs ralph-malph's LRS API with its file-system backend; executed by ``.venv-lrs``'s Python.

What ``ralph runserver -b fs -h HOST -p PORT`` does (ralph/cli.py ``runserver``: it writes the
backend choice into the environment as ``RALPH_RUNSERVER_BACKEND=fs`` and calls
``uvicorn.run("ralph.api:app", host=…, port=…)``), with these differences:

* no ``reload=True``: runserver starts uvicorn's file watcher, which forks a second process and
  restarts the LRS whenever a ``*.py`` file under the working directory changes (this
  repository, while tests run);
* the file-system LRS backend appends. ralph 5.1.0's ``FSDataBackend`` writes with
  ``default_operation_type = CREATE`` (ralph/backends/data/fs.py), which refuses to write a
  file that exists, and the Statement Resource calls ``write`` without an operation type
  (ralph/api/routers/statements.py ``_write_statements``), so with the fs backend every POST
  after the first one answers ``500 Statements bulk indexation failed``. Its own ``APPEND``
  operation (``mode = "ab"``, same file) is what an LRS must do; nothing else changes;
* the backend's bookkeeping file survives a crash. ralph records every read and write of the
  statement file in ``history.json`` (``ralph/backends/data/mixins.py`` ``HistoryMixin``),
  which it rewrites in place (``open("w")`` then ``json.dump``); a process killed between
  the two leaves an empty file, and from then on every request answers 500 (``json.load`` of
  an empty file). The tests kill the LRS mid-delivery, as an outage does, so the history is
  written to a temporary file and renamed over the old one (atomic on POSIX); same content.
  For the same reason a request's statements are appended in one ``write`` call rather than
  one per statement through an 8 KiB buffer, so a kill leaves no half-written line behind
  (``parse_iterable_to_dict`` would refuse the file on every later read).

Usage: ``launch.py HOST PORT``; configuration through the usual ``RALPH_*`` variables
(``RALPH_AUTH_FILE``, ``RALPH_APP_DIR``, ``RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH``).
"""
import json
import os
import sys

os.environ["RALPH_RUNSERVER_BACKEND"] = "fs"

import uvicorn  # noqa: E402
from ralph.backends.data.base import BaseOperationType  # noqa: E402
from ralph.backends.data.fs import FSDataBackend  # noqa: E402
from ralph.backends.data.mixins import HistoryMixin  # noqa: E402
from ralph.backends.lrs.fs import FSLRSBackend  # noqa: E402
from ralph.conf import settings  # noqa: E402

FSLRSBackend.default_operation_type = BaseOperationType.APPEND


def write_history(self, history):
    path = settings.HISTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding=settings.LOCALE_ENCODING) as history_file:
        json.dump(history, history_file)
    os.replace(temporary, path)
    self._history = history


HistoryMixin.write_history = write_history
_write_bytes = FSDataBackend._write_bytes


def write_bytes_at_once(self, data, *args, **kwargs):
    return _write_bytes(self, [b"".join(data)], *args, **kwargs)


FSDataBackend._write_bytes = write_bytes_at_once

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run("ralph.api:app", host=host, port=port, log_level="warning",
                access_log=False)
