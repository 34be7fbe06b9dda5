"""The in-memory channel layer, with its housekeeping done once a second instead of on every event."""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer walks every channel and group for expired
    messages on each send and receive. With many replies streaming at once that
    is quadratic work per frame (measured: most of a busy worker's CPU). Expiry is
    measured in seconds and minutes, so doing it once a second changes nothing else.
    """

    clean_interval = 1.0
    _cleaned_at = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._cleaned_at < self.clean_interval:
            return
        self._cleaned_at = now
        super()._clean_expired()
