"""Is the Hugging Face hub reachable? A quick probe shared by ``data`` and ``embed``.

``datasets`` and ``huggingface_hub`` retry for ~25 s before giving up when there is no
network; probing first lets both loaders fail in a couple of seconds with one clear line.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

_TRUE = {"1", "ON", "YES", "TRUE"}


def hub_offline() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(
        os.environ.get(var, "").strip().upper() in _TRUE
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _probe_target() -> tuple[str, int]:
    """The (host, port) a request to the hub would open first: the proxy when one is set."""
    import urllib.request  # pulls in http.client and ssl: only when probing

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    proxy = urllib.request.getproxies().get(endpoint.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return parsed.hostname, parsed.port or 80
    return host, port


def hub_reachable(timeout: float = 2.0) -> bool:
    """Try a TCP connection to the hub (or the configured proxy) within ``timeout`` seconds.

    DNS lookups ignore socket timeouts, so the attempt runs in a daemon thread and is
    abandoned, not awaited, once the time is up. A successful connect does not prove the
    hub will serve a given repository; it only rules out the slow no-network case.
    """
    if hub_offline():
        return False
    host, port = _probe_target()
    ok: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(ok)
