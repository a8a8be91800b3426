"""Addresses learnt at start: the Swarm stack's configs name services, nodes resolve them."""

from __future__ import annotations

import socket
import time

import pytest

from chaos.node.names import resolve_names


def test_a_config_without_placeholders_is_returned_as_is() -> None:
    config = {"host": "0.0.0.0", "peers": {"api-2": "http://10.0.0.2:8000"}}
    assert resolve_names(config) is config


def test_every_placeholder_becomes_an_address_in_strings_lists_and_mappings() -> None:
    config = {
        "dns": {"udp": "{{ip:localhost}}:53"},
        "servers": [{"address": "{{ip:localhost}}:1231"}],
        "zone": {"records": [{"values": ["{{ip:@self}}"]}]},
        "port": 53,
    }
    resolved = resolve_names(config, timeout_s=5)
    assert resolved["dns"]["udp"] == "127.0.0.1:53"
    assert resolved["servers"][0]["address"] == "127.0.0.1:1231"
    own = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)[0][4][0]
    assert resolved["zone"]["records"][0]["values"] == [own]
    assert resolved["port"] == 53


def test_a_name_that_never_resolves_is_named_in_the_error() -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"no address for no-such-node\.invalid within 1 s"):
        resolve_names({"upstream": "{{ip:no-such-node.invalid}}:53"}, timeout_s=1)
    assert time.monotonic() - started < 10
