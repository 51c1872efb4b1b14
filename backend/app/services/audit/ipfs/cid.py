"""CIDs as `ipfs add` writes them: CIDv0 (base58btc) and CIDv1 (base32, multibase "b").

Only sha2-256 multihashes and the two codecs UnixFS files use (dag-pb, raw) are accepted;
anything else is an InvalidCID naming the problem rather than a block we cannot verify.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from app.services.audit.ipfs.errors import InvalidCID

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
_DIGEST_LENGTH = 32
_CODEC_NAMES = {DAG_PB: "dag-pb", RAW: "raw"}

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(_BASE58_ALPHABET)}


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as protobuf and multiformats both use."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int) -> tuple[int, int]:
    """Return (value, next offset); ValueError when the varint runs past the end."""
    value = shift = 0
    while offset < len(data):
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")
    raise ValueError("truncated varint")


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _BASE58_INDEX:
            raise InvalidCID(f"{char!r} is not a base58btc character")
        number = number * 58 + _BASE58_INDEX[char]
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_zeros + body


@dataclass(frozen=True)
class CID:
    """A content identifier: version, codec and the sha2-256 digest of the block."""

    version: int
    codec: int
    digest: bytes

    @classmethod
    def for_block(cls, data: bytes, version: int, codec: int) -> CID:
        if version == 0 and codec != DAG_PB:
            raise ValueError("CIDv0 can only address dag-pb blocks")
        return cls(version, codec, hashlib.sha256(data).digest())

    @property
    def multihash(self) -> bytes:
        return bytes([SHA2_256, _DIGEST_LENGTH]) + self.digest

    def to_bytes(self) -> bytes:
        """Binary form, as it appears in a dag-pb link."""
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def matches(self, data: bytes) -> bool:
        return hashlib.sha256(data).digest() == self.digest

    def __str__(self) -> str:
        if self.version == 0:
            return base58btc_encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")


def _parse_multihash(data: bytes, text: str) -> bytes:
    try:
        code, offset = decode_varint(data, 0)
        length, offset = decode_varint(data, offset)
    except ValueError as exc:
        raise InvalidCID(f"{text!r}: malformed multihash ({exc})") from None
    if code != SHA2_256:
        raise InvalidCID(f"{text!r}: unsupported multihash function 0x{code:x} (only sha2-256)")
    if length != _DIGEST_LENGTH or len(data) - offset != _DIGEST_LENGTH:
        raise InvalidCID(f"{text!r}: a sha2-256 digest is 32 bytes, got {len(data) - offset}")
    return data[offset:]


def parse_cid(text: str) -> CID:
    """Parse a CIDv0 ("Qm…") or a base32 CIDv1 ("b…"); raise InvalidCID saying why not."""
    if not isinstance(text, str) or not text:
        raise InvalidCID("empty CID")
    text = text.strip()
    if len(text) == 46 and text.startswith("Qm"):
        return CID(0, DAG_PB, _parse_multihash(base58btc_decode(text), text))
    if text[0] != "b":
        raise InvalidCID(
            f"{text!r}: not a CIDv0 (46 characters starting 'Qm') "
            "nor a base32 CIDv1 (multibase prefix 'b')"
        )
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise InvalidCID(f"{text!r}: not valid base32") from None
    try:
        version, offset = decode_varint(raw, 0)
        codec, offset = decode_varint(raw, offset)
    except ValueError as exc:
        raise InvalidCID(f"{text!r}: malformed CID prefix ({exc})") from None
    if version != 1:
        raise InvalidCID(f"{text!r}: CID version {version}, expected 1")
    if codec not in _CODEC_NAMES:
        raise InvalidCID(f"{text!r}: unsupported codec 0x{codec:x} (only dag-pb and raw)")
    return CID(1, codec, _parse_multihash(raw[offset:], text))


def cid_from_bytes(data: bytes) -> CID:
    """Parse the binary CID of a dag-pb link."""
    if data[:2] == bytes([SHA2_256, _DIGEST_LENGTH]):
        return CID(0, DAG_PB, _parse_multihash(data, data.hex()))
    try:
        version, offset = decode_varint(data, 0)
        codec, offset = decode_varint(data, offset)
    except ValueError as exc:
        raise InvalidCID(f"link hash {data.hex()}: {exc}") from None
    if version != 1 or codec not in _CODEC_NAMES:
        raise InvalidCID(f"link hash {data.hex()}: not a dag-pb or raw CIDv1")
    return CID(1, codec, _parse_multihash(data[offset:], data.hex()))
