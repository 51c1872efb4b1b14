"""`flask audit ...`: verify a proof against a chain, prove an event, anchor, verify a range.

`flask audit verify PROOF.json --rpc URL` needs only the proof file and a JSON-RPC node of
the chain the proof names; no database. Exit status: 0 valid, 1 invalid, 2 malformed proof,
3 chain unreachable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


@audit_cli.command("verify", with_appcontext=False)
@click.argument("proof_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rpc", "rpc_url", required=True, help="JSON-RPC URL of a node of the chain.")
@click.option("--signer", default=None, help="Also require this anchoring address.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per RPC call.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify(
    proof_file: Path, rpc_url: str, signer: str | None, timeout: float, as_json: bool
) -> None:
    """Check PROOF_FILE (from GET /api/audit/events/<id>/proof) against the chain."""
    from app.services.audit.chain import ChainError, ChainReader
    from app.services.audit.proof import ProofFormatError, verify_proof

    try:
        document = json.loads(proof_file.read_text())
    except OSError as exc:
        click.echo(f"error: cannot read {proof_file}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except (ValueError, RecursionError):
        click.echo(f"error: {proof_file} is not JSON", err=True)
        sys.exit(2)
    try:
        report = verify_proof(document, ChainReader(rpc_url, timeout), expected_signer=signer)
    except ProofFormatError as exc:
        click.echo(f"error: malformed proof: {exc}", err=True)
        sys.exit(2)
    except ChainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    if as_json:
        _echo_json(report)
    else:
        for check in report["checks"]:
            click.echo(f"{'ok  ' if check['ok'] else 'FAIL'} {check['check']}: {check['detail']}")
        verdict = "VALID" if report["valid"] else "INVALID"
        click.echo(
            f"{verdict}: event {report['event_id']} in batch {report['batch_id']}, "
            f"chain {report['chain_id']}, tx {report['tx_hash']}, "
            f"{report['confirmations']} confirmation(s)"
        )
    sys.exit(0 if report["valid"] else 1)


@audit_cli.command("proof")
@click.argument("event_id", type=click.IntRange(min=1))
def proof(event_id: int) -> None:
    """Print the proof of EVENT_ID (what GET /api/audit/events/<id>/proof returns)."""
    from app.services.audit.proof import ProofUnavailable, build_proof

    try:
        _echo_json(build_proof(event_id))
    except (LookupError, ProofUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc


@audit_cli.command("sync")
def sync() -> None:
    """Batch pending events and anchor them now (what sync_audit_trail does every minute)."""
    from app.services.audit.anchoring import SyncBusy
    from app.services.audit.anchoring import sync as run_sync
    from app.services.audit.chain import ChainError

    try:
        _echo_json(run_sync())
    except (SyncBusy, ChainError) as exc:
        raise click.ClickException(str(exc)) from exc


@audit_cli.command("verify-range")
@click.option("--first", "first_id", type=click.IntRange(min=1), default=None)
@click.option("--last", "last_id", type=click.IntRange(min=1), default=None)
def verify_range_command(first_id: int | None, last_id: int | None) -> None:
    """Verify stored events (default: all) against hashes, batches and anchors."""
    from app.services.audit.verify import RangeError, full_range, verify_range

    whole = full_range()
    if whole is None:
        click.echo("no audit events")
        return
    try:
        report = verify_range(first_id or whole[0], last_id or whole[1])
    except RangeError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_json(report)
    sys.exit(0 if report["ok"] else 1)


COMMANDS = (audit_cli,)
