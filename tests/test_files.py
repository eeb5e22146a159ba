import os
import threading

import fsspec
import pytest

from apollo.files import atomic, is_url, write_json, write_text


def test_completed_block_replaces_the_target(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target and tmp.exists()
        tmp.write_text("new")
        assert target.read_text() == "old"  # nobody sees the new content before the block completes
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])  # KeyboardInterrupt: what SIGINT raises
def test_an_exception_leaves_the_target_and_no_temporary(tmp_path, error):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(error):
        with atomic(target) as tmp:
            tmp.write_text("half")
            raise error()
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_an_exception_creates_no_target(tmp_path):
    with pytest.raises(ValueError):
        with atomic(tmp_path / "new.json"):
            write_json(tmp_path / "other.json", {})  # a write inside the block, completed
            raise ValueError
    assert os.listdir(tmp_path) == ["other.json"]


def test_two_writers_of_one_target_get_their_own_temporaries(tmp_path):
    target = tmp_path / "out.flac"
    with atomic(target) as first, atomic(target) as second:
        assert first != second
        first.write_text("first")
        second.write_text("second")
    # the inner block completes first, the outer one last: each rename is whole, the last wins
    assert target.read_text() == "first"
    assert os.listdir(tmp_path) == ["out.flac"]


def test_concurrent_writers_never_mix(tmp_path):
    target = tmp_path / "t.txt"
    texts = [str(i) * 100_000 for i in range(8)]

    def write(text):
        for _ in range(5):
            write_text(target, text)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in texts
    assert os.listdir(tmp_path) == ["t.txt"]


def test_temporary_gets_the_modes_of_a_plain_write(tmp_path):
    """mkstemp / mkdtemp would make them private (0600 / 0700) and the rename would pass that on."""
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    write_text(tmp_path / "atomic.txt", "x")
    with atomic(tmp_path / "atomic", folder=True):
        pass
    mode = lambda name: (tmp_path / name).stat().st_mode & 0o777  # noqa: E731
    assert mode("atomic.txt") == mode("plain.txt")
    assert mode("atomic") == mode("plain")


def test_folders_replace_folders(tmp_path):
    target = tmp_path / "logs"
    target.mkdir()
    (target / "stale.tsv").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic(target, folder=True) as tmp:
            (tmp / "train.tsv").write_text("half")
            raise KeyboardInterrupt
    assert os.listdir(target) == ["stale.tsv"] and os.listdir(tmp_path) == ["logs"]
    with atomic(target, folder=True) as tmp:
        assert tmp.is_dir() and not any(tmp.iterdir())
        (tmp / "train.tsv").write_text("new")
    assert os.listdir(target) == ["train.tsv"] and os.listdir(tmp_path) == ["logs"]
    with atomic(tmp_path / "fresh", folder=True) as tmp:
        (tmp / "x").write_text("x")
    assert sorted(os.listdir(tmp_path)) == ["fresh", "logs"]


def test_urls_upload_once_when_complete():
    url = "memory://apollo-test-files/deep/er/out.json"
    fs, path = fsspec.core.url_to_fs(url)
    try:
        with pytest.raises(RuntimeError):
            with atomic(url) as tmp:
                tmp.write_text("half")
                raise RuntimeError
        assert not fs.exists(path)
        local = []
        with atomic(url) as tmp:
            local.append(tmp)
            tmp.write_bytes(b"\x00whole")
            assert not fs.exists(path)
        assert fs.cat_file(path) == b"\x00whole" and not local[0].exists()
        write_json(url, {"a": 1})
        assert fsspec.open(url, "r").open().read() == '{\n "a": 1\n}\n'
        with pytest.raises(ValueError, match="local only"):
            with atomic("memory://apollo-test-files/folder", folder=True):
                pass
    finally:
        fs.rm("/apollo-test-files", recursive=True)


def test_is_url():
    assert is_url("s3://bucket/shards") and is_url("memory://x")
    assert not is_url("data/shards") and not is_url(os.path.abspath("x"))
