"""Model files: safetensors weights plus a JSON description, and the decoder blob a ``.baler`` file needs.

A model file holds every tensor (``encoder.*`` and ``decoder.*``) and, in the safetensors metadata, one JSON
record: registry name, constructor arguments, normalization, column names, latent quantization and training
summary. Loading never unpickles. The *decoder blob* is the part decompression needs (decoder weights and the
record); its sha256 is written into every ``.baler`` file so a wrong decoder is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard
from safetensors import SafetensorError

from baler_core.coding.entropy import unzstd
from baler_core.coding.packed import DEFAULT_BOUND, pack_array, unpack_array
from baler_core.errors import FormatError, InputError
from baler_core.prep.normalization import Normalizer

if TYPE_CHECKING:  # torch loads with the first model, not with this module (``models.auto`` says why)
    import torch

MODEL_FORMAT = "baler-model"
MODEL_FORMAT_VERSION = 5  # 2: relations may carry a "kind" (nonlinear); 3: decoder_dtype "grid" (packed decoder
# tensors, coding.packed); 4: "priors" (codec.priors); 5: "header_templates" (codec.priors). A file is written
# with the oldest version that reads it
DECODER_PREFIX = "decoder."
MAX_DECODER_BYTES = 4 << 30


@dataclass
class ModelBundle:
    """A model rebuilt from a file, with everything needed to use it."""

    model: torch.nn.Module
    record: dict
    packed: dict[str, torch.Tensor] | None = None  # decoder_dtype "grid": the packed decoder tensors as stored
    blob: bytes | None = None  # the decoder blob, where the model was loaded without torch (``models.light``)

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer.from_dict(self.record["normalization"])

    @property
    def kind(self) -> str:
        return self.record["kind"]

    @property
    def columns(self) -> list[str]:
        return self.record["columns"]

    def decoder_blob(self) -> bytes:
        return self.blob if self.blob is not None else decoder_blob(self.model, self.record, self.packed)


def _st_save(tensors: dict, metadata: dict) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


def _decoder_record(record: dict) -> dict:
    keys = ("format", "version", "model", "model_args", "kind", "columns", "normalization", "latent", "decoder_dtype",
            "decoder_bound", "relations", "priors", "header_templates")
    return {k: record[k] for k in keys if k in record}


DECODER_DTYPES = ("float32", "float16", "bfloat16", "grid")


def _store_tensors(model: torch.nn.Module, decoder_dtype: str, only_decoder: bool,
                   packed: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The tensors to store: decoder weights in ``decoder_dtype`` (``grid``: the ``packed`` bytes)."""
    import torch

    if decoder_dtype not in DECODER_DTYPES:
        raise InputError(f"decoder dtype {decoder_dtype!r} unknown; choose {', '.join(DECODER_DTYPES)}")
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(decoder_dtype)
    out = {}
    for k, v in model.state_dict().items():
        is_dec = k.startswith(DECODER_PREFIX)
        if only_decoder and not is_dec:
            continue
        t = v.detach().to("cpu").contiguous()
        if is_dec and t.is_floating_point():
            t = packed[k] if dtype is None else t.to(dtype)
        out[k] = t
    return out


def pack_decoder(model: torch.nn.Module, bound: float) -> dict[str, torch.Tensor]:
    """Pack every floating decoder tensor on its grid (``coding.packed``) and load the values the packing
    rebuilds into ``model``, so that compression predicts with the weights decompression will have. Returns the
    packed tensors (uint8)."""
    import torch

    packed = {}
    state = model.state_dict()
    for k, v in state.items():
        if k.startswith(DECODER_PREFIX) and v.is_floating_point():
            blob = pack_array(v.detach().cpu().numpy(), bound)
            packed[k] = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
            state[k] = torch.from_numpy(unpack_array(blob, tuple(v.shape))).to(v.dtype)
    model.load_state_dict(state)
    return packed


def decoder_blob(model: torch.nn.Module, record: dict, packed: dict[str, torch.Tensor] | None = None) -> bytes:
    """Deterministic bytes of the decoder weights and the record decompression needs, zstd-compressed
    (the bytes a decoder really costs to store; masked or repeated weights compress away)."""
    tensors = _store_tensors(model, record.get("decoder_dtype", "float32"), only_decoder=True, packed=packed)
    return sealed_decoder(tensors, record, _st_save)


def sealed_decoder(tensors: dict, record: dict, save) -> bytes:
    """The decoder blob of decoder ``tensors`` as stored (torch tensors or numpy arrays, with safetensors'
    ``save`` for them) and the model's ``record``."""
    meta = {"baler_decoder": json.dumps(_decoder_record(record), sort_keys=True)}
    return zstandard.ZstdCompressor(level=19, write_checksum=True).compress(save(tensors, metadata=meta))


