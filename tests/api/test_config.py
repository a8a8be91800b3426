"""Configuration: validated up front, with the offending field named."""

from __future__ import annotations

import pytest

from services.api import ApiConfig
from services.api.config import parse_peers
from services.common.errors import FieldError


def test_defaults_are_valid():
    config = ApiConfig(replica_id="api-1")
    assert config.max_skew_s == 5.0
    assert config.host == config.admin_host == "127.0.0.1"


def test_from_dict_takes_the_mesh_plan_shape():
    config = ApiConfig.from_dict(
        {
            "replica_id": "api-1",
            "host": "127.0.0.1",
            "port": "9001",
            "peers": {"api-2": "http://127.0.0.1:9002"},
            "keys": {"k1": "secret-one"},
            "response_keys": {"r1": "response-secret"},
            "admin_token": "t",
            "bootstrap_token": None,
            "max_skew_s": 3,
        }
    )
    assert config.port == 9001
    assert config.max_skew_s == 3.0
    assert config.peers == {"api-2": "http://127.0.0.1:9002"}
    assert config.bootstrap_token is None


def test_peers_from_cli_style_list():
    assert parse_peers(["api-2=http://127.0.0.1:9002"]) == {"api-2": "http://127.0.0.1:9002"}
    with pytest.raises(FieldError, match="NAME=URL"):
        parse_peers(["http://127.0.0.1:9002"])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "replica_id"),
        ({"replica_id": "api-1", "colour": "red"}, "colour"),
        ({"replica_id": "api-1", "port": 70000}, "port"),
        ({"replica_id": "api-1", "port": "eighty"}, "port"),
        ({"replica_id": "api-1", "peers": {"api-2": "127.0.0.1:9002"}}, "peers"),
        ({"replica_id": "api-1", "peers": {"api-1": "http://127.0.0.1:1"}}, "peers"),
        ({"replica_id": "api-1", "keys": {}}, "keys"),
        ({"replica_id": "api-1", "response_keys": {"bootstrap": "x"}}, "response_keys"),
        ({"replica_id": "api-1", "max_skew_s": 0}, "max_skew_s"),
        ({"replica_id": "api-1", "catalog_per_page": 900}, "catalog_per_page"),
        ({"replica_id": "api-1", "bootstrap_token": 7}, "bootstrap_token"),
        ({"replica_id": ""}, "replica_id"),
    ],
)
def test_bad_settings_name_the_field(data, field):
    with pytest.raises(FieldError) as info:
        ApiConfig.from_dict(data)
    assert info.value.field == field


def test_no_admin_token_is_fine_on_loopback():
    assert ApiConfig(replica_id="api-1", admin_token=None).admin_token is None


def test_no_admin_token_off_loopback_is_accepted_and_locks_the_admin_api():
    """A container started without its token must still come up (healthy, serving)."""
    config = ApiConfig.from_dict(
        {"replica_id": "api-1", "admin_host": "0.0.0.0", "admin_token": None}
    )
    assert (config.admin_token, config.admin_host) == (None, "0.0.0.0")
