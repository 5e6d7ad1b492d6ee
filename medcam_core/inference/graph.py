"""A Keras model's graph read for inference: its image input, its binary head, its 4-D feature maps —
also inside a backbone nested as one layer (the tutorials' `Sequential([DenseNet121(...), ...])`).

Tensors are found by walking back from the model's outputs (`_keras_history`: the node each tensor
came from). Asking a layer for `.output` is not enough: a backbone loaded inside a Sequential holds
several nodes (the Sequential's own rebuilds), and a nested model's `.output` is its inner graph's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import keras
import numpy as np

from medcam_core.errors import ModelFileError


class UnusableModel(ModelFileError):
    """A model that loads but is not a binary image classifier this tool can feed or explain."""


class HeadKind(Enum):
    SIGMOID = "sigmoid"  # Dense(1, sigmoid): the output is P(class 1)
    SOFTMAX = "softmax"  # Dense(2, softmax): the outputs are P(class 0), P(class 1)


@dataclass(frozen=True)
class ImageInput:
    size: int | None  # square side, or None when the model takes any size
    channels: int


@dataclass(frozen=True)
class Head:
    """The last layer, read as one logit for the positive class: Grad-CAM differentiates it.

    sigmoid: ±z (−z when class 0 is the positive one); softmax: z[pos] − z[other], whose sigmoid is
    exactly softmax[pos]. `dense` maps `pre` to z; None when the head is an activation on z itself.
    """

    kind: HeadKind
    positive_index: int
    pre: Any  # the symbolic tensor the logit is computed from, in the model's graph
    dense: keras.layers.Dense | None

    @property
    def contrast(self) -> np.ndarray:
        """(units, 1): z @ contrast is the positive class's logit."""
        if self.kind is HeadKind.SIGMOID:
            return np.array([[1.0 if self.positive_index == 1 else -1.0]], np.float32)
        column = np.full((2, 1), -1.0, np.float32)
        column[self.positive_index] = 1.0
        return column

    def logit(self, pre: Any) -> Any:
        """In float32 whatever the model computes in, as a float32 last layer casts its input."""
        pre = keras.ops.cast(pre, "float32")
        z = pre if self.dense is None else keras.ops.matmul(pre, keras.ops.cast(self.dense.kernel, "float32"))
        if self.dense is not None and self.dense.bias is not None:
            z = z + keras.ops.cast(self.dense.bias, "float32")
        return keras.ops.reshape(keras.ops.matmul(z, self.contrast), (-1,))

    def probability(self, outputs: np.ndarray) -> np.ndarray:
        """P(positive) from the model's own outputs (N, units)."""
        if self.kind is HeadKind.SOFTMAX:
            return outputs[:, self.positive_index]
        return outputs[:, 0] if self.positive_index == 1 else 1.0 - outputs[:, 0]


def producer(tensor: Any) -> tuple[Any, Any]:
    """The operation that made `tensor` and the node (call) of it that did, in the tensor's own graph."""
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index]


def graph_nodes(model: keras.Model) -> dict[str, tuple[Any, list[Any]]]:
    """Every operation of `model`'s own graph by name, with its calls in that graph (from its inputs on:
    a model cut out of a bigger graph, as the frozen-feature head is, ends there)."""
    found: dict[str, tuple[Any, list[Any]]] = {}
    seen: set[int] = set()
    inputs = {id(tensor) for tensor in model.inputs}
    stack = list(model.outputs)
    while stack:
        op, node = producer(stack.pop())
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.setdefault(op.name, (op, []))[1].append(node)
        stack.extend(t for t in node.input_tensors if id(t) not in inputs)
    return found


def image_input(model: keras.Model) -> ImageInput:
    """The one square image input (batch, S, S, 1 or 3) the model takes, or UnusableModel."""
    if len(model.inputs) != 1:
        raise UnusableModel(f"the model takes {len(model.inputs)} inputs; an image classifier takes one image")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] not in (1, 3):
        raise UnusableModel(
            f"the model's input {_shape(shape)} is not an image (batch, height, width, 1 or 3 channels last)"
        )
    if shape[1] != shape[2]:
        raise UnusableModel(f"the model's input is {shape[1]}×{shape[2]}: only square inputs are supported")
    return ImageInput(shape[1], shape[-1])


