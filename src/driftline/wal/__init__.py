"""The write-ahead log: every accepted OTLP request, durable before the client hears OK.

Receivers `submit(kind, payload)` and answer only once the returned future resolves; the
ClickHouse sink and later forwarders each `read` through their own cursor and `ack` what they
have finished. The WAL knows bytes and record ids, nothing about OTLP.

What a record holds
-------------------
The raw bytes of the serialized Export*ServiceRequest as it arrived, tagged with a `kind` byte
(1 traces, 2 metrics, 3 logs; opaque here). That is the cheapest thing to store — nothing is
re-encoded on the hot path — and the sink can hand the bytes to ClickHouse's native Protobuf
input unchanged. Since every row in ClickHouse follows deterministically from WAL bytes and
record ids, a replay after a crash rebuilds the same rows with the same deduplication tokens.

Invariants
----------
- Record ids start at 1 and increase by exactly 1 per record; an id is never reused, also
  across restarts (the ledger remembers `next_id`; damaged ids are skipped, not recycled).
- Every frame is checksummed (CRC32C over its header fields and payload) and checked again
  whenever it is read, at recovery and on every `read`.
- Segments are capped at `segment_size_mib`; a record never spans two segments (a record
  larger than the cap gets a segment of its own). The bytes on disk plus the bytes queued never
  pass `max_size_mib`: past it `submit` raises WalFullError(delay_s=retry_after_s) at once
  (backpressure; never a crash or a silent drop). A single record larger than the whole cap
  could never fit and raises TooLargeError instead, so clients do not retry it forever.
- One writer thread creates and appends segments; acknowledgement deletes them, whole, and
  only once every cursor's persisted checkpoint has passed a segment's last record. The newest
  segment is never deleted.
- Only durable records are ever handed to a reader; a damaged record never is.
- One process at a time: `<dir>/LOCK` is held with flock while the WAL is open.

On disk
-------
    <dir>/LOCK                                    flock target; holds the owner's pid
    <dir>/ledger.json                             cursor checkpoints and next_id (ledger.py)
    <dir>/00000000000000000001.wal                segments, named by their first record id
    <dir>/00000000000000004711.wal
    <dir>/quarantine/<segment>.<offset>.<crc>.bad damaged bytes set aside at recovery

    segment := Frame*                             ids contiguous: frame k has id first_id + k

    struct Frame {                                little-endian, 18-byte header (framing.py)
        u8   magic;                               0xD1: format marker and version
        u8   kind;                                the caller's tag
        u32  payload_len;
        u64  record_id;
        u32  crc32c;                              over header bytes [0, 14) then the payload
        u8   payload[payload_len];
    }

    ledger.json := {"format": 1, "next_id": u64,
                    "cursors": {name: {"acked_through": u64}}, "crc32c": u32}

When a submit is acknowledged (the future resolves)
---------------------------------------------------
Group commit: the writer thread takes everything queued, writes it with one `writev` per
segment, then — with `sync: always` (the default) — one `fdatasync`, and only then resolves
every future of the group. With `interval` the futures resolve after the write and the file is
fsynced every `sync_interval_s`; with `never` after the write only (the OS flushes when it
likes). A new segment's directory entry is fsynced before any record in it is acknowledged;
so is the directory after segments are deleted. `close()` writes and fsyncs whatever is queued.

Acknowledgements and cursors
----------------------------
Each cursor has an in-memory read position and a persisted checkpoint, `acked_through`.
`ack(cursor, first, last)` may arrive out of order; the checkpoint moves only over a contiguous
prefix of acknowledged ids (acks.py), and every move is written to the ledger atomically (tmp
file, fsync, rename, fsync dir) before any segment is deleted. Ids lost to damage count as
acknowledged. `rewind` puts the read position back right after the checkpoint; so does a
restart. A new cursor starts at the oldest record on disk. With no cursors at all nothing is
ever deleted.

Recovery (startup only, recovery.py)
------------------------------------
Segments are scanned oldest first. A torn frame at the end of the newest segment (a write
that never finished, so was never acknowledged) is truncated. Any other damage is counted,
copied to `quarantine/` and skipped: the scan resynchronises on the next frame whose magic,
length, checksum and id all fit, so intact records after the damage are kept. Checkpoints are
never guessed. The next id is one past the largest id the segments or the ledger show.

Limits
------
SIGKILL is covered (the page cache survives). On power loss with `sync: interval` or `never`,
unsynced records may vanish and — if the ledger had not yet seen them — their ids be issued
again; use `always` (the default) where that matters. The in-memory index costs 16 bytes per
record on disk.
"""

from driftline.wal.log import CursorStats, Wal, WalStats
from driftline.wal.reader import WalRecord

__all__ = ["CursorStats", "Wal", "WalRecord", "WalStats"]
