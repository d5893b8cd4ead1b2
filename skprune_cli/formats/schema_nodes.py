"""The parts of skops' ``schema.json`` that locate arrays, as msgspec structs.

Each skops node kind is a struct tagged by its ``__loader__``; only the fields
that lead to arrays (and name types) are declared, so msgspec skips the rest
of a multi-megabyte schema without building Python objects for it. A dict held
in an attribute (a vocabulary) stays raw bytes until it is known to hold an
array. Unknown loaders fail to decode: skops could not load them either.
"""

from __future__ import annotations

import re
from typing import Optional, Union

import msgspec

_RENAME = {"cls": "__class__", "module": "__module__", "id": "__id__", "protocol": "protocol"}


class Node(msgspec.Struct, tag_field="__loader__", rename=_RENAME, gc=False):
    """A skops schema node: only the fields that locate arrays are decoded, the rest is skipped."""

    cls: str = ""
    module: str = ""
    id: Optional[int] = None  # id() of the saved object: an object reached twice is listed once
    protocol: Optional[int] = None  # only on the root


class JsonNode(Node, tag="JsonNode"):
    content: str = ""  # the value, JSON-encoded


class DictNode(Node, tag="DictNode"):
    """A dict held in an attribute (a vocabulary, cv_results_): decoded only if it holds arrays."""

    content: msgspec.Raw = msgspec.Raw(b"{}")


class AttrDict(Node, tag="DictNode"):
    """An object's attributes: always decoded."""

    content: "dict[str, AnyNode]" = {}


class ListNode(Node, tag="ListNode"):
    content: "list[AnyNode]" = []


class TupleNode(Node, tag="TupleNode"):
    content: "list[AnyNode]" = []


class SetNode(Node, tag="SetNode"):
    content: "list[AnyNode]" = []


class ObjectNode(Node, tag="ObjectNode"):
    content: "Optional[StateNode]" = None


class _Reduce(msgspec.Struct, gc=False):
    args: "Optional[AnyNode]" = None


class TreeNode(Node, tag="TreeNode", rename={**_RENAME, "reduce": "__reduce__"}):
    content: "Optional[StateNode]" = None
    reduce: Optional[_Reduce] = None


class LossNode(Node, tag="LossNode", rename={**_RENAME, "reduce": "__reduce__"}):
    content: "Optional[StateNode]" = None
    reduce: Optional[_Reduce] = None


class RandomStateNode(Node, tag="RandomStateNode"):
    content: "Optional[StateNode]" = None


class ConstructorFromReduceNode(Node, tag="ConstructorFromReduceNode"):
    content: "Optional[StateNode]" = None


class _Main(msgspec.Struct, gc=False):
    main: "Optional[AnyNode]" = None


class DefaultDictNode(Node, tag="DefaultDictNode"):
    content: Optional[_Main] = None


class DeprecatedDictNode(Node, tag="_DictWithDeprecatedKeysNode"):
    content: Optional[_Main] = None


class _Masked(msgspec.Struct, gc=False):
    data: "Optional[AnyNode]" = None


class MaskedArrayNode(Node, tag="MaskedArrayNode"):
    content: Optional[_Masked] = None


class NdArrayNode(Node, tag="NdArrayNode"):
    type: str = ""
    file: Optional[str] = None
    content: "Optional[list[AnyNode]]" = None


class SparseMatrixNode(Node, tag="SparseMatrixNode"):
    type: str = ""
    file: Optional[str] = None


# nodes that cannot hold a numeric array skprune would report
class _Leafish(Node):
    pass


_LEAF_TAGS = ("BytesNode", "BytearrayNode", "SliceNode", "FunctionNode", "MethodNode", "PartialNode", "TypeNode",
              "CachedNode", "OperatorFuncNode", "DTypeNode", "RandomGeneratorNode", "QuantileForestNode")
_LEAVES = tuple(type(tag, (_Leafish,), {}, tag=tag) for tag in _LEAF_TAGS)

AnyNode = Union[JsonNode, DictNode, ListNode, TupleNode, SetNode, ObjectNode, TreeNode, LossNode, RandomStateNode,
                ConstructorFromReduceNode, DefaultDictNode, DeprecatedDictNode, MaskedArrayNode, NdArrayNode,
                SparseMatrixNode, *_LEAVES]  # type: ignore[valid-type]


# an object's state: its attribute dict, or the tuple a compiled object pickles to
StateNode = Union[AttrDict, TupleNode, ListNode, JsonNode]

DECODER = msgspec.json.Decoder(AnyNode)
DICT_DECODER = msgspec.json.Decoder(dict[str, AnyNode])
FILE_KEY = re.compile(rb'"file"\s*:\s*"')  # skops' member reference; a word "file" maps to an object
# a node other than a plain JSON value: its type must be judged like any other (a vocabulary has none)
TYPED_KEY = re.compile(rb'"__loader__"\s*:\s*"(?!JsonNode")')
OWNERS = (ObjectNode, TreeNode, LossNode, RandomStateNode, ConstructorFromReduceNode)
