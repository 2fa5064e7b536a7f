"""The one warning class every metric emits, so that callers (and the test suite) can filter it."""


class MetricWarning(UserWarning):
    """A caveat about a metric's value: it was computed, but read it with care (see the message)."""
