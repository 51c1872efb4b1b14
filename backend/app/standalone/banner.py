"""What standalone mode prints at start, and ``flask standalone-info`` again later: that it
is for trying out, and how an operator reaches its embedded parts (never a secret)."""

from __future__ import annotations

from typing import Any

RULE = "=" * 78


def inspect_command(broker_url: str) -> str:
    return f"celery -A celery_config.celery_app --broker {broker_url} inspect ping"


def verify_command(chain_url: str) -> str:
    return f"flask audit verify PROOF.json --rpc {chain_url}"


def reach_lines(state: dict[str, Any]) -> list[str]:
    """The embedded services' addresses and the commands that use them."""
    return [
        f" Redis:    embedded stand-in at {state['redis_url']} (data lives as long as this",
        "           process; a restarted stand-in starts empty)",
        f" Broker:   {state['broker_url']} - Celery's tools work against it:",
        f"           {inspect_command(state['broker_url'])}",
        "           (Flower: the same command with `flower` in place of `inspect ping`)",
        f" Chain:    in-process Ethereum test chain at {state['chain_url']}; it does NOT",
        "           outlive this process: audit batches are anchored again on the next",
        f"           chain. Signer {state['signer_address']}. Check a proof with",
        f"           {verify_command(state['chain_url'])}",
    ]


def banner(state: dict[str, Any]) -> str:
    lines = [
        RULE,
        " Zero Trust AI platform - STANDALONE MODE (single machine, for trying it out)",
        f" Web:      {state['web_url']}",
        f" Database: {state['database']}",
        *reach_lines(state),
        " A child process that dies is restarted; Ctrl-C stops them all.",
        f" `flask standalone-info` prints this again (from {state['state_file']}).",
        " For real services (PostgreSQL, Redis, RabbitMQ) run `python run.py` with the",
        ' settings of .env.example; see README "Services mode".',
        RULE,
    ]
    return "\n".join(lines)
