"""Anchoring Merkle roots on an Ethereum chain through web3, and reading them back.

An anchor is one ordinary transaction from the signer to itself, value 0, whose input data
is ``ANCHOR_MAGIC || batch id || first event id || last event id || Merkle root`` (three
unsigned 64-bit big-endian integers, then 32 bytes). No contract is needed: anyone holding
the transaction hash reads the root back with ``eth_getTransactionByHash`` from any node of
that chain, and the block it was mined in dates it.

Transactions are signed locally (the key never leaves the process) and kept with their
batch before they are broadcast, so a retry re-broadcasts the same transaction under the
same nonce: at most one of them can ever be mined.
"""

from __future__ import annotations

import re
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

# eth_account imports py_ecc, which raises the interpreter's recursion limit to 100,000 for
# the whole process. With that limit, a deeply nested JSON request body overflows the C
# stack and crashes the web process instead of raising RecursionError. Put it back (to
# CPython's default if something imported py_ecc before this module).
_PY_ECC_RECURSION_LIMIT = 100_000
_RECURSION_LIMIT = sys.getrecursionlimit()
if _RECURSION_LIMIT >= _PY_ECC_RECURSION_LIMIT:
    _RECURSION_LIMIT = 1000
import rlp  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.typed_transactions import TypedTransaction  # noqa: E402
from hexbytes import HexBytes  # noqa: E402
from web3 import HTTPProvider, Web3  # noqa: E402
from web3.exceptions import (  # noqa: E402
    BlockNotFound,
    TransactionNotFound,
    Web3Exception,
)

sys.setrecursionlimit(_RECURSION_LIMIT)

ANCHOR_MAGIC = b"ZTAUDIT1"
_ANCHOR_FORMAT = ">8sQQQ32s"
ANCHOR_DATA_LENGTH = struct.calcsize(_ANCHOR_FORMAT)
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
# A replacement must outbid the transaction it replaces; geth asks for 10 % more.
REPLACEMENT_BUMP_PERCENT = 112


class ChainError(RuntimeError):
    """The chain could not be used right now (node down, timeout, refused transaction)."""


class ChainConfigError(ChainError):
    """Anchoring is not set up correctly (no key, wrong chain id); the message says how."""


class AnchorDataError(ValueError):
    """A transaction's input is not an audit anchor."""


@dataclass(frozen=True)
class AnchorPayload:
    batch_id: int
    first_event_id: int
    last_event_id: int
    merkle_root: str  # hex

    def encode(self) -> bytes:
        return struct.pack(
            _ANCHOR_FORMAT,
            ANCHOR_MAGIC,
            self.batch_id,
            self.first_event_id,
            self.last_event_id,
            bytes.fromhex(self.merkle_root),
        )

    @classmethod
    def decode(cls, data: bytes) -> AnchorPayload:
        if len(data) != ANCHOR_DATA_LENGTH or not data.startswith(ANCHOR_MAGIC):
            raise AnchorDataError("the transaction's input is not an audit anchor")
        _, batch_id, first, last, root = struct.unpack(_ANCHOR_FORMAT, data)
        return cls(batch_id, first, last, root.hex())


@dataclass(frozen=True)
class SignedAnchor:
    tx_hash: str
    raw_tx: str  # hex of the signed transaction
    nonce: int
    signer: str


@dataclass(frozen=True)
class Inclusion:
    block_number: int
    block_hash: str
    succeeded: bool


@dataclass(frozen=True)
class AnchorOnChain:
    payload: AnchorPayload
    sender: str
    block_number: int | None
    block_hash: str | None
    succeeded: bool | None
    confirmations: int


def is_tx_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_TX_HASH.match(value))


def signer_address(private_key: str) -> str:
    return str(Account.from_key(private_key).address)


def _hex(value: Any) -> str:
    return HexBytes(value).to_0x_hex()


