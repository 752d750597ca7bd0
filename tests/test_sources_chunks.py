"""`iter_chunks` cuts content into whole-line chunks: plain files (views of the block read, the partial
line read again), compressed files and stdin (the partial line carried) must cut alike."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from analysis.ingest import sources as S

LINES = [b"short\n", b"x" * 37 + b"\n", b"\n", b"y" * 300 + b"\n", b"tail\r\n", b"z" * 5 + b"\n"]
CONTENTS = {
    "lines": b"".join(LINES * 20),
    "no final newline": b"".join(LINES * 7) + b"partial line",
    "one huge line": b"a" * 1000 + b"\n" + b"b\n",
    "huge partial line": b"c\n" + b"d" * 999,
    "empty": b"",
    "newline only": b"\n",
}


def _source(tmp_path: Path, kind: str, content: bytes) -> S.Source:
    if kind == "stdin":
        return S.Source("-", stdin_data=content)
    path = tmp_path / ("in.log.gz" if kind == "gzip" else "in.log")
    path.write_bytes(gzip.compress(content) if kind == "gzip" else content)
    return S.describe_file(path)


@pytest.mark.parametrize("kind", ["plain", "gzip", "stdin"])
@pytest.mark.parametrize("name", list(CONTENTS))
@pytest.mark.parametrize("chunk_bytes", [7, 64, 1 << 20])
@pytest.mark.parametrize("hold_partial", [True, False])
@pytest.mark.parametrize("start", [0, 6])
def test_chunks_are_whole_lines_and_add_up(
    tmp_path: Path, kind: str, name: str, chunk_bytes: int, hold_partial: bool, start: int
) -> None:
    content = CONTENTS[name]
    start = min(start, len(content))  # a short content is resumed at its end
    src = _source(tmp_path, kind, content)
    chunks = list(S.iter_chunks(src, start=start, hold_partial=hold_partial, chunk_bytes=chunk_bytes))
    held = hold_partial and kind == "plain"
    end = content.rfind(b"\n") + 1 if held else len(content)
    expected = content[start:max(start, end)]
    assert b"".join(bytes(c.data) for c in chunks) == expected
    # The tail hash is that of the content before the chunk's end, whatever the offset read from: a file
    # grown twice by less than FINGERPRINT_BYTES must still match the tail stored for it.
    offset = start
    for c in chunks:
        data = bytes(c.data)
        assert c.offset == offset
        assert data.endswith(b"\n") or c.offset + len(data) == len(content)
        offset += len(data)
        upto = content[:offset]
        assert c.tail_hash == hashlib.sha256(upto[-S.FINGERPRINT_BYTES :]).hexdigest()
