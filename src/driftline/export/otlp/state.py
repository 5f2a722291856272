"""The forwarder's one piece of state beside its WAL cursor: how far it has ever sent.

`sent_through` is written (atomically and durably: wal/fsio.replace_atomically) before a batch
goes out whose last id is beyond it. After a restart, records between the cursor's checkpoint
and `sent_through` may already be at the destination: they are sent again (at-least-once) and
counted as resent with reason `restart`, so duplicates downstream are accounted for — after a
power loss too.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from driftline.wal.fsio import replace_atomically


class SentMark:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._value = self.load()

    def load(self) -> int:
        try:
            return int(json.loads(self._path.read_text())["sent_through"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    @property
    def value(self) -> int:
        return self._value

    def advance(self, last_id: int) -> None:
        with self._lock:
            if last_id <= self._value:
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            replace_atomically(self._path, json.dumps({"sent_through": last_id}).encode())
            self._value = last_id
