"""Input sources: paths, globs, directories and stdin; transparent decompression; identity by content.

A log file is recognised by what it holds, not by its name: rotation renames and compresses files, so the
fingerprint is a hash of the first bytes of the *decompressed* content, and a cheap signature of the raw
file (size + first/last 64 KiB) lets an unchanged file be skipped without reading it.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from analysis.errors import InputError
from analysis.ingest.options import CHUNK_BYTES

if TYPE_CHECKING:
    import duckdb
    import polars as pl

FINGERPRINT_BYTES = 64 * 1024

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


@dataclass
class Source:
    """One input: a file on disk or standard input."""

    display: str
    path: Path | None = None  # None for stdin
    compression: str | None = None
    raw_size: int | None = None
    raw_sig: str | None = None
    mtime: float | None = None
    stdin_data: bytes | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path is None


def sniff_compression(head: bytes) -> str | None:
    """Compression by magic bytes (names lie after rotation)."""
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def _raw_signature(path: Path, size: int) -> str:
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            f.seek(max(size - FINGERPRINT_BYTES, FINGERPRINT_BYTES))
            h.update(f.read(FINGERPRINT_BYTES))
    return h.hexdigest()


def describe_file(path: Path) -> Source:
    """Stat and sniff a file; unreadable files raise InputError with a one-line reason."""
    try:
        st = path.stat()
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return Source(
        display=str(path),
        path=path,
        compression=sniff_compression(head),
        raw_size=st.st_size,
        raw_sig=_raw_signature(path, st.st_size),
        mtime=st.st_mtime,
    )


def expand_inputs(paths: list[str]) -> list[Source]:
    """Files, globs, directories (their regular files, recursively, sorted) and '-' for stdin."""
    out: list[Source] = []
    for p in paths:
        if p == "-":
            data = sys.stdin.buffer.read()
            out.append(Source(display="<stdin>", compression=sniff_compression(data[:8]), stdin_data=data))
            continue
        if any(ch in p for ch in "*?[") and not Path(p).exists():
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise InputError(f"no files match {p}")
            out.extend(describe_file(Path(m)) for m in matches if Path(m).is_file())
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(
                f
                for f in path.rglob("*")
                if f.is_file() and not f.name.startswith(".") and not _maildir_tmp(f)
            )
            out.extend(describe_file(f) for f in files)
        elif path.exists():
            out.append(describe_file(path))
        else:
            raise InputError(f"cannot read {p}: no such file or directory")
    return out


def open_stream(src: Source) -> BinaryIO:
    """A binary stream of the decompressed content."""
    raw: BinaryIO
    if src.stdin_data is not None:
        raw = io.BytesIO(src.stdin_data)
    else:
        assert src.path is not None
        try:
            raw = src.path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {src.display}: {exc.strerror or exc}") from None
    if src.compression == "gzip":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if src.compression == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if src.compression == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if src.compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def read_head(src: Source, n: int = FINGERPRINT_BYTES) -> bytes:
    """The first `n` decompressed bytes (fewer for a short input)."""
    with open_stream(src) as f:
        try:
            return _read_exact(f, n)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise InputError(f"cannot decompress {src.display}: {exc}") from None


def _read_exact(f: BinaryIO, n: int) -> bytes:
    parts = []
    want = n
    while want > 0:
        b = f.read(want)
        if not b:
            break
        parts.append(b)
        want -= len(b)
    return b"".join(parts)


def fingerprint(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


@dataclass
class Chunk:
    """Whole lines of decompressed content starting at byte `offset`."""

    data: memoryview  # of the block read (see iter_chunks)
    offset: int
    tail_hash: str  # sha256 of the last FINGERPRINT_BYTES of content up to the end of this chunk


def iter_chunks(
    src: Source, *, start: int = 0, hold_partial: bool = True, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Chunk]:
    """Whole-line chunks from byte `start`. A last line without a newline is held back when the source is
    a plain file that may still grow (`hold_partial`); compressed files and stdin are finished.

    A plain file's chunk is a view of the block read, and the partial line after it is read again with
    the next block: slicing and joining would copy every byte twice (about 1 CPU-s per 10M lines)."""
    finished = src.is_stdin or src.compression is not None or not hold_partial
    with open_stream(src) as f:
        rewind = src.compression is None and not src.is_stdin and f.seekable()
        try:
            # The tail hash covers the content before `start` too: a file resumed twice with a small
            # append in between must still match its stored tail.
            window = b""
            if start:
                lo = max(0, start - FINGERPRINT_BYTES)
                _skip(f, lo)
                window = _read_exact(f, start - lo)
            offset = start
            carry = b""
            while True:
                block = f.read(chunk_bytes)
                if not block:
                    if carry and finished:
                        window = (window + carry)[-FINGERPRINT_BYTES:]
                        yield Chunk(memoryview(carry), offset, hashlib.sha256(window).hexdigest())
                    return
                if carry:
                    block, carry = carry + block, b""
                cut = block.rfind(b"\n")
                if cut < 0:
                    carry = block
                    continue
                data = memoryview(block)[: cut + 1]
                if rewind and cut + 1 < len(block):
                    f.seek(cut + 1 - len(block), io.SEEK_CUR)
                else:
                    carry = block[cut + 1 :]
                window = (window + data[-FINGERPRINT_BYTES:])[-FINGERPRINT_BYTES:]
                yield Chunk(data, offset, hashlib.sha256(window).hexdigest())
                offset += len(data)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise InputError(f"cannot decompress {src.display}: {exc}") from None


def _skip(f: BinaryIO, n: int) -> None:
    if (
        hasattr(f, "seekable")
        and f.seekable()
        and not isinstance(f, gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile)
    ):
        f.seek(n)
        return
    left = n
    while left > 0:
        b = f.read(min(left, CHUNK_BYTES))
        if not b:
            break
        left -= len(b)


def tail_hash_at(src: Source, offset: int) -> str | None:
    """sha256 of the FINGERPRINT_BYTES of content just before `offset` (None if the content is shorter)."""
    lo = max(0, offset - FINGERPRINT_BYTES)
    with open_stream(src) as f:
        _skip(f, lo)
        data = _read_exact(f, offset - lo)
    if len(data) != offset - lo:
        return None
    return hashlib.sha256(data).hexdigest()


def split_lines(data: bytes | memoryview) -> pl.Series:
    """Lines of a chunk (which ends at a newline, or at EOF) as a polars String series, without copying
    the bytes through Python strings. Invalid UTF-8 lines keep their bytes as \\xNN escapes."""
    # Imported here so that the unchanged-file fast path never loads the columnar stack.
    import numpy as np
    import polars as pl

    if not data:
        return pl.Series("raw", [], dtype=pl.String)
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10) + 1
    if data[-1:] != b"\n":
        ends = np.append(ends, len(data))
    return text_lines(data, ends).str.strip_suffix("\n").str.strip_suffix("\r")


def join_lines(pieces: Sequence[bytes | memoryview]) -> pl.Series:
    """The given lines (no newlines inside) as a String series, decoded like `split_lines` does."""
    import numpy as np
    import polars as pl

    if not pieces:
        return pl.Series("raw", [], dtype=pl.String)
    ends = np.cumsum(np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces)))
    return text_lines(b"".join(pieces), ends)


def text_lines(data: bytes | memoryview, ends: Any) -> pl.Series:
    """`data` cut at the byte offsets `ends` (each line's end) into a String series."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    series = pl.Series("raw", binary)
    try:
        return series.cast(pl.String)
    except pl.exceptions.ComputeError:
        # Rare: some lines carry bytes that are not UTF-8 (8-bit replies from remote servers). Those lines
        # keep their bytes visibly as \xNN escapes; the others are untouched.
        lines = [b.decode("utf-8", "backslashreplace") for b in series.to_list()]
        return pl.Series("raw", lines, dtype=pl.String)


def unchanged_file_id(con: duckdb.DuckDBPyConnection, src: Source) -> int | None:
    """The stored file whose raw bytes `src` still has (same size and first/last 64 KiB), if any."""
    if src.raw_sig is None:
        return None
    rows = con.execute("SELECT file_id FROM ingest_files WHERE raw_sig = ? LIMIT 1", [src.raw_sig]).fetchall()
    return int(rows[0][0]) if rows else None


def _maildir_tmp(f: Path) -> bool:
    """A file in a Maildir's tmp/ is still being delivered: not an input."""
    maildir = f.parent.parent
    return f.parent.name == "tmp" and (maildir / "cur").is_dir() and (maildir / "new").is_dir()