def read_head(model: keras.Model, positive_index: int = 1) -> Head:
    """The binary head: Dense(1, sigmoid) or Dense(2, softmax), or an Activation/Softmax on such logits."""
    if positive_index not in (0, 1):
        raise UnusableModel(f"the positive index must be 0 or 1, got {positive_index}")
    if len(model.outputs) != 1:
        raise UnusableModel(f"the model has {len(model.outputs)} outputs; a binary classifier has one")
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2:
        raise UnusableModel(f"the model's output {_shape(shape)} is not one row of class scores per image")
    units = shape[-1]
    if units not in (1, 2):
        raise UnusableModel(
            f"the model has {units} outputs, more than two: a binary head is Dense(1, sigmoid) or Dense(2, softmax)"
        )
    op, node = producer(model.outputs[0])
    if isinstance(op, keras.layers.Softmax):
        activation = "softmax"
    elif isinstance(op, keras.layers.Dense | keras.layers.Activation):
        activation = getattr(op.activation, "__name__", str(op.activation))
    else:
        raise UnusableModel(f"the model ends in {type(op).__name__} {op.name!r}, not a Dense or Activation layer")
    kind = {(1, "sigmoid"): HeadKind.SIGMOID, (2, "softmax"): HeadKind.SOFTMAX}.get((units, activation))
    if kind is None:
        raise UnusableModel(
            f"the head is {units} output(s) with {activation}; a binary head is Dense(1, sigmoid) or Dense(2, softmax)"
        )
    dense = op if isinstance(op, keras.layers.Dense) else None
    return Head(kind, positive_index, node.input_tensors[0], dense)


def feature_maps(model: keras.Model) -> list[str]:
    """Names of the layers with a 4-D output, in graph order; a nested model's own layers stand in its place."""
    nodes = graph_nodes(model)
    out: list[str] = []
    for layer in model.layers:
        if layer.name not in nodes or isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            out += feature_maps(layer)
        elif len(nodes[layer.name][1][0].output_tensors[0].shape) == 4:
            out.append(layer.name)
    return out


Tap = Callable[..., Any]  # x → [feature map, target]


@dataclass
class NestedTap:
    """x → [map inside the nested model, target]: the outer layers before it, the nested tap, those after."""

    before: keras.Model | None
    inner: Tap
    after: keras.Model

    def __call__(self, x: Any, training: bool = False) -> list[Any]:
        y = x if self.before is None else self.before(x, training=training)
        fmap, out = self.inner(y, training=training)
        return [fmap, self.after(out, training=training)]


def tap(model: keras.Model, layer: str, target: Any, entry: Any = None) -> Tap:
    """A function of `entry` (default: the model's input) giving [output of `layer`, `target`].

    `layer` may lie inside a nested model: the nested model is then run as its own graph, from its
    input to [that layer, its output], between the outer layers before and after it, so no model
    ever spans two graphs (Keras 3's "Graph disconnected").
    """
    entry = model.inputs[0] if entry is None else entry
    nodes = graph_nodes(model)
    if layer in nodes:
        return keras.Model(entry, [_only_call(nodes, layer).output_tensors[0], target])
    for name, (op, _) in nodes.items():
        if isinstance(op, keras.Model) and layer in feature_maps(op):
            node = _only_call(nodes, name)
            if len(node.input_tensors) != 1:
                raise UnusableModel(f"the nested model {name!r} takes {len(node.input_tensors)} inputs, not one")
            inner = tap(op, layer, op.outputs[0], op.inputs[0])
            before = None if node.input_tensors[0] is entry else keras.Model(entry, node.input_tensors[0])
            return NestedTap(before, inner, keras.Model(node.output_tensors[0], target))
    raise UnusableModel(f"no layer {layer!r} in the model")


def _only_call(nodes: dict[str, tuple[Any, list[Any]]], name: str) -> Any:
    calls = nodes[name][1]
    if len(calls) != 1:
        raise UnusableModel(f"layer {name!r} is called {len(calls)} times in the model; its map is ambiguous")
    return calls[0]


def _shape(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
