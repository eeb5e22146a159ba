import pytest

from apollo.data.sources import read_sources, read_stem, split_songs
from tests.helpers.audio import noise, write
from tests.helpers.params import section


def test_musdb_layout(tmp_path):
    for part, song in (("train", "A"), ("test", "B")):
        for stem in ("bass", "drums", "other", "vocals", "mixture"):
            write(tmp_path / part / song / f"{stem}.wav", noise(1, 0))
    songs = read_sources(section("sources", kind="musdb", root=str(tmp_path))).songs
    assert [s.name for s in songs] == ["train/A", "test/B"]
    assert sorted(songs[0].stems) == ["bass", "drums", "other", "vocals"] and songs[0].mixture


def test_moisesdb_layout_sums_files(tmp_path):
    write(tmp_path / "song" / "guitar" / "a.wav", noise(1, 1))
    write(tmp_path / "song" / "guitar" / "b.wav", noise(1, 2))
    write(tmp_path / "song" / "vocals" / "v.wav", noise(1, 3))
    (song,) = read_sources(section("sources", kind="moisesdb", root=str(tmp_path))).songs
    assert len(song.stems["guitar"]) == 2 and song.mixture is None
    audio, sr = read_stem(song.stems["guitar"])
    assert sr == 44100 and audio == pytest.approx(noise(1, 1) + noise(1, 2), abs=1e-4)


def test_corrupt_files_are_skipped_and_counted(stem_folder):
    (stem_folder / "song0" / "piano.wav").write_bytes(b"RIFF not really")
    report = read_sources(section("sources", kind="folder", root=str(stem_folder)))
    assert len(report.songs) == 5
    assert "piano" not in report.songs[0].stems
    assert len(report.skipped) == 1 and "piano.wav" in report.skipped[0]


def test_split_is_by_song_deterministic_and_complete():
    names = [f"song{i}" for i in range(20)]
    params = section("sources", val_fraction=0.1, test_fraction=0.15)
    a, b = split_songs(names, params), split_songs(list(reversed(names)), params)
    assert a == b
    assert sorted(a.values()).count("test") == 3 and sorted(a.values()).count("val") == 2
    assert split_songs(names[:3], params) == split_songs(names[:3], params)
    assert set(split_songs(names[:3], params).values()) == {"train", "val", "test"}
    assert split_songs(names, section("sources", split_seed=1)) != a


def test_bad_source_settings():
    with pytest.raises(ValueError, match="choose from"):
        read_sources(section("sources", kind="nope"))
    with pytest.raises(FileNotFoundError):
        read_sources(section("sources", kind="folder", root="/nonexistent"))
