"""`flask ipfs add|cat`: store files in the configured IPFS block store and read them back."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.services.audit.ipfs import (
    BlockNotFound,
    BlockStore,
    CorruptBlock,
    InvalidCID,
    IPFSUnavailable,
    NotAFile,
    blockstore_from_config,
)

ipfs_cli = AppGroup("ipfs", help="Content-addressed storage (IPFS CIDs, as `ipfs add` gives).")

_STORE_ERRORS = (BlockNotFound, CorruptBlock, InvalidCID, IPFSUnavailable, NotAFile)


def _store() -> BlockStore:
    return blockstore_from_config(current_app.config)


@ipfs_cli.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--cid-version",
    type=click.Choice(["0", "1"]),
    default="0",
    show_default=True,
    help="1 stores leaves as raw blocks and prints a base32 CIDv1, like `ipfs add`.",
)
def add(path: Path, cid_version: str) -> None:
    """Store the file at PATH and print its CID."""
    try:
        cid = _store().add(path.read_bytes(), int(cid_version))
    except (OSError, *_STORE_ERRORS) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(cid)


@ipfs_cli.command("cat")
@click.argument("cid")
def cat(cid: str) -> None:
    """Write the content stored under CID to standard output, byte for byte."""
    try:
        data = _store().cat(cid)
    except _STORE_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(data, nl=False)  # bytes go to the binary stream unchanged


COMMANDS = (ipfs_cli,)
