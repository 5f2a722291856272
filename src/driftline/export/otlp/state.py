"""The forwarder's one piece of state beside its WAL cursor: how far it has ever sent.

`sent_through` is written (atomically, not fsynced) before a batch goes out whose last id is
beyond it. After a restart, records between the cursor's checkpoint and `sent_through` may
already be at the destination: they are sent again (at-least-once) and counted as resent with
reason `restart`, so duplicates downstream are accounted for. Without fsync a power loss can
forget the mark (the count is then low, the data still complete); SIGKILL cannot.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


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
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"sent_through": last_id}))
            os.replace(tmp, self._path)
            self._value = last_id
