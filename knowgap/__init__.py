"""KnowGap: the host application (app factory, shared infrastructure, KnowGap's own domain)."""


def create_app(*args, **kwargs):
    from knowgap.app import create_app as factory

    return factory(*args, **kwargs)
