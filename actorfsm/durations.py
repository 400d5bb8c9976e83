"""Validation of the durations the API accepts: seconds or a ``timedelta``.

Every public call that takes a delay or timeout goes through here, so a bad
value fails at the call with one clear ``ValueError`` instead of later in the
scheduler thread.
"""

from __future__ import annotations

import math
from datetime import timedelta

Duration = float | int | timedelta
"""A duration the API accepts: seconds (int or float) or a ``timedelta``."""


def to_seconds(value: object, what: str) -> float:
    """Return ``value`` as non-negative seconds (``inf`` allowed) or raise ``ValueError``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        msg = f"{what} must be seconds (int or float) or a timedelta, got {value!r}"
        raise ValueError(msg)
    if math.isnan(seconds) or seconds < 0:
        msg = f"{what} must not be negative or NaN, got {value!r}"
        raise ValueError(msg)
    return seconds


def seconds(value: Duration) -> float:
    """A duration already validated (by :func:`to_seconds`) as float seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def to_optional_timeout(value: object, what: str) -> float | None:
    """Like :func:`to_seconds`, but ``None`` and ``inf`` both mean "no timeout" (``None``)."""
    if value is None:
        return None
    seconds = to_seconds(value, what)
    return None if math.isinf(seconds) else seconds
