"""The ``worker`` process of the Procfile (``python -m knowgap.jobs``): the job worker without
the web server. The application is built here, by the caller, and handed to the worker
(``knowgap.jobs.worker`` never imports the app factory)."""
from __future__ import annotations

import contextlib

from config import load_config
from knowgap.app import create_app
from knowgap.jobs.worker import Worker


def main() -> None:  # pragma: no cover - process entry point
    Worker(create_app(load_config(run_worker_thread=False))).run_forever()


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(KeyboardInterrupt):
        main()