class ChainReader:
    """Read-only access to one JSON-RPC node: enough to verify anchors."""

    def __init__(self, rpc_url: str, timeout: float = 10) -> None:
        self.rpc_url = rpc_url
        # No provider-level retries: callers decide (tasks retry with backoff), and a node
        # that is down must fail fast rather than after web3's own retry schedule.
        self.w3 = Web3(
            HTTPProvider(
                rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
            )
        )

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (TransactionNotFound, BlockNotFound):
            raise
        except (requests.RequestException, OSError, Web3Exception, ValueError) as exc:
            raise ChainError(f"Ethereum node at {self.rpc_url}: {exc}") from exc

    def chain_id(self) -> int:
        return int(self._call(lambda: self.w3.eth.chain_id))

    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the newest block."""
        block = self._call(self.w3.eth.get_block, "latest")
        return int(block["number"]), int(block["timestamp"])

    def block_hash_at(self, number: int) -> str | None:
        try:
            return _hex(self._call(self.w3.eth.get_block, number)["hash"])
        except BlockNotFound:
            return None

    def inclusion(self, tx_hash: str) -> Inclusion | None:
        try:
            receipt = self._call(self.w3.eth.get_transaction_receipt, tx_hash)
        except TransactionNotFound:
            return None
        return Inclusion(
            block_number=int(receipt["blockNumber"]),
            block_hash=_hex(receipt["blockHash"]),
            succeeded=int(receipt["status"]) == 1,
        )

    def transaction_known(self, tx_hash: str) -> bool:
        try:
            self._call(self.w3.eth.get_transaction, tx_hash)
        except TransactionNotFound:
            return False
        return True

    def read_anchor(self, tx_hash: str) -> AnchorOnChain | None:
        """The anchor in ``tx_hash``, or None when this chain has no such transaction."""
        if not is_tx_hash(tx_hash):
            raise AnchorDataError(f"{tx_hash!r} is not a transaction hash (0x and 64 hex digits)")
        try:
            tx = self._call(self.w3.eth.get_transaction, tx_hash)
        except TransactionNotFound:
            return None
        payload = AnchorPayload.decode(bytes(tx["input"]))
        inclusion = self.inclusion(tx_hash) if tx.get("blockNumber") is not None else None
        confirmations = 0
        if inclusion is not None:
            confirmations = self.head()[0] - inclusion.block_number + 1
        return AnchorOnChain(
            payload=payload,
            sender=str(tx["from"]),
            block_number=inclusion.block_number if inclusion else None,
            block_hash=inclusion.block_hash if inclusion else None,
            succeeded=inclusion.succeeded if inclusion else None,
            confirmations=confirmations,
        )

    def balance(self, address: str) -> int:
        return int(self._call(self.w3.eth.get_balance, address))

    def nonce(self, address: str) -> int:
        """The next nonce of ``address`` counting only mined transactions."""
        return int(self._call(self.w3.eth.get_transaction_count, address, "latest"))


class ChainWriter(ChainReader):
    """Signs and sends anchor transactions with the configured key, on the configured chain."""

    def __init__(
        self, rpc_url: str, chain_id: int, private_key: str | None, timeout: float = 10
    ) -> None:
        super().__init__(rpc_url, timeout)
        if not private_key:
            raise ChainConfigError("ETH_PRIVATE_KEY is not set: no account to anchor with")
        if not _HEX_KEY.match(private_key):
            raise ChainConfigError("ETH_PRIVATE_KEY must be 32 bytes of hex (64 digits)")
        if chain_id <= 0:
            raise ChainConfigError("ETH_CHAIN_ID is not set: the chain id anchors must go to")
        self.expected_chain_id = chain_id
        self._account = Account.from_key(private_key)
        self.signer = str(self._account.address)

    def check_chain_id(self) -> None:
        actual = self.chain_id()
        if actual != self.expected_chain_id:
            raise ChainConfigError(
                f"the node at {self.rpc_url} is on chain {actual}, "
                f"ETH_CHAIN_ID says {self.expected_chain_id}"
            )

    def sign_anchor(
        self, payload: AnchorPayload, nonce: int | None = None, replacing: str | None = None
    ) -> SignedAnchor:
        """A signed, not yet sent, anchor transaction at the signer's next nonce.

        With ``replacing`` (the raw transaction it supersedes, same nonce), every fee is at
        least REPLACEMENT_BUMP above the old one's, as nodes require to replace it.
        """
        self.check_chain_id()
        if nonce is None:
            nonce = int(self._call(self.w3.eth.get_transaction_count, self.signer, "pending"))
        tx: dict[str, Any] = {
            "chainId": self.expected_chain_id,
            "nonce": nonce,
            "to": self.signer,
            "value": 0,
            "data": payload.encode(),
        }
        tx["gas"] = int(self._call(self.w3.eth.estimate_gas, {**tx, "from": self.signer}))
        base_fee = self._call(self.w3.eth.get_block, "latest").get("baseFeePerGas")
        tip = int(self._call(lambda: self.w3.eth.max_priority_fee))
        if base_fee is None:  # a chain without EIP-1559
            tx["gasPrice"] = int(self._call(lambda: self.w3.eth.gas_price))
        else:
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = 2 * int(base_fee) + tip
        if replacing is not None:
            old = fees_of(replacing)
            for name in ("gasPrice", "maxPriorityFeePerGas", "maxFeePerGas"):
                if name in tx and name in old:
                    tx[name] = max(tx[name], -(-old[name] * REPLACEMENT_BUMP_PERCENT // 100))
        signed = self._account.sign_transaction(tx)
        return SignedAnchor(
            tx_hash=_hex(signed.hash),
            raw_tx=_hex(signed.raw_transaction),
            nonce=nonce,
            signer=self.signer,
        )

    def broadcast(self, raw_tx: str, tx_hash: str) -> None:
        """Send a signed transaction; one the node already has counts as sent."""
        try:
            self._call(self.w3.eth.send_raw_transaction, raw_tx)
        except ChainError:
            if self.transaction_known(tx_hash):
                return
            raise

    def wait_for_inclusion(
        self, tx_hashes: Sequence[str], timeout: float, poll: float = 0.2
    ) -> tuple[str, Inclusion]:
        """Wait until one of ``tx_hashes`` (a transaction and those it replaced, all under
        one nonce, so at most one can be mined) is mined; which one, and where."""
        deadline = time.monotonic() + timeout
        while True:
            for tx_hash in tx_hashes:
                inclusion = self.inclusion(tx_hash)
                if inclusion is not None:
                    return tx_hash, inclusion
            if time.monotonic() >= deadline:
                raise ChainError(f"transaction {tx_hashes[0]} was not mined within {timeout:g}s")
            time.sleep(poll)


def fees_of(raw_tx: str) -> dict[str, int]:
    """The fee fields of a signed transaction (gasPrice, or the two EIP-1559 fees)."""
    data = HexBytes(raw_tx)
    if data[0] <= 0x7F:  # an EIP-2718 typed transaction
        fields = TypedTransaction.from_bytes(data).as_dict()
    else:
        fields = {"gasPrice": rlp.decode(bytes(data))[1]}
    fees = {}
    for name in ("gasPrice", "maxPriorityFeePerGas", "maxFeePerGas"):
        if name in fields:
            value = fields[name]
            fees[name] = int.from_bytes(value, "big") if isinstance(value, bytes) else int(value)
    return fees
