"""One named contribution to a risk score, and the network a client address belongs to."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

# A "network" is the IPv4 /24 or the IPv6 /48 an address falls in: a home or office
# connection keeps its /24 (IPv4) or its site prefix (IPv6, /48 per RFC 6177) across the
# address changes of DHCP and privacy extensions, while another provider or place does not.
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48


@dataclass(frozen=True)
class Factor:
    """``name`` is a stable snake_case id; ``contribution`` is in score points."""

    name: str
    contribution: float
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Factor:
        return cls(str(data["name"]), float(data["contribution"]), str(data["detail"]))


def network_of(address: str | None) -> str | None:
    """The address's network as CIDR text (``203.0.113.0/24``), or None when it is not an
    IP address (the platform stores "unknown" for those)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_NETWORK_PREFIX if ip.version == 4 else IPV6_NETWORK_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
