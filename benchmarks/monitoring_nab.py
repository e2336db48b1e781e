"""The monitoring detector on the NAB corpus, scored by NAB's rules (`nab_score`).

    uv run python -m benchmarks.monitoring_nab [--window 16 --memory 1000 --quiet 200 --rearm 1.2]

Each file is scored on its own, online (a record's score uses only the records before it),
with one set of parameters for all: `trailing.trailing_scores` (the raw distance of each
window to its nearest earlier window, over the largest such distance of the last `memory`
windows, at the readings' scale and at block means of 4, 16 and 64) and `trailing.onsets`
(an alarm counted at its start, again only if it grows `rearm` times within `quiet`
records). NAB then picks one threshold per profile over the corpus. Prints and writes
benchmarks/out/monitoring-nab.json: the three profiles, per category at the standard
profile's threshold, and the detections.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from benchmarks import nab_score
from benchmarks.trips_scale import OUT

DATA = Path(__file__).parent / "data" / "nab"


def score_corpus(
    corpus: list[nab_score.Labelled], *, window: int, memory: int, quiet: int, rearm: float
) -> list[np.ndarray]:
    from fleetlake.monitoring.trailing import onsets, trailing_scores

    return [
        onsets(trailing_scores(s.values, m=window, memory=memory), quiet=quiet, rearm=rearm)
        for s in corpus
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--memory", type=int, default=1000)
    parser.add_argument("--quiet", type=int, default=200)
    parser.add_argument("--rearm", type=float, default=1.2)
    args = parser.parse_args()
    corpus = nab_score.load_corpus(DATA)
    profiles = nab_score.load_profiles(DATA / "profiles.json")
    started = time.perf_counter()
    scores = score_corpus(
        corpus, window=args.window, memory=args.memory, quiet=args.quiet, rearm=args.rearm
    )
    seconds = time.perf_counter() - started
    swept = {p.name: nab_score.sweep(corpus, scores, p) for p in profiles}
    standard = profiles[0]
    categories: dict[str, float | None] = {}
    for category in sorted({s.category for s in corpus}):
        pick = [i for i, s in enumerate(corpus) if s.category == category]
        threshold = swept[standard.name].threshold
        found = nab_score.normalised([corpus[i] for i in pick], [scores[i] for i in pick],
                                     profile=standard, threshold=threshold)  # fmt: skip
        categories[category] = None if np.isnan(found) else round(found, 1)  # no windows
    result = {
        "parameters": vars(args),
        "files": len(corpus),
        "windows": sum(len(s.windows) for s in corpus),
        "records": sum(len(s.values) for s in corpus),
        "seconds": round(seconds, 1),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
        "profiles": {
            n: {"score": round(s.score, 1), "threshold": round(s.threshold, 4)}
            for n, s in swept.items()
        },
        "categories_standard": categories,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "monitoring-nab.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