def sha256_hex(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def save_model(model: torch.nn.Module, record: dict, path: str | Path) -> None:
    """Write the model file atomically (temporary file, then rename). With ``decoder_dtype`` ``grid`` the
    decoder tensors are packed (``pack_decoder``: ``model`` then holds the rebuilt weights)."""
    # the oldest version that reads the model, so older readers keep loading what they understand
    version = 2 if any("kind" in r for r in (record.get("relations") or {}).values()) else 1
    packed = None
    if record.get("decoder_dtype") == "grid":
        version = 3
        record = {**record, "decoder_bound": float(record.get("decoder_bound") or DEFAULT_BOUND)}
        packed = pack_decoder(model, record["decoder_bound"])
    record = {"format": MODEL_FORMAT, "version": version, **record}
    tensors = _store_tensors(model, record.get("decoder_dtype", "float32"), only_decoder=False, packed=packed)
    _write_atomic(path, _st_save(tensors, metadata={"baler_model": json.dumps(record, sort_keys=True)}))


def save_record(model_path: str | Path, out_path: str | Path, record: dict) -> None:
    """Write the model file ``model_path`` to ``out_path`` (atomically) with ``record`` in place of its record and
    its tensors as stored (packed decoders are not packed again). A record with priors is version 4, with header
    templates 5."""
    src = Path(model_path)
    if not src.exists():
        raise InputError(f"{src}: model file does not exist")
    tensors, old = _parse_blob(src.read_bytes(), "baler_model", str(src))
    version = max(old["version"], 5 if record.get("header_templates") else 4 if record.get("priors") else 1)
    meta = json.dumps({**record, "version": version}, sort_keys=True)
    _write_atomic(out_path, _st_save(tensors, metadata={"baler_model": meta}))


def _write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary name, then rename it into place: no half-written model file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(p)


def _parse_blob(blob: bytes, meta_key: str, source: str, numpy: bool = False) -> tuple[dict, dict]:
    """Tensors (torch, or numpy arrays) and the record of a safetensors model file or decoder blob."""
    if numpy:
        from safetensors.numpy import load as st_load
    else:
        from safetensors.torch import load as st_load

    try:
        tensors = st_load(blob)
        n = int.from_bytes(blob[:8], "little")
        if n <= 0 or n > len(blob) - 8:
            raise FormatError(f"{source}: safetensors header size {n} exceeds the file")
        meta = json.loads(blob[8 : 8 + n]).get("__metadata__", {})
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{source}: not a valid safetensors model file ({exc})") from exc
    if meta_key not in meta:
        raise FormatError(f"{source}: safetensors file has no {meta_key!r} record; is it a baler model?")
    try:
        record = json.loads(meta[meta_key])
    except ValueError as exc:
        raise FormatError(f"{source}: malformed {meta_key!r} record ({exc})") from exc
    if record.get("format") != MODEL_FORMAT:
        raise FormatError(f"{source}: format {record.get('format')!r} is not {MODEL_FORMAT!r}")
    if not isinstance(record.get("version"), int) or record["version"] > MODEL_FORMAT_VERSION:
        raise FormatError(f"{source}: model format version {record.get('version')!r} is newer than this baler "
                          f"understands ({MODEL_FORMAT_VERSION}); upgrade baler")
    if not isinstance(record.get("model"), str) or not isinstance(record.get("model_args"), dict):
        raise FormatError(f"{source}: {meta_key!r} record names no model and its arguments ('model', 'model_args')")
    return tensors, record


def _rebuild(tensors: dict[str, torch.Tensor], record: dict, source: str, decoder_only: bool) -> ModelBundle:
    import torch

    from baler_core.models.registry import build_model

    model = build_model(record["model"], record["model_args"])
    state = model.state_dict()
    expected = {k for k in state if k.startswith(DECODER_PREFIX)} if decoder_only else set(state)
    missing, unexpected = expected - set(tensors), set(tensors) - set(state)
    if missing or unexpected:
        raise FormatError(f"{source}: weights do not fit model {record['model']!r}: "
                          f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    packed = {} if record.get("decoder_dtype") == "grid" else None
    for k, v in tensors.items():
        if packed is not None and k.startswith(DECODER_PREFIX) and state[k].is_floating_point():
            if v.dtype != torch.uint8 or v.ndim != 1:
                raise FormatError(f"{source}: decoder tensor {k} is not packed (decoder_dtype grid)")
            packed[k] = v
            v = torch.from_numpy(unpack_array(v.numpy().tobytes(), tuple(state[k].shape)))
        if tuple(v.shape) != tuple(state[k].shape):
            raise FormatError(f"{source}: tensor {k} has shape {tuple(v.shape)}, model needs {tuple(state[k].shape)}")
        state[k] = v.to(state[k].dtype)
    model.load_state_dict(state)
    model.eval()
    return ModelBundle(model, record, packed)


def load_model(path: str | Path, light: bool = False) -> ModelBundle:
    """Load a model file written by :func:`save_model` (safetensors only; pickle is never read). ``light``: a
    sequential model's decoder as numpy arrays, without importing torch (``models.light``; the ``baler`` command's
    compression and decompression)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: model file does not exist")
    blob = p.read_bytes()
    if light:
        import numpy as np
        from safetensors.numpy import save

        from baler_core.models.light import light_capable, load_light

        tensors, record = _parse_blob(blob, "baler_model", str(p), numpy=True)
        if light_capable(record):
            dec = {k: np.ascontiguousarray(v) for k, v in tensors.items() if k.startswith(DECODER_PREFIX)}
            return ModelBundle(load_light(tensors, record, str(p)), record, blob=sealed_decoder(dec, record, save))
    tensors, record = _parse_blob(blob, "baler_model", str(p))
    return _rebuild(tensors, record, str(p), decoder_only=False)


def load_decoder_blob(blob: bytes, source: str = "embedded decoder") -> ModelBundle:
    """Rebuild a model from a decoder blob; its encoder stays untrained and must not be used."""
    if blob[:4] == b"\x28\xb5\x2f\xfd":  # a zstd frame; format 1.0 files embed the plain safetensors bytes
        blob = unzstd(blob, MAX_DECODER_BYTES, f"{source}: decoder blob", exact=False)
    tensors, record = _parse_blob(blob, "baler_decoder", source)
    return _rebuild(tensors, record, source, decoder_only=True)
