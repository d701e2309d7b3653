"""TraitVectors: per-layer persona vectors with provenance, stored as safetensors.

Layer convention: row ``L`` of ``vectors`` is for decoder block ``L`` (0-based), i.e. the
reference repository's row ``L + 1`` (its row 0 holds the embeddings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_persona._util.atomic import write_text, write_with
from pytest_persona._util.deprecated import renamed_keyword, warn_renamed
from pytest_persona.core.arrays import Vector, as_float32, is_tensor
from pytest_persona.errors import VectorFileError as VectorFileError

if TYPE_CHECKING:
    import torch

LAYER_CONVENTION = "block_output_0based"
FORMAT_VERSION = "1"

Array = np.ndarray[Any, Any]


class TraitVectors:
    """Mean-difference vectors ``[n_layers, d_model]`` (float32) with provenance metadata.

    ``extras`` holds other poolings of the same shape (``prompt_avg``, ``prompt_last``). The
    values live in float32 numpy arrays; ``vectors``, ``extras``, ``layer()`` and indexing give
    torch tensors that share that memory (importing torch on first use), while ``array()``,
    ``norms()`` and the cache keys read the arrays, so a cached vector costs no torch import.
    """

    def __init__(self, vectors: Vector, metadata: dict[str, Any] | None = None,
                 extras: dict[str, Vector] | None = None) -> None:
        if len(getattr(vectors, "shape", ())) != 2:
            raise ValueError(f"TraitVectors needs a [n_layers, d_model] tensor, got "
                             f"{tuple(getattr(vectors, 'shape', ()))}")
        self._main = _owned(vectors)
        self._extras: dict[str, Array] = {}
        for name, value in (extras or {}).items():
            if tuple(value.shape) != self._main.shape:
                raise ValueError(f"extra {name!r} has shape {tuple(value.shape)}, "
                                 f"expected {tuple(self._main.shape)}")
            self._extras[name] = _owned(value)
        self._tensors: dict[str, torch.Tensor] = {}
        self.metadata: dict[str, Any] = metadata if metadata is not None else {}
        self.metadata.setdefault("n_layers", self.n_layers)
        self.metadata.setdefault("d_model", self.d_model)
        self.metadata.setdefault("layer_convention", LAYER_CONVENTION)

    def __repr__(self) -> str:
        return (f"TraitVectors(trait={self.trait!r}, n_layers={self.n_layers}, "
                f"d_model={self.d_model}, extras={sorted(self._extras)})")

    # -- torch views ----------------------------------------------------------------------
    def _tensor(self, pooling: str) -> torch.Tensor:
        if pooling not in self._tensors:
            import torch

            self._tensors[pooling] = torch.from_numpy(
                self._main if pooling == "response_avg" else self._extras[pooling])
        return self._tensors[pooling]

    @property
    def vectors(self) -> torch.Tensor:
        """The ``[n_layers, d_model]`` float32 tensor (shares memory with :meth:`array`)."""
        return self._tensor("response_avg")

    @property
    def extras(self) -> dict[str, torch.Tensor]:
        return {name: self._tensor(name) for name in self._extras}

    # -- shape and access -------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return int(self._main.shape[0])

    @property
    def d_model(self) -> int:
        return int(self._main.shape[1])

    @property
    def poolings(self) -> list[str]:
        """``response_avg`` and the extras' names."""
        return ["response_avg", *self._extras]

    @property
    def kinds(self) -> list[str]:
        """Deprecated name of :attr:`poolings`."""
        warn_renamed("TraitVectors.kinds", "TraitVectors.poolings")
        return self.poolings

    @property
    def trait(self) -> str | None:
        value = self.metadata.get("trait")
        return str(value) if value is not None else None

    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"layer {layer} out of range: these vectors have {self.n_layers} "
                             f"layers (0..{self.n_layers - 1})")

    @renamed_keyword("kind", "pooling")
    def array(self, layer: int | None = None, pooling: str = "response_avg") -> Array:
        """A float32 numpy copy of block ``layer``'s vector (every layer when None); no torch."""
        source: Array = self._main if pooling == "response_avg" else self._extras[pooling]
        if layer is None:
            whole: Array = source.copy()
            return whole
        self._check_layer(layer)
        row: Array = source[layer].copy()
        return row

    @renamed_keyword("kind", "pooling")
    def layer(self, layer: int, pooling: str = "response_avg") -> torch.Tensor:
        """The vector of block ``layer`` (0-based), as a torch tensor."""
        self._check_layer(layer)
        return self._tensor(pooling)[layer].clone()

    def __getitem__(self, layer: int) -> torch.Tensor:
        return self.layer(layer)

    def norms(self) -> list[float]:
        """L2 norm of each layer's vector (float64 accumulation: the same on every backend)."""
        return [float(x) for x in np.linalg.norm(self._main.astype(np.float64), axis=-1)]

    def all_finite(self) -> bool:
        """Whether every value of every pooling is finite."""
        return all(bool(np.isfinite(a).all()) for a in (self._main, *self._extras.values()))

    def check_model(self, n_layers: int, d_model: int, where: str = "") -> None:
        """Raise if these vectors do not fit a model with this shape."""
        if (n_layers, d_model) != (self.n_layers, self.d_model):
            src = f" from {where}" if where else ""
            raise VectorFileError(
                f"vectors{src} are [{self.n_layers}, {self.d_model}] (model "
                f"{self.metadata.get('model_id', '?')}) but the model has {n_layers} layers "
                f"and d_model {d_model}: extract vectors for this model"
            )

    # -- arithmetic ---------------------------------------------------------------------
    def _combine(self, other: TraitVectors | float, op: str) -> TraitVectors:
        meta = {k: v for k, v in self.metadata.items() if k in ("model_id", "fingerprint",
                                                                "n_layers", "d_model")}
        meta["derived"] = op
        if isinstance(other, TraitVectors):
            if other.vectors.shape != self.vectors.shape:
                raise ValueError("cannot combine vectors of different shapes")
            value = self.vectors + other.vectors if op == "add" else self.vectors - other.vectors
        else:
            value = self.vectors * float(other)
        return TraitVectors(value, meta)

    def __add__(self, other: TraitVectors) -> TraitVectors:
        return self._combine(other, "add")

    def __sub__(self, other: TraitVectors) -> TraitVectors:
        return self._combine(other, "sub")

    def __mul__(self, scale: float) -> TraitVectors:
        return self._combine(scale, "scale")

    __rmul__ = __mul__

    def normalized(self) -> TraitVectors:
        """Unit-norm vector per layer."""
        unit = self.vectors / self.vectors.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        return TraitVectors(unit, {**self.metadata, "normalized": True}, dict(self.extras))

    # -- safetensors IO -----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write safetensors with JSON-encoded metadata, atomically."""
        from safetensors.numpy import save_file

        target = Path(path)
        tensors = {"response_avg": self._main, **self._extras}
        meta = {"format": "pytest-persona", "format_version": FORMAT_VERSION,
                "metadata_json": json.dumps(self.metadata, sort_keys=True, default=str)}
        write_with(target, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
        return target

    @classmethod
    def load(cls, path: str | Path) -> TraitVectors:
        """Read a file written by :meth:`save`; corrupted or foreign files raise VectorFileError.

        Read with safetensors' numpy API (no torch import) unless a tensor is bfloat16."""
        source = Path(path)
        if not source.is_file():
            raise VectorFileError(f"{source}: vector file not found")
        try:
            meta, tensors = _read_safetensors(source, "np")
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types
            try:  # bfloat16 has no numpy dtype: torch reads it
                meta, tensors = _read_safetensors(source, "pt")
            except Exception:  # noqa: BLE001
                raise VectorFileError(f"{source}: not a readable safetensors file ({exc}); "
                                      "delete it to recompute, or re-export it") from exc
        if meta.get("format") != "pytest-persona" or "response_avg" not in tensors:
            raise VectorFileError(
                f"{source}: not a pytest-persona vector file (tensors {sorted(tensors)}); "
                "use TraitVectors.from_reference() for reference-repository .pt files")
        try:
            metadata = json.loads(meta.get("metadata_json", "{}"))
        except ValueError as exc:
            raise VectorFileError(f"{source}: metadata is not valid JSON ({exc})") from exc
        main = tensors.pop("response_avg")
        expect = (metadata.get("n_layers"), metadata.get("d_model"))
        if expect != (main.shape[0], main.shape[1]):
            raise VectorFileError(f"{source}: metadata says [{expect[0]}, {expect[1]}] but the "
                                  f"tensor is {list(main.shape)}: the file is inconsistent")
        return cls(main, metadata, tensors)

    # -- reference repository layout ------------------------------------------------------
    @classmethod
    def from_reference(cls, path: str | Path, **metadata: Any) -> TraitVectors:
        """Import a reference-repo ``.pt`` file: ``[n_layers + 1, d_model]``, row 0 = embeddings.

        Loaded with ``torch.load(weights_only=True)``; row ``L + 1`` becomes our layer ``L``.
        """
        import torch

        source = Path(path)
        try:
            tensor = torch.load(str(source), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise VectorFileError(f"{source}: cannot load as a weights-only torch file ({exc})"
                                  ) from exc
        if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2 or tensor.shape[0] < 2:
            shape = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
            raise VectorFileError(f"{source}: expected a [n_layers + 1, d_model] tensor, got "
                                  f"{shape}")
        meta = {"imported_from": "reference_pt", "source_file": source.name, **metadata}
        return cls(tensor[1:].float(), meta)

    def to_reference(self, path: str | Path) -> Path:
        """Export as a reference-repo ``.pt``: ``[n_layers + 1, d_model]``, row ``L + 1`` = block L.

        Row 0 (the reference's embeddings row) is **all zeros**: this project does not extract
        an embeddings vector, so steering or projecting with row 0 of the export does nothing.
        The ``.pt`` holds a bare tensor (as the reference's files do), so the provenance and
        this note go to a JSON sidecar ``<path>.json`` (see :func:`reference_sidecar`).
        """
        import torch

        target = Path(path)
        full = torch.cat([torch.zeros(1, self.d_model), self.vectors], dim=0)
        write_with(target, lambda tmp: torch.save(full, str(tmp)))
        meta = {**self.metadata, "exported_as": "reference_pt",
                "layout": "[n_layers + 1, d_model]; row L + 1 = output of block L (0-based)",
                "row0": REFERENCE_ROW0_NOTE}
        write_text(reference_sidecar(target), json.dumps(meta, indent=2, sort_keys=True,
                                                         default=str) + "\n")
        return target


def _owned(value: Vector) -> Array:
    """A writable float32 C-contiguous array that no caller holds (torch views share it)."""
    array = as_float32(value)
    if is_tensor(value) or not array.flags.writeable or array is value:
        array = array.copy()
    return array


def _read_safetensors(path: Path, framework: str) -> tuple[dict[str, str], dict[str, Any]]:
    from safetensors import safe_open

    with safe_open(str(path), framework=framework) as handle:
        meta = handle.metadata() or {}
        return meta, {k: handle.get_tensor(k) for k in handle.keys()}


def inspect_vector_file(path: str | Path) -> tuple[dict[str, Any], tuple[int, int], list[float]]:
    """(metadata, [n_layers, d_model], per-layer norms) of a vector file, reading one layer's
    row at a time (memory: one row, whatever the file's size), with :meth:`TraitVectors.load`'s
    checks of format and shape."""
    from safetensors import safe_open

    source = Path(path)
    if not source.is_file():
        raise VectorFileError(f"{source}: vector file not found")
    try:
        return _inspect(source, safe_open, "np")
    except VectorFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        try:  # bfloat16 has no numpy dtype: torch reads it
            return _inspect(source, safe_open, "pt")
        except VectorFileError:
            raise
        except Exception:  # noqa: BLE001
            raise VectorFileError(f"{source}: not a readable safetensors file ({exc}); "
                                  "delete it to recompute, or re-export it") from exc


def _inspect(source: Path, safe_open: Any, framework: str
             ) -> tuple[dict[str, Any], tuple[int, int], list[float]]:
    with safe_open(str(source), framework=framework) as handle:
        meta = handle.metadata() or {}
        if meta.get("format") != "pytest-persona" or "response_avg" not in handle.keys():
            raise VectorFileError(
                f"{source}: not a pytest-persona vector file (tensors {sorted(handle.keys())}); "
                "use TraitVectors.from_reference() for reference-repository .pt files")
        try:
            metadata = json.loads(meta.get("metadata_json", "{}"))
        except ValueError as exc:
            raise VectorFileError(f"{source}: metadata is not valid JSON ({exc})") from exc
        rows = handle.get_slice("response_avg")
        shape = tuple(rows.get_shape())
        expect = (metadata.get("n_layers"), metadata.get("d_model"))
        if len(shape) != 2 or expect != shape:
            raise VectorFileError(f"{source}: metadata says [{expect[0]}, {expect[1]}] but the "
                                  f"tensor is {list(shape)}: the file is inconsistent")
        norms = []
        for layer in range(shape[0]):
            row = rows[layer:layer + 1]
            values = (row.float().numpy() if framework == "pt" else row).astype(np.float64)
            norms.append(float(np.linalg.norm(values)))
    return metadata, (int(shape[0]), int(shape[1])), norms


REFERENCE_ROW0_NOTE = ("zeros: the embeddings row is not extracted by pytest-persona "
                       "(rows 1.. are the decoder blocks)")


def reference_sidecar(path: str | Path) -> Path:
    """The JSON metadata file written next to a ``.pt`` export: ``<path>.json``."""
    target = Path(path)
    return target.with_name(target.name + ".json")
