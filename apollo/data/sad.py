"""Stage `sad`: source-activity detection over every stem of every song, written as an index.

The index points into the source files (no audio is copied): per song its
split, and per stem type (and the mixture) the files and kept segments in
samples. The summary counts kept seconds per stem type, silent stems, and
skipped (unreadable) files; the stage fails only if nothing usable remains.
"""

from __future__ import annotations

from pathlib import Path

from apollo import paths
from apollo.audio.activity import active_segments
from apollo.data.sources import Song, read_sources, read_stem, split_songs, stem_type
from apollo.errors import ApolloError
from apollo.files import write_json
from apollo.parallel import map_progress
from apollo.params import SPLITS, SADParams, SourceParams


def _song_activity(job: tuple[Song, SADParams]) -> dict:
    song, params = job
    entry, skipped = {}, []
    parts = [(stem_type(name), files) for name, files in song.stems.items()]
    if song.mixture:
        parts.append(("mixture", (song.mixture,)))
    for kind, files in parts:
        try:
            audio, sr = read_stem(files)
        except Exception as e:  # a file that passed the header check but fails to decode
            skipped.append(f"{files[0]}: {type(e).__name__}")
            continue
        if kind in entry:  # two source names mapped to one type (e.g. to `other`): keep both
            kind = f"{kind}#{len([k for k in entry if k.split('#')[0] == kind])}"
        entry[kind] = {"files": list(files), "sr": sr, "frames": len(audio), "segments": active_segments(audio, sr, params)}
    return {"stems": entry, "skipped": skipped}


def build_index(source: SourceParams, params: SADParams, workers: int = 0) -> dict:
    report = read_sources(source)
    results = map_progress(_song_activity, [(s, params) for s in report.songs], workers, "sad")
    songs, skipped = {}, list(report.skipped)
    splits = split_songs([s.name for s in report.songs], source)
    kept: dict[str, float] = {}
    silent: dict[str, int] = {}
    for song, result in zip(report.songs, results):
        skipped += result["skipped"]
        stems = {k: v for k, v in result["stems"].items() if v["segments"]}
        for kind, v in result["stems"].items():
            base = kind.split("#")[0]
            kept[base] = kept.get(base, 0.0) + sum(b - a for a, b in v["segments"]) / v["sr"]
            if not v["segments"]:
                silent[base] = silent.get(base, 0) + 1
        if stems:
            songs[song.name] = {"split": splits[song.name], "stems": stems}
    if not songs:
        raise ApolloError(f"sad: no usable audio under {source.root} ({len(skipped)} files skipped)")
    summary = {
        "songs": len(songs),
        "songs_per_split": {s: sum(v["split"] == s for v in songs.values()) for s in SPLITS},
        "kept_seconds": {k: round(v, 1) for k, v in sorted(kept.items())},
        "silent_stems": dict(sorted(silent.items())),
        "skipped_files": len(skipped),
    }
    return {"params": vars(params), "songs": songs, "skipped": skipped, "summary": summary}


def write_index(index: dict, out: str | Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / paths.SAD_INDEX, index, sort_keys=True)
    write_json(out / paths.SUMMARY, index["summary"], sort_keys=True)
