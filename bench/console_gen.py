"""Generate the console bench's data in the engine: `python bench/console_gen.py DIR MODELS
PER_MODEL NOW_NS`. Runs as its own process (chDB locks the directory for the process's life),
so `driftline serve` can open DIR afterwards.

Per inference i: a time in the 48 h before NOW (hashed), model m00…m{MODELS-1} (or `big` when
MODELS is 1), version 1 or 2, lognormal latency (~24 ms), 2 % errors, a 0/1 prediction and a
score; features amount, tenure, ml.prediction.score (normal, shifted by 0.3σ in the last 24 h)
and country (4 categories); a label for every 10th inference (80 % equal to the prediction).
"""

from __future__ import annotations

import sys

from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext

HOUR = 3600 * 10**9
NUMERIC = ("amount", "tenure", "ml.prediction.score")
SETTINGS = {"max_insert_threads": 2, "max_threads": 2}


def main(path: str, models: int, per_model: int, now: int) -> None:
    client = connect(Target(embedded_path=path))
    migrate(client, DdlContext())
    n = models * per_model
    ts = f"toInt64({now} - 1 - cityHash64(i) % (48 * {HOUR}))"
    model = f"concat('m', leftPad(toString(i % {models}), 2, '0'))" if models > 1 else "'big'"
    version = f"toString(1 + intDiv(i, {models}) % 2)"
    rows = f"FROM (SELECT number AS i FROM numbers({n}))"
    client.command(
        f"""INSERT INTO ml_inferences
        SELECT fromUnixTimestamp64Nano({ts}), {model}, {version}, toString(i),
               hex(cityHash64(i, 1)), hex(cityHash64(i, 2)), 'bench', 'predict',
               toUInt64(exp(randNormal(17, 0.5))), if(i % 50 = 0, 'Error', 'Unset'),
               toFloat64(cityHash64(i, 3) % 2), '', (cityHash64(i, 4) % 1000) / 1000 {rows}""",
        settings=SETTINGS,
    )
    shift = f"if({ts} > {now} - 24 * {HOUR}, 0.3, 0)"
    for feature in NUMERIC:
        client.command(
            f"""INSERT INTO ml_features
            SELECT {model}, '{feature}', fromUnixTimestamp64Nano({ts}), {version}, 'numerical',
                   randNormal(0, 1) + {shift}, '' {rows}""",
            settings=SETTINGS,
        )
    client.command(
        f"""INSERT INTO ml_features
        SELECT {model}, 'country', fromUnixTimestamp64Nano({ts}), {version}, 'categorical',
               nan, ['US', 'DE', 'BR', 'IN'][1 + cityHash64(i, 5) % 4] {rows}""",
        settings=SETTINGS,
    )
    client.command(
        f"""INSERT INTO ml_labels
        SELECT {model}, toString(i), fromUnixTimestamp64Nano({ts}),
               if(cityHash64(i, 6) % 5 = 0, 1 - cityHash64(i, 3) % 2, cityHash64(i, 3) % 2),
               '', 'bench' {rows} WHERE i % 10 = 0""",
        settings=SETTINGS,
    )
    for table in ("ml_inferences", "ml_features", "ml_labels"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
