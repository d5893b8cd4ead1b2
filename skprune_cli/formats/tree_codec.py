"""Tree node records in the layout that compresses best and that sklearn still accepts.

``Tree.__setstate__`` accepts a node array whose fields have the expected
names and types up to byte order and index width (sklearn's own path for
trees saved on a 32-bit or big-endian machine), whatever their offsets, and
casts it to its native records. So a ``.skops`` member may hold the nodes as
48-byte records: big-endian, 32-bit indices, no padding but at the end.
Loading gives back the unmodified native ``Tree`` with identical values.

Measured on a fully grown RandomForestClassifier(100), LZMA with lp=pb=3,
per node: native 64-byte records 7.9 bytes (5.3 with ``drop_importances``),
these records 5.8 (4.1). The same fields packed into 41 bytes give 7.6
little-endian, 7.1 big-endian (sign and exponent bytes lead); the 48-byte
record, a multiple of 8, lets LZMA's position contexts see each byte of a
field at the same phase in every record (LZMA preset 1, as ``--zip`` uses for
big members: 8.8 -> 7.1, 5.7 -> 4.6). DEFLATE has no such contexts and
prefers the 41 little-endian bytes: 9.8 -> 9.35 bytes a node (6.6 -> 6.3),
where the 48-byte big-endian records would cost 10.3; they are also the
smallest uncompressed (41 bytes instead of 64). With 16 position contexts
(lp=pb=4, 48 = 3 x 16) the records cost 3% less again (5.57 -> 5.40 bytes a
node on 25 trees); none of 40 other placements of the 7 padding bytes in the
48-byte record did better than all at the end.
"""

from __future__ import annotations

import io

import numpy as np

# numpy casts structured arrays field by position and .npy cannot describe out-of-order
# offsets: the fields keep sklearn's order, only their widths, byte order and offsets change
PACKED_NODE = np.dtype({
    "names": ["left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
              "weighted_n_node_samples", "missing_go_to_left"],
    "formats": [">i4", ">i4", ">i4", ">f8", ">f8", ">i4", ">f8", "u1"],
    "offsets": [0, 4, 8, 12, 20, 28, 32, 40],
    "itemsize": 48,
})
PACKED_NODE_SMALL = np.dtype({  # for DEFLATE, BZIP2 and stored members
    "names": PACKED_NODE.names,
    "formats": ["<i4", "<i4", "<i4", "<f8", "<f8", "<i4", "<f8", "u1"],
    "offsets": [0, 4, 8, 12, 20, 28, 32, 40],
    "itemsize": 41,
})
INDEX_FIELDS = ("left_child", "right_child", "feature", "n_node_samples")
_I4 = np.iinfo(np.int32)


def native_node_dtype() -> np.dtype:
    from sklearn.tree._tree import NODE_DTYPE

    return np.dtype(NODE_DTYPE)


def pack_nodes(nodes: np.ndarray, layout: np.dtype = PACKED_NODE) -> np.ndarray | None:
    """The nodes as ``layout`` records, or None when an index does not fit 32 bits."""
    for name in INDEX_FIELDS:
        column = nodes[name]
        if column.size and (column.min() < _I4.min or column.max() > _I4.max):
            return None
    packed = np.zeros(len(nodes), layout)  # zeros: the bytes after the last field stay 0
    for name in layout.names:
        packed[name] = nodes[name]
    return packed


def for_lzma(mode: str, size: int) -> bool:
    """Whether a member of ``size`` bytes will (likely) be LZMA-compressed under ``mode``."""
    from .compression import FAST_MIN

    return mode in ("lzma", "best") or (mode == "auto" and size >= FAST_MIN)


def encode_member(name: str, data: bytes | memoryview, mode: str = "best") -> bytes | memoryview:
    """A tree's node member re-encoded as packed records for compression ``mode``; anything else unchanged."""
    from .compression import npy_dtype

    if npy_dtype(name, memoryview(data).cast("B")) != native_node_dtype():
        return data
    nodes = np.load(io.BytesIO(data), allow_pickle=False)
    if nodes.ndim != 1 or not set(PACKED_NODE.names) <= set(nodes.dtype.names or ()):
        return data  # scikit-learn < 1.3 nodes lack missing_go_to_left: written as they are
    # judged on the packed member's size, the size the compression policy then sees
    packed = pack_nodes(nodes, PACKED_NODE if for_lzma(mode, nodes.size * PACKED_NODE.itemsize) else PACKED_NODE_SMALL)
    if packed is None:
        return data
    buffer = io.BytesIO()
    np.save(buffer, packed, allow_pickle=False)
    return buffer.getbuffer()
