import pytest

from apollo.data.sad import build_index
from apollo.errors import ApolloError
from tests.helpers.params import section


def test_index_covers_songs_stems_and_gaps(stem_folder):
    index = build_index(section("sources", kind="folder", root=str(stem_folder)), section("sad.detection"), workers=1)
    assert index["summary"]["songs"] == 5
    assert set(index["summary"]["songs_per_split"].values()) >= {1}
    song = index["songs"]["song0"]
    assert sorted(song["stems"]) == ["bass", "drums", "mixture", "piano", "vocals"]
    assert song["stems"]["vocals"]["segments"] == [(6 * 44100, 12 * 44100)]  # the gap 0-6 s is dropped
    assert song["stems"]["bass"]["segments"]  # mono works
    assert index["summary"]["kept_seconds"]["vocals"] == pytest.approx(5 * 6.0)


def test_nothing_usable_fails(tmp_path):
    (tmp_path / "song").mkdir()
    (tmp_path / "song" / "x.wav").write_bytes(b"garbage")
    with pytest.raises(ApolloError, match="no usable audio"):
        build_index(section("sources", kind="folder", root=str(tmp_path)), section("sad.detection"), workers=1)
