"""Every test here runs on asyncio's loop and on uvloop, as the fast path's do: uvloop
reads a socket before its protocol is joined, which once sent a request around the relay."""

from tests.proxy.fast_path.conftest import pytest_asyncio_loop_factories

__all__ = ["pytest_asyncio_loop_factories"]
