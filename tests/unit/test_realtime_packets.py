"""Socket.IO packets below the handlers: binary ones refused before anything is buffered,
malformed ones reported in a throttled log."""

from __future__ import annotations

import logging

import pytest

from app.realtime.packets import BinaryRefused, ContractPacket, MalformedPacket, ThrottledLog


def test_an_event_packet_decodes() -> None:
    packet = ContractPacket(encoded_packet='2["ping",{"client_ts":1}]')
    assert packet.data == ["ping", {"client_ts": 1}] and packet.attachment_count == 0


@pytest.mark.parametrize(
    "encoded",
    [
        '5999999-["behavioral_data",{"_placeholder":true,"num":0}]',  # binary event
        '61-0[{"_placeholder":true,"num":0}]',  # binary ack
        b"\x00" * 16,  # a binary frame
    ],
)
def test_binary_packets_are_refused(encoded: str | bytes) -> None:
    with pytest.raises(BinaryRefused):
        ContractPacket(encoded_packet=encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        '2["ping",{',
        "x",
        "9" * 120,
        '4{"message":"no"}',  # a connect error: servers send those
        "2" + "[" * 5000 + "]" * 5000,
        '2{"not":"a list"}',
        "2",
        "",
    ],
)
def test_malformed_packets_raise_one_error_type(encoded: str) -> None:
    with pytest.raises(MalformedPacket) as refused:
        ContractPacket(encoded_packet=encoded)
    assert not isinstance(refused.value, BinaryRefused)
    assert len(str(refused.value)) < 120  # a log line, not the packet


def test_the_throttled_log_keeps_a_limit_per_window_and_says_what_it_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttled = ThrottledLog(logging.getLogger("test.throttled"), limit=2, window=10.0)
    with caplog.at_level(logging.WARNING, "test.throttled"):
        logged = [throttled.warning("bad packet %d", i, now=100.0 + i) for i in range(5)]
        throttled.warning("bad packet again", now=111.0)

    assert logged == [True, True, False, False, False]
    assert [r.getMessage() for r in caplog.records] == [
        "bad packet 0",
        "bad packet 1",
        "3 similar messages left out in the last 10 s",
        "bad packet again",
    ]
