from __future__ import annotations

import dataclasses
import json

import pytest

from services.common.errors import FieldError
from services.workload.config import Defences, WorkloadConfig, parse_address


def test_defaults_are_valid_and_every_defence_is_on() -> None:
    config = WorkloadConfig()
    assert config.dns.udp == "127.0.0.1:5353"
    assert [s.name for s in config.ntp.servers] == ["ntp-a", "ntp-b", "ntp-c"]
    assert config.ntp.naive().name == "ntp-a"
    assert all(dataclasses.asdict(config.defences).values())
    assert len(dataclasses.fields(Defences)) == 13


def test_round_trips_through_dict_and_json() -> None:
    config = WorkloadConfig.from_dict(
        {
            "dns": {"udp": "127.0.0.1:1053", "tcp": "127.0.0.1:2053"},
            "ntp": {
                "servers": ["ntp-x=127.0.0.1:1", {"name": "ntp-y", "address": "[::1]:2"}],
                "naive_server": "ntp-y",
            },
            "resilient": {"hedge_delay_s": 0.05, "max_attempts": 2},
            "defences": {"hedging": False},
            "prices": {"per_gb": 1},
            "api": {"response_keys": {"resp-1": "x", "resp-2": "y"}},
            "seed": 7,
        }
    )
    assert config.dns.tcp == "127.0.0.1:2053"
    assert config.ntp.naive().address == "[::1]:2"
    assert config.defences.hedging is False and config.defences.batch is True
    assert config.prices.per_gb == 1.0
    assert config.api.response_keys == {"resp-1": "x", "resp-2": "y"}
    assert WorkloadConfig.from_json(json.dumps(config.to_dict())) == config


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"dns": {"udpp": "x"}}, "dns.udpp"),
        ({"dns": {"udp": "no-port"}}, "dns.udp"),
        ({"journey": {"items": "ten"}}, "journey.items"),
        ({"defences": {"ttl": "yes"}}, "defences.ttl"),
        ({"ntp": {"naive_server": "ntp-z"}}, "ntp.naive_server"),
        ({"ntp": {"servers": []}}, "ntp.servers"),
        ({"resilient": {"ewma_alpha": 0}}, "resilient.ewma_alpha"),
        ({"bogus": 1}, "bogus"),
        ({"api": {"response_keys": {"resp-1": 1}}}, "api.response_keys"),
        ({"api": {"response_keys": {}}}, "api.response_keys"),
    ],
)
def test_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        WorkloadConfig.from_dict(data)
    assert caught.value.field == field


def test_addresses() -> None:
    assert parse_address("127.0.0.1:53") == ("127.0.0.1", 53)
    assert parse_address("[::1]:53") == ("::1", 53)
    with pytest.raises(FieldError):
        parse_address("127.0.0.1:0")
    with pytest.raises(FieldError):
        WorkloadConfig.from_json("[1]")
