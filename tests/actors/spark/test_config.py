"""ConnectorConfig: the documented defaults, wrong values refused where they are made."""

from __future__ import annotations

import pytest

from actors.spark.config import INTERVALS, MIN_SECONDS, ConnectorConfig


def test_the_defaults_are_spark_md_s() -> None:
    config = ConnectorConfig("/dev/ttyACM0")
    assert (config.ping_interval, config.handshake_timeout, config.command_timeout) == (
        1.0,
        120.0,
        10.0,
    )
    assert (config.reconnect_min, config.reconnect_factor, config.reconnect_max) == (2.0, 1.5, 30.0)
    assert config.broadcast_interval == 5.0 and config.device_id == ""


def test_the_backoff_grows_by_the_factor_up_to_the_maximum() -> None:
    config = ConnectorConfig("socket://spark:8332")
    waits = [config.reconnect_min]
    while waits[-1] < config.reconnect_max:
        waits.append(config.next_interval(waits[-1]))
    assert waits[:4] == [2.0, 3.0, 4.5, 6.75] and waits[-1] == 30.0


@pytest.mark.parametrize(
    "settings",
    [
        {"device_url": " "},
        {"ping_interval": 0},
        {"command_timeout": -1.0},
        {"handshake_timeout": float("inf")},
        {"broadcast_interval": float("nan")},
        {"reconnect_min": True},
        {"reconnect_factor": 0.5},
        {"reconnect_min": 5.0, "reconnect_max": 1.0},
        {"device_id": "AB CD"},
    ],
)
def test_wrong_values_raise_value_error(settings: dict[str, object]) -> None:
    arguments: dict[str, object] = {"device_url": "socket://spark:8332"} | settings
    with pytest.raises(ValueError, match=next(iter(settings))):
        ConnectorConfig(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", INTERVALS)
def test_intervals_below_the_floor_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be at least {MIN_SECONDS:g} s"):
        ConnectorConfig("socket://spark:8332", **{"reconnect_max": 30.0, name: 1e-9})
    at_the_floor = {"reconnect_min": MIN_SECONDS, name: MIN_SECONDS}
    assert getattr(ConnectorConfig("socket://spark:8332", **at_the_floor), name) == MIN_SECONDS
