"""Proof of address, session tokens and connect rate limits: what the server does before a slot exists.

Theory of operation
-------------------
UDP source addresses can be forged. If a server answered a connect request with a session, anyone
could make it send snapshots to a victim (reflection), or fill every slot from made-up addresses
(squatting). So, as in netcode.io, a connect request gets only a ``Challenge``: a *cookie* that is
an HMAC of the sender's address and the current time bucket, under a secret that lives only in
this process. The server stores nothing. Only a request that echoes a valid cookie proves that
the sender reads what is sent to that address; only then is a slot taken. A cookie is valid in
its own bucket and the next one, so it expires within ``2 * COOKIE_BUCKET_S`` seconds, and a
recorded connect replayed later is challenged again.

The accept carries the session *token*, 64 random-looking bits (an HMAC of the address and a join
counter under the same secret, so a test with a fixed secret repeats). Every later packet, both
ways, must carry it; one that does not is dropped before it is believed in any way.

``ConnectLimiter`` bounds how often one address may make the server compute a cookie or a
refusal (``CONNECTS_PER_ADDR_PER_S``), in a table that never holds more than ``LIMITER_ADDRESSES``
addresses.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Hashable

from .protocol import COOKIE_BYTES
from .transport import Address

COOKIE_BUCKET_S = 2.0  # a cookie is good for its own 2 s bucket and the next: 2 to 4 s
CONNECTS_PER_ADDR_PER_S = 8  # connect requests answered per address per second; more are dropped
LIMITER_ADDRESSES = 4096  # the rate table forgets everyone at once beyond this (a spoofed flood)


class Cookies:
    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        self.joins = 0

    def _mac(self, *parts: object) -> bytes:
        message = "|".join(str(p) for p in parts).encode()
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def cookie(self, addr: Address, now: float) -> bytes:
        return self._cookie_in(addr, int(now // COOKIE_BUCKET_S))

    def _cookie_in(self, addr: Address, bucket: int) -> bytes:
        return self._mac("cookie", addr[0], addr[1], bucket)[:COOKIE_BYTES]

    def valid(self, addr: Address, cookie: bytes, now: float) -> bool:
        """True for a cookie we gave this address in this bucket or the one before."""
        bucket = int(now // COOKIE_BUCKET_S)
        return any(hmac.compare_digest(cookie, self._cookie_in(addr, b)) for b in (bucket, bucket - 1))

    def token(self, addr: Address) -> int:
        """A new session's token: never 0 (0 means "no session")."""
        self.joins += 1
        return int.from_bytes(self._mac("token", addr[0], addr[1], self.joins)[:8], "big") or 1


class RateLimiter:
    """At most ``per_second`` events per key (an address, an IP) per calendar second.

    The table forgets everyone at once when it would hold more than ``LIMITER_ADDRESSES`` keys: a
    flood of spoofed addresses cannot grow it, and a real client loses at most one second."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.counts: dict[Hashable, tuple[int, int]] = {}  # key -> (second, events in it)

    def allow(self, key: Hashable, now: float) -> bool:
        second = int(now)
        start, count = self.counts.get(key, (second, 0))
        count = count + 1 if start == second else 1
        if len(self.counts) >= LIMITER_ADDRESSES and key not in self.counts:
            self.counts.clear()  # a flood of spoofed addresses: start over rather than grow
        self.counts[key] = (second, count)
        return count <= self.per_second


class ConnectLimiter(RateLimiter):
    """At most ``CONNECTS_PER_ADDR_PER_S`` connect requests per address per second are looked at."""

    def __init__(self) -> None:
        super().__init__(CONNECTS_PER_ADDR_PER_S)
