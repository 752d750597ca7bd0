"""Bounded decompression for untrusted evidence files.

DMARC reports and ESP exports arrive from strangers as gzip, zip, bzip2, xz or zstd. Every decoder here
streams with an explicit output cap, so a bomb costs at most `limit` bytes of memory before it is refused,
whatever sizes an archive claims. Archives inside archives are refused rather than unpacked recursively.
Every failure is an InputError with one line naming what was wrong.
"""

from __future__ import annotations

import bz2
import io
import lzma
import os
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import zstandard

from analysis.errors import InputError

# The cap on decompressed bytes per file (read at call time, so tests and operators can lower it).
DEFAULT_LIMIT = int(os.environ.get("DELIVERABILITY_MAX_DECOMPRESSED", str(256 * 1024 * 1024)))
MAX_ZIP_MEMBERS = 64
MAX_RATIO = 1000  # a real report compresses ~10-30x; a 1000x member is a bomb, whatever its size
_CHUNK = 1 << 16
_ZSTD_STEP = 1024

MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # empty archive
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


@dataclass(frozen=True)
class Member:
    """One decompressed payload: its name inside the container (or the outer name) and its bytes."""

    name: str
    data: bytes


def sniff_compression(data: bytes) -> str | None:
    """The container format from the magic bytes, or None for plain content."""
    for magic, kind in MAGIC:
        if data.startswith(magic):
            return kind
    return None


class TooBig(InputError):
    """Decompressed content over the cap: a bomb, or a file too large for this store."""


def _too_big(what: str, limit: int) -> InputError:
    return TooBig(f"{what}: decompressed size exceeds the {limit:,}-byte cap (possible decompression bomb)")


def _check_ratio(what: str, packed: int, out: int) -> None:
    if out > 1_000_000 and packed > 0 and out / packed > MAX_RATIO:
        raise InputError(
            f"{what}: compression ratio above {MAX_RATIO}:1 ({packed:,} -> {out:,} bytes), refused as a bomb"
        )


def _gunzip(data: bytes, what: str, limit: int) -> bytes:
    """All gzip members (multi-member files are legal), capped."""
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=31)
        buf = rest
        while True:
            try:
                chunk = d.decompress(buf, limit + 1 - len(out))
            except zlib.error as exc:
                raise InputError(f"{what}: corrupt gzip data ({exc})") from None
            out += chunk
            if len(out) > limit:
                raise _too_big(what, limit)
            _check_ratio(what, len(data), len(out))
            if d.eof:
                break
            if not d.unconsumed_tail:
                raise InputError(f"{what}: truncated gzip data (stream ends before its end marker)")
            buf = d.unconsumed_tail
        rest = d.unused_data
        # trailing padding (NULs, a mailer's CRLF) after the last member is tolerated, like gzip(1)
        if rest.strip(b"\x00 \t\r\n") == b"":
            break
        if not rest.startswith(b"\x1f\x8b"):
            raise InputError(f"{what}: trailing garbage after gzip data")
    return bytes(out)


def _stream(
    make: Callable[[], bz2.BZ2Decompressor | lzma.LZMADecompressor],
    kind: str,
    data: bytes,
    what: str,
    limit: int,
) -> bytes:
    """bzip2/xz share one decompressor protocol (max_length, needs_input, eof, unused_data)."""
    out = bytearray()
    rest = data
    while rest:
        d = make()
        buf = rest
        try:
            while True:
                chunk = d.decompress(buf, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise _too_big(what, limit)
                _check_ratio(what, len(data), len(out))
                if d.eof:
                    break
                if d.needs_input:
                    raise InputError(f"{what}: truncated {kind} data (stream ends before its end marker)")
                buf = b""
        except (OSError, lzma.LZMAError, ValueError) as exc:
            raise InputError(f"{what}: corrupt {kind} data ({exc})") from None
        rest = d.unused_data
        if rest.strip(b"\x00") == b"":
            break
    return bytes(out)


def _unzstd(data: bytes, what: str, limit: int) -> bytes:
    """zstd frames fed in small input steps: one step of RLE blocks expands at most ~32 MiB over the cap."""
    out = bytearray()
    rest = data
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        pos = 0
        try:
            while not d.eof and pos < len(rest):
                out += d.decompress(rest[pos : pos + _ZSTD_STEP])
                pos += _ZSTD_STEP
                if len(out) > limit:
                    raise _too_big(what, limit)
                _check_ratio(what, len(data), len(out))
        except zstandard.ZstdError as exc:
            raise InputError(f"{what}: corrupt zstd data ({exc})") from None
        if not d.eof:
            raise InputError(f"{what}: truncated zstd data (frame ends before its end)")
        rest = d.unused_data + rest[pos:]
        if rest.strip(b"\x00") == b"":
            break
    return bytes(out)


def _unzip(data: bytes, what: str, limit: int) -> list[Member]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{what}: truncated or corrupt zip archive ({exc})") from None
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"{what}: zip archive has {len(infos)} members (more than {MAX_ZIP_MEMBERS})")
    if sum(i.file_size for i in infos) > limit:
        raise _too_big(what, limit)
    members: list[Member] = []
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputError(f"{what}: zip member {info.filename!r} is encrypted")
        buf = bytearray()
        try:
            with zf.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        break
                    buf += chunk
                    total += len(chunk)
                    if total > limit:
                        raise _too_big(what, limit)
                    _check_ratio(what, len(data), total)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise InputError(f"{what}: truncated or corrupt zip member {info.filename!r} ({exc})") from None
        members.append(Member(info.filename, bytes(buf)))
    return members


_STRIP_SUFFIX = {"gzip": (".gz", ".gzip"), "bzip2": (".bz2",), "xz": (".xz",), "zstd": (".zst", ".zstd")}


def unpack(data: bytes, name: str, *, limit: int | None = None) -> list[Member]:
    """Decompress one level of gzip/zip/bzip2/xz/zstd, capped; plain data comes back as one member.

    A member that is itself compressed is refused: nested archives are a classic bomb vector and no
    legitimate report producer nests them.
    """
    limit = DEFAULT_LIMIT if limit is None else limit
    what = os.path.basename(name) or "input"
    kind = sniff_compression(data)
    if kind is None:
        if len(data) > limit:
            raise _too_big(what, limit)
        return [Member(name, data)]
    if kind == "zip":
        members = _unzip(data, what, limit)
    else:
        inner = name
        for suffix in _STRIP_SUFFIX[kind]:
            if inner.lower().endswith(suffix):
                inner = inner[: -len(suffix)]
        if kind == "gzip":
            payload = _gunzip(data, what, limit)
        elif kind == "bzip2":
            payload = _stream(bz2.BZ2Decompressor, kind, data, what, limit)
        elif kind == "xz":
            payload = _stream(lzma.LZMADecompressor, kind, data, what, limit)
        else:
            payload = _unzstd(data, what, limit)
        members = [Member(inner, payload)]
    for m in members:
        nested = sniff_compression(m.data)
        if nested is not None:
            raise InputError(f"{what}: nested archive ({nested} inside {kind}) refused")
    return members


def unpack_one(data: bytes, name: str, *, limit: int | None = None) -> bytes:
    """The single payload of a (possibly compressed) file; several members are concatenated by the caller."""
    members = unpack(data, name, limit=limit)
    if len(members) != 1:
        raise InputError(f"{os.path.basename(name)}: expected one file in the archive, found {len(members)}")
    return members[0].data
