"""The state machines the agents drive: drift monitor windows, performance windows, the label
join, the state codec and the write-behind store.

Pure like ``drift/``: no faust, no I/O, no clock, no environment. They are written against the
tiny key-value :class:`monitors.drift_monitor.StateStore`, so the same code runs on a faust table
in the worker (``tables/``) and on a dict in unit tests; a test checks the package imports no
faust, sqlalchemy, httpx or settings.
"""
