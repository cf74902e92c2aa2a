"""Canvas sandbox: a deterministic fake Canvas LMS served over real loopback HTTP.

Used by the test suite, benchmarks and the local demo (``python -m tests.canvas_sandbox``).
See ``world`` for the generated data (users, tokens, ids) and ``server`` for the HTTP API,
throttling and fault injection.
"""

from .world import CourseSpec, DEFAULT_COURSES, World, build_world
from .server import SandboxServer, SandboxState

__all__ = ["SandboxServer", "SandboxState", "World", "CourseSpec", "DEFAULT_COURSES", "build_world"]
