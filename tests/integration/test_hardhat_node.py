"""The Hardhat dev node (tests/chain.py, tools/chain) as the chain tests will use it: web3
over HTTP, Hardhat's funded dev account, automined transactions, and restart/stop."""

from __future__ import annotations

import pytest
import requests
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound
from web3.types import TxParams

from tests.chain import HARDHAT_CHAIN_ID, HARDHAT_SECOND_KEY, HARDHAT_SIGNER_KEY, HardhatNode

pytestmark = pytest.mark.integration

PAYLOAD = bytes(range(1, 41))  # 40 bytes, none zero


def _web3(node: HardhatNode) -> Web3:
    # No retries: a stopped node must fail at once instead of after web3's backoff.
    return Web3(HTTPProvider(node.url, exception_retry_configuration=None))


def _send_self_transaction(w3: Web3, data: bytes) -> bytes:
    """Sign a 0-value transaction from account #0 to itself carrying ``data``; its hash."""
    sender = Account.from_key(HARDHAT_SIGNER_KEY).address
    tx: TxParams = {
        "chainId": HARDHAT_CHAIN_ID,
        "from": sender,
        "to": sender,
        "value": 0,
        "data": data,
        "nonce": w3.eth.get_transaction_count(sender),
    }
    tx["gas"] = w3.eth.estimate_gas(tx)
    priority_fee = w3.eth.max_priority_fee
    tx["maxPriorityFeePerGas"] = priority_fee
    tx["maxFeePerGas"] = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + priority_fee
    signed = Account.sign_transaction(tx, HARDHAT_SIGNER_KEY)
    return bytes(w3.eth.send_raw_transaction(signed.raw_transaction))


def test_node_reports_hardhat_chain_id(hardhat: HardhatNode) -> None:
    w3 = _web3(hardhat)
    assert hardhat.url == f"http://127.0.0.1:{hardhat.port}"
    assert w3.is_connected()
    assert w3.eth.chain_id == HARDHAT_CHAIN_ID == 31337


def test_dev_accounts_are_funded(hardhat: HardhatNode) -> None:
    w3 = _web3(hardhat)
    first = Account.from_key(HARDHAT_SIGNER_KEY).address
    second = Account.from_key(HARDHAT_SECOND_KEY).address
    assert first == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert second == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert w3.eth.accounts[:2] == [first, second]
    assert w3.eth.get_balance(first) >= Web3.to_wei(1000, "ether")


def test_signed_transaction_is_mined_with_its_data(hardhat: HardhatNode) -> None:
    w3 = _web3(hardhat)
    before = w3.eth.block_number
    tx_hash = _send_self_transaction(w3, PAYLOAD)

    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)  # automined
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == before + 1
    fetched = w3.eth.get_transaction(tx_hash)
    assert bytes(fetched["input"]) == PAYLOAD
    assert fetched["from"] == fetched["to"] == Account.from_key(HARDHAT_SIGNER_KEY).address
    # The raw JSON-RPC answer too, not only web3's decoding of it.
    raw = w3.provider.make_request("eth_getTransactionByHash", ["0x" + tx_hash.hex()])
    assert raw["result"]["input"] == "0x" + PAYLOAD.hex()


def test_restart_gives_a_fresh_chain(hardhat: HardhatNode) -> None:
    w3 = _web3(hardhat)
    tx_hash = _send_self_transaction(w3, PAYLOAD)
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert w3.eth.block_number >= 1
    port = hardhat.port

    hardhat.restart()

    assert hardhat.port == port
    assert w3.eth.block_number == 0
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction(tx_hash)
    assert w3.eth.get_transaction_count(Account.from_key(HARDHAT_SIGNER_KEY).address) == 0


def test_stopped_node_refuses_connections(hardhat: HardhatNode) -> None:
    w3 = _web3(hardhat)
    assert w3.eth.chain_id == HARDHAT_CHAIN_ID

    hardhat.stop()

    assert not hardhat.running
    with pytest.raises(requests.exceptions.ConnectionError):
        w3.eth.block_number  # noqa: B018  (the request is the point)


def test_fixture_restarts_a_stopped_node(hardhat: HardhatNode) -> None:
    """Runs after the test above stopped the node: the fixture has started it again."""
    assert hardhat.running
    assert _web3(hardhat).eth.chain_id == HARDHAT_CHAIN_ID
