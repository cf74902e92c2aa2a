"""AchieveUp accounts: sign-up, login, JWT sessions with rotating refresh tokens, guards.

Modules: ``passwords`` (policy and hashing), ``tokens`` (access JWTs, refresh tokens, the
denylist), ``store`` (the ``AchieveUp_Users`` collection and the public ``user`` shape),
``service`` (the use cases), ``guards`` (decorators and checks every AchieveUp route uses),
``routes`` (the ``/auth`` blueprint).
"""
