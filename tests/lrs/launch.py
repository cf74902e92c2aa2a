"""Runs ralph-malph's LRS API with its file-system backend; executed by ``.venv-lrs``'s Python.

What ``ralph runserver -b fs -h HOST -p PORT`` does (ralph/cli.py ``runserver``: it writes the
backend choice into the environment as ``RALPH_RUNSERVER_BACKEND=fs`` and calls
``uvicorn.run("ralph.api:app", host=…, port=…)``), with two differences:

* no ``reload=True``: runserver starts uvicorn's file watcher, which forks a second process and
  restarts the LRS whenever a ``*.py`` file under the working directory changes (this
  repository, while tests run);
* the file-system LRS backend appends. ralph 5.1.0's ``FSDataBackend`` writes with
  ``default_operation_type = CREATE`` (ralph/backends/data/fs.py), which refuses to write a
  file that exists, and the Statement Resource calls ``write`` without an operation type
  (ralph/api/routers/statements.py ``_write_statements``), so with the fs backend every POST
  after the first one answers ``500 Statements bulk indexation failed``. Its own ``APPEND``
  operation (``mode = "ab"``, same file) is what an LRS must do; nothing else changes.

Usage: ``launch.py HOST PORT``; configuration through the usual ``RALPH_*`` variables
(``RALPH_AUTH_FILE``, ``RALPH_APP_DIR``, ``RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH``).
"""
import os
import sys

os.environ["RALPH_RUNSERVER_BACKEND"] = "fs"

import uvicorn  # noqa: E402
from ralph.backends.data.base import BaseOperationType  # noqa: E402
from ralph.backends.lrs.fs import FSLRSBackend  # noqa: E402

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run("ralph.api:app", host=host, port=port, log_level="warning",
                access_log=False)
