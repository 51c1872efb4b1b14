"""Content stored in a Kubo daemon through its HTTP RPC API (`/api/v0/…`).

Plain `requests` calls: `ipfshttpclient` has not been released since 2021 and refuses the
versions of current Kubo daemons. The import parameters are sent explicitly so a daemon
whose Import.* config differs cannot silently produce other CIDs; each CID Kubo returns
is checked against the one computed here.

Tested against js-ipfs's daemon, which serves the same API (no Kubo binary can be installed
on the test machines; tests/integration/test_ipfs_kubo.py). Where the two differ (the base
of a CIDv1, a file part without Content-Type, the wording of errors) both are handled.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from app.services.audit.ipfs.cid import CID
from app.services.audit.ipfs.errors import (
    BlockNotFound,
    CorruptBlock,
    IPFSUnavailable,
    NotAFile,
)
from app.services.audit.ipfs.local import as_cid
from app.services.audit.ipfs.unixfs import CHUNK_SIZE, build_file

# How a daemon says it has no such content: Kubo offline ("block was not found locally"),
# Kubo when its --timeout ran out searching ("context deadline exceeded"), js-ipfs when its
# timeout did ("request timed out").
_NOT_FOUND_REASONS = ("not found", "deadline exceeded", "timed out")


class KuboBlockStore:
    """add, cat and pin against a Kubo daemon at ``api_url`` (e.g. http://127.0.0.1:5001)."""

    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _post(self, command: str, params: dict[str, Any], **kwargs: Any) -> requests.Response:
        url = f"{self.api_url}/api/v0/{command}"
        # Kubo's own --timeout bounds a lookup that would otherwise search the network for
        # a CID nobody has; the HTTP timeout leaves it a moment to answer with its error.
        params = {**params, "timeout": f"{self.timeout:g}s"}
        try:
            response = requests.post(url, params=params, timeout=self.timeout + 5, **kwargs)
        except requests.RequestException as exc:
            raise IPFSUnavailable(f"Kubo RPC {url} unreachable: {exc}") from exc
        if response.status_code != 200:
            message = _error_message(response)
            if any(reason in message for reason in _NOT_FOUND_REASONS):
                raise BlockNotFound(f"Kubo has no content for {params.get('arg')}: {message}")
            if "is a directory" in message:
                raise NotAFile(f"{params.get('arg')} is a UnixFS directory, not a file: {message}")
            raise IPFSUnavailable(f"Kubo RPC {command} failed ({response.status_code}): {message}")
        return response

    def add(self, data: bytes, cid_version: int = 0) -> str:
        """Add and pin ``data``; return its CID, which must equal the locally computed one."""
        expected = str(build_file(data, cid_version).root)
        params: dict[str, Any] = {
            "cid-version": cid_version,
            "raw-leaves": "true" if cid_version == 1 else "false",
            "chunker": f"size-{CHUNK_SIZE}",
            "hash": "sha2-256",
            "pin": "true",
        }
        if cid_version == 1:
            # Kubo prints CIDv1 in base32 by default, js-ipfs in base58btc; CIDv0 has one
            # form only (js-ipfs refuses a base for it).
            params["cid-base"] = "base32"
        # The part's Content-Type marks it a file; Kubo's own client sends it, js-ipfs
        # refuses a part without one.
        file_part = ("data", data, "application/octet-stream")
        response = self._post("add", params, files={"file": file_part})
        # One JSON object per line (progress, then the file); the last names the file.
        lines = [line for line in response.text.splitlines() if line.strip()]
        try:
            returned = json.loads(lines[-1])["Hash"]
        except (IndexError, KeyError, TypeError, ValueError):
            raise IPFSUnavailable(
                f"unexpected Kubo add response: {response.text[:200]!r}"
            ) from None
        if returned != expected:
            raise CorruptBlock(
                f"Kubo stored the content as {returned}, expected {expected}; "
                "check the daemon's Import settings (chunker, max links)"
            )
        return returned

    def cat(self, cid: CID | str) -> bytes:
        """The content of ``cid``, checked by recomputing its CID locally.

        The check assumes the import settings add() uses (Kubo's defaults); content added
        to the daemon by other means with other settings is reported as CorruptBlock.
        """
        cid = as_cid(cid)
        data = self._post("cat", {"arg": str(cid)}).content
        if str(build_file(data, cid.version).root) != str(cid):
            raise CorruptBlock(f"content Kubo returned for {cid} does not hash to it")
        return data

    def pin(self, cid: CID | str) -> None:
        """Pin content already in the daemon so its garbage collection keeps it."""
        self._post("pin/add", {"arg": str(as_cid(cid))})


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json().get("Message", response.text))
    except ValueError:
        return response.text[:200]
