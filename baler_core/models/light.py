"""The sequential model's decoder loaded without torch, for the command line's compression and decompression: its
heads as float64 numpy arrays, which the compiled heads (``coding.mlp_kernels``) predict with (``store.load_model``
seals the decoder blob from the tensors as stored, ``store.sealed_decoder``, so the file's sha256 check is the same).

Why: importing torch costs about 1.5 s a process, a fifth of ``baler decompress`` of 200 MB of jets and most of
it for a small file; with the compiled heads nothing else of torch is needed. Where they do not run
(``BALER_JIT=off``), ``predict_column`` builds the torch module after all.
"""

from __future__ import annotations

import numpy as np

from baler_core.coding.packed import unpack_array
from baler_core.errors import FormatError

LIGHT_DTYPES = ("float32", "float16", "grid")  # decoder dtypes numpy holds (not bfloat16)
_SLOPES = {"gelu": 0.0, "relu": 0.0, "leaky_relu": 0.01, "tanh": 0.0}  # models.layers' activations


def light_capable(record: dict) -> bool:
    """Whether a model file's decoder loads without torch: a sequential model whose decoder numpy can hold (a
    malformed record is left to the full loader, which names what is wrong)."""
    args = record.get("model_args")
    return (record.get("model") == "sequential" and record.get("decoder_dtype", "float32") in LIGHT_DTYPES
            and isinstance(args, dict) and "n_features" in args and args.get("activation", "gelu") in _SLOPES)


class SequentialArrays:
    """A ``SequentialPredictor``'s decoder as float64 arrays: what :mod:`codec.inference` asks of the float64
    decoder (``head_arrays``, ``activation_name``, and ``predict_column`` through torch as a fallback)."""

    sequential = True  # models.auto.is_sequential
    light = True

    def __init__(self, tensors: dict[str, np.ndarray], args: dict, source: str) -> None:
        self.args = dict(args)
        self.context = bool(args.get("context", True))
        self.w = {}
        for key, shape in decoder_shapes(args).items():
            t = tensors.get(key)
            if t is None or tuple(t.shape) != shape:
                raise FormatError(f"{source}: tensor {key} has shape {None if t is None else t.shape}, "
                                  f"model needs {shape}")
            # as torch's path: float32 state, then double
            self.w[key.removeprefix("decoder.")] = t.astype(np.float32).astype(np.float64)
        self.n_features = int(args["n_features"])
        self._torch = None

    def head_arrays(self, j: int) -> tuple:
        """As ``SequentialPredictor.head_arrays``."""
        return head_slices(self.w, j, self.context)

    def activation_name(self) -> tuple[str, float]:
        name = self.args.get("activation", "gelu")
        return name, _SLOPES[name]

    def predict_column(self, j: int, previous):
        """Through the torch module (built once, float64), where the compiled heads do not run."""
        if self._torch is None:
            import torch

            from baler_core.models.registry import build_model

            model = build_model("sequential", self.args).double().eval()
            state = model.state_dict()
            for name, values in self.w.items():
                state[f"decoder.{name}"] = torch.from_numpy(values)
            model.load_state_dict(state)
            self._torch = model
        return self._torch.predict_column(j, previous)


def head_slices(w: dict[str, np.ndarray], j: int, context: bool) -> tuple:
    """Column ``j``'s head from the decoder's float64 arrays by name (``w_in`` (n, n, H), ``b_in``, ``w_hidden``
    (D, n, H, H), ``b_hidden``, ``w_out``, ``b_out``), contiguous, as the compiled kernel takes it:
    ``(inputs, w_in (inputs, H), b_in (H,), w_hidden (D, H, H), b_hidden (D, H), w_out (H,), b_out)``."""
    k = j if context else 0
    c = np.ascontiguousarray
    return (k, c(w["w_in"][j, :k]), c(w["b_in"][j]), c(w["w_hidden"][:, j]), c(w["b_hidden"][:, j]),
            c(w["w_out"][j]), float(w["b_out"][j]))


def decoder_shapes(args: dict) -> dict[str, tuple[int, ...]]:
    """The decoder tensors of a sequential model with constructor ``args``, and their shapes."""
    n, h, d = int(args["n_features"]), int(args.get("hidden", 32)), int(args.get("depth", 2))
    return {"decoder.w_in": (n, n, h), "decoder.b_in": (n, h), "decoder.w_hidden": (d - 1, n, h, h),
            "decoder.b_hidden": (d - 1, n, h), "decoder.w_out": (n, h), "decoder.b_out": (n,)}


def load_light(tensors: dict[str, np.ndarray], record: dict, source: str) -> SequentialArrays:
    """The decoder of a model file's ``tensors`` (numpy, as stored; ``grid`` tensors unpacked here)."""
    shapes = decoder_shapes(record["model_args"])
    unexpected = set(tensors) - set(shapes)
    if unexpected:
        raise FormatError(f"{source}: weights do not fit model 'sequential': unexpected {sorted(unexpected)[:5]}")
    if record.get("decoder_dtype") == "grid":
        out = {}
        for k, v in tensors.items():
            if k in shapes:
                if v.dtype != np.uint8 or v.ndim != 1:
                    raise FormatError(f"{source}: decoder tensor {k} is not packed (decoder_dtype grid)")
                v = unpack_array(v.tobytes(), shapes[k])
            out[k] = v
        tensors = out
    return SequentialArrays(tensors, record["model_args"], source)

