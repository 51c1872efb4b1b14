"""Standalone mode's Ethereum chain: web3's in-process EthereumTesterProvider, over JSON-RPC.

The chain lives in this one process, so that the web process, the worker and beat of
standalone mode see the same chain through ETH_RPC_URL exactly as they would a real node.
It keeps nothing on disk: when this process ends, the chain is gone (standalone sets
ETH_CHAIN_EPHEMERAL, so batches anchored on it are anchored again on the next chain). It
exits when its parent does.

    python -m app.standalone.embedded_chain --port 8545 --fund 0xADDRESS

prints ``embedded chain ready on http://127.0.0.1:PORT chain_id=N`` once it serves.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from web3 import EthereumTesterProvider, Web3
from web3.datastructures import NamedElementOnion

from app.standalone.lifeline import end_with_parent, serve_until_stopped

FUNDING_WEI = 1000 * 10**18
MAX_REQUEST_BYTES = 1024 * 1024


def to_rpc(value: Any) -> Any:
    """eth-tester's Python values as JSON-RPC encodes them (quantities and bytes as hex)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {key: to_rpc(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_rpc(item) for item in value]
    return value


class Chain:
    def __init__(self) -> None:
        self.w3 = Web3(EthereumTesterProvider())
        # The provider's own request path (eth-tester plus its JSON-RPC formatting), without
        # the client-side middleware that would turn results into Python objects.
        self._request = self.w3.provider.request_func(self.w3, NamedElementOnion([]))
        self._lock = threading.Lock()  # py-evm is not thread-safe

    def fund(self, address: str) -> None:
        tx = self.w3.eth.send_transaction(
            {"from": self.w3.eth.accounts[0], "to": address, "value": FUNDING_WEI}
        )
        self.w3.eth.wait_for_transaction_receipt(tx)

    def handle(self, call: Any) -> dict[str, Any]:
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid"}}
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call.get("id")}
        params = call.get("params") or []
        try:
            with self._lock:
                response = self._request(call["method"], params)
        except Exception as exc:  # the node's answer to a bad call is an error, not a crash
            reply["error"] = {"code": -32000, "message": str(exc) or type(exc).__name__}
            return reply
        error = response.get("error") if isinstance(response, dict) else None
        if error:
            reply["error"] = (
                error if isinstance(error, dict) else {"code": -32000, "message": str(error)}
            )
        else:
            reply["result"] = to_rpc(response.get("result"))
        return reply


def make_handler(chain: Chain) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_REQUEST_BYTES:
                self.send_error(413 if length else 411)
                return
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                reply: Any = {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32700, "message": "parse error"},
                }
            else:
                reply = (
                    [chain.handle(c) for c in body]
                    if isinstance(body, list)
                    else chain.handle(body)
                )
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fund", action="append", default=[], help="address to give 1000 ETH")
    args = parser.parse_args(argv)
    end_with_parent()
    chain = Chain()
    for address in args.fund:
        chain.fund(Web3.to_checksum_address(address))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(chain))
    port = server.server_address[1]
    print(f"embedded chain ready on http://{args.host}:{port} chain_id={chain.w3.eth.chain_id}")
    sys.stdout.flush()
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
