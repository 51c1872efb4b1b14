"""Integration fixtures: the machine's real PostgreSQL (database `test`) and Redis.

Each test session migrates a private schema of the `test` database (so parallel runs and
other users of that database are left alone) and drops it at the end; every test's rows
are deleted after it. Redis tests use logical database 15, flushed around each test.
`hardhat` is a real Ethereum JSON-RPC dev node (Hardhat v2, tools/chain; see tests/chain.py),
`ipfs_daemon` a real IPFS HTTP RPC API (js-ipfs, tools/ipfs; see tests/ipfs_node.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.engine import make_url

from tests.chain import HardhatNode
from tests.conftest import test_config
from tests.integration.celery_fixtures import (  # noqa: F401  (fixtures for every module here)
    broker_url,
    celery,
    worker,
    worker_env,
)
from tests.ipfs_node import JsIpfsDaemon
from tests.pg import migrated_schema
from tests.procs import LoopbackServer
from tests.services import POSTGRES_ADMIN_URL, REDIS_TEST_URL, require

pytestmark = pytest.mark.integration


def _pg_host_port() -> tuple[str, int]:
    url = make_url(POSTGRES_ADMIN_URL)
    return url.host or "127.0.0.1", url.port or 5432


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A freshly migrated schema in the `test` database; its URL pins the search_path."""
    require("PostgreSQL", *_pg_host_port())
    with migrated_schema("zt_test") as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = make_url(REDIS_TEST_URL.replace("redis://", "postgresql://"))
    require("Redis", url.host or "127.0.0.1", url.port or 6379)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


@pytest.fixture
def base_config(pg_schema_url: str, redis_url: str, ipfs_dir: Path) -> dict[str, Any]:
    """Overrides the unit config: real PostgreSQL and Redis, services mode."""
    return test_config(
        APP_MODE="services",
        SQLALCHEMY_DATABASE_URI=pg_schema_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL="memory://",
        IPFS_BLOCKSTORE_DIR=str(ipfs_dir),
    )


@pytest.fixture(scope="session")
def _hardhat_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardhatNode]:
    """One Hardhat node for the session (starting one takes about a second)."""
    node = HardhatNode(tmp_path_factory.mktemp("hardhat"))
    node.start()
    yield node
    node.stop()


@contextmanager
def _kept_running(server: LoopbackServer) -> Iterator[None]:
    """Around a test: a session server running, restarted (same port) if the test stopped it."""
    if not server.running:
        server.start(port=server.port)
    yield
    if not server.running:
        server.start(port=server.port)


@pytest.fixture
def hardhat(_hardhat_node: HardhatNode) -> Iterator[HardhatNode]:
    """The session's Hardhat node, running; restarted (same port) if a test stopped it.

    Chain state carries over between tests; a test that needs a pristine chain (block 0)
    calls ``hardhat.restart()`` first.
    """
    with _kept_running(_hardhat_node):
        yield _hardhat_node


@pytest.fixture(scope="session")
def _ipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsDaemon]:
    """One js-ipfs daemon for the session (starting one takes a few seconds)."""
    daemon = JsIpfsDaemon(tmp_path_factory.mktemp("jsipfs"))
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def ipfs_daemon(_ipfs_daemon: JsIpfsDaemon) -> Iterator[JsIpfsDaemon]:
    """The session's js-ipfs daemon, running; restarted (same port, same repository) if a
    test stopped it. Content added by one test stays for the next."""
    with _kept_running(_ipfs_daemon):
        yield _ipfs_daemon
