"""Spectral maps on Dask: read a cube in row chunks, identify every pixel, write labelled maps.

A map (Raman or VNIR, ``rows x cols x channels``) is opened lazily as an `xarray.DataArray`
(`open_cube`: HDF5, Zarr or a Renishaw WDF map). `identify_map` splits it into blocks of whole
rows (``chunk_pixels`` pixels at most) with `dask.array.map_blocks`; each task builds the
`Measurement` of every pixel of its block and calls `identify_batch` (and `identify_mixtures`
with ``mixture=True``), the same path as the command line and the service, so a pixel gets the
answer its spectrum would get alone. Workers load the model from its folder once per process
(`_bundle`): the path travels in the task, never the pickled model.

The answers are small next to the cube (a few numbers per pixel against hundreds of channels),
so they are gathered by the client and written to one Zarr store (`identify_map`) that
`plot_map` draws as a mineral map with a legend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lithoscope.errors import InputError

__all__ = ["DEFAULT_CHUNK_PIXELS", "identify_map", "open_cube", "plot_map", "save_cube"]

#: pixels per task: large enough that one `identify_batch` call amortises its overhead, small
#: enough that a block of 1000 float32 channels stays a few tens of MB
DEFAULT_CHUNK_PIXELS = 4096
#: per pixel: mineral index, its probability, unknown flag (then one abundance per mixture mineral)
_FIELDS = 3

_CUBE_SUFFIXES = {".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".zarr": "zarr", ".wdf": "wdf"}


# ------------------------------------------------------------------------------------ reading
class _H5Rows:
    """Array-like over an HDF5 dataset that opens the file per read, so it pickles as a path
    (each Dask worker reads its own rows; h5py handles do not cross processes)."""

    def __init__(self, path: str, name: str, shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.name, self.shape, self.dtype = path, name, shape, np.dtype(dtype)
        self.ndim = len(shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.name][key])


def open_cube(
    path: str | Path, *, method: str | None = None, chunk_pixels: int = DEFAULT_CHUNK_PIXELS
) -> Any:
    """Open a spectral map lazily as an `xarray.DataArray` ``(row, col, channel)``.

    Parameters
    ----------
    path : str or Path
        ``.h5``/``.hdf5`` (datasets ``intensities`` (rows, cols, channels) and ``axis``, file
        attributes ``method`` and ``unit``), ``.zarr`` (as `save_cube` writes it: variable
        ``intensities``, coordinate ``channel`` the axis) or a Renishaw ``.wdf`` map.
    method : str, optional
        Method when the file does not record it (``raman``, ``vnir``...).
    chunk_pixels : int, default=DEFAULT_CHUNK_PIXELS
        Dask chunks of whole rows, at most this many pixels each (at least one row): each task
        reads only its rows.

    Returns
    -------
    xarray.DataArray
        Dask-backed for HDF5 and Zarr; coordinate ``channel`` is the spectral axis; attributes
        ``method``, ``unit`` and ``source``.

    Raises
    ------
    InputError
        Missing file, unknown suffix, missing datasets, shapes that disagree or no method.

    Examples
    --------
    >>> cube = open_cube("map.h5")  # doctest: +SKIP
    >>> cube.sizes  # doctest: +SKIP
    Frozen({'row': 200, 'col': 200, 'channel': 1000})
    """
    import dask.array as da
    import xarray as xr

    path = Path(path)
    kind = _CUBE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"cube '{path}': expected a .h5/.hdf5, .zarr or .wdf map, got suffix "
            f"'{path.suffix or '(none)'}'"
        )
    if not path.exists():
        raise InputError(f"cube '{path}': no such file or folder")
    if kind == "wdf":
        from lithoscope.spectra.io.instruments import read_cube

        cube = read_cube(path)
        data = da.from_array(np.asarray(cube.intensities), chunks=(-1, -1, -1))
        axis, attrs = np.asarray(cube.axis), {"method": cube.method.value, "unit": cube.unit}
    elif kind == "hdf5":
        data, axis, attrs = _open_hdf5(path)
    else:
        data, axis, attrs = _open_zarr(path)
    if data.ndim == 3:
        data = data.rechunk((_rows_per_chunk(data.shape, chunk_pixels), -1, -1))
    if data.ndim != 3 or data.shape[2] != axis.size:
        raise InputError(
            f"cube '{path}': intensities must be (rows, cols, channels) with channels = "
            f"len(axis) = {axis.size}, got shape {tuple(data.shape)}"
        )
    attrs = {k: str(v) for k, v in attrs.items() if v is not None}
    if method is not None:
        attrs["method"] = method
    if "method" not in attrs:
        raise InputError(f"cube '{path}': the file records no method; pass method (--method)")
    attrs["source"] = str(path)
    return xr.DataArray(
        data,
        dims=("row", "col", "channel"),
        coords={
            "row": np.arange(data.shape[0]),
            "col": np.arange(data.shape[1]),
            "channel": axis,
        },
        attrs=attrs,
        name="intensities",
    )


def _open_hdf5(path: Path) -> tuple[Any, np.ndarray, dict[str, Any]]:
    import dask.array as da
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cube '{path}': not a readable HDF5 file ({exc})") from None
    with f:
        missing = [n for n in ("intensities", "axis") if n not in f]
        if missing:
            raise InputError(
                f"cube '{path}': expected HDF5 datasets 'intensities' and 'axis', missing "
                f"{', '.join(repr(n) for n in missing)}"
            )
        ds = f["intensities"]
        axis = np.asarray(f["axis"][()], dtype=np.float64).ravel()
        attrs = {k: _text(v) for k, v in {**f.attrs, **ds.attrs}.items()}
        rows = _H5Rows(str(path), "intensities", tuple(ds.shape), ds.dtype)
    chunks = (_rows_per_chunk(rows.shape, DEFAULT_CHUNK_PIXELS), -1, -1) if rows.ndim == 3 else -1
    return da.from_array(rows, chunks=chunks), axis, attrs


def _rows_per_chunk(shape: tuple[int, ...], chunk_pixels: int) -> int:
    if chunk_pixels < 1:
        raise InputError(f"chunk_pixels must be at least 1, got {chunk_pixels}")
    return max(1, min(shape[0], chunk_pixels // max(1, shape[1])))


def _open_zarr(path: Path) -> tuple[Any, np.ndarray, dict[str, Any]]:
    import xarray as xr

    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as exc:  # zarr raises several types for a folder that is no store
        raise InputError(f"cube '{path}': not a readable Zarr store ({exc})") from None
    if "intensities" not in ds:
        raise InputError(
            f"cube '{path}': expected a Zarr variable 'intensities', found "
            f"{', '.join(map(str, ds.data_vars)) or 'none'}"
        )
    arr = ds["intensities"]
    axis_name = arr.dims[-1]
    axis = np.asarray(ds[axis_name].values, dtype=np.float64)
    return arr.data, axis, {**ds.attrs, **arr.attrs}


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def save_cube(
    path: str | Path,
    intensities: npt.ArrayLike,
    axis: npt.ArrayLike,
    *,
    method: str,
    unit: str | None = None,
) -> Path:
    """Write a cube as HDF5 (``.h5``/``.hdf5``) or Zarr (``.zarr``) in the layout `open_cube`
    reads.

    Parameters
    ----------
    path : str or Path
        Output; the suffix chooses the format. An existing file is replaced.
    intensities : array_like, shape (rows, cols, channels)
    axis : array_like, shape (channels,)
    method, unit : str
        Recorded as attributes.

    Returns
    -------
    Path
    """
    import xarray as xr

    path = Path(path)
    data = np.asarray(intensities, dtype=np.float32)
    axis = np.asarray(axis, dtype=np.float64)
    if data.ndim != 3 or data.shape[2] != axis.size:
        raise InputError(
            f"intensities must be (rows, cols, channels) with channels = len(axis) = "
            f"{axis.size}, got {data.shape}"
        )
    attrs = {"method": method, **({"unit": unit} if unit else {})}
    kind = _CUBE_SUFFIXES.get(path.suffix.lower())
    if kind == "hdf5":
        import h5py

        with h5py.File(path, "w") as f:
            rows = max(1, min(data.shape[0], (1 << 20) // max(1, data.shape[1] * data.shape[2])))
            f.create_dataset("intensities", data=data, chunks=(rows, data.shape[1], data.shape[2]))
            f.create_dataset("axis", data=axis)
            f.attrs.update(attrs)
    elif kind == "zarr":
        ds = xr.Dataset(
            {"intensities": (("row", "col", "channel"), data)},
            coords={"channel": axis},
            attrs=attrs,
        )
        ds.to_zarr(path, mode="w", consolidated=False)
    else:
        raise InputError(f"save_cube '{path}': expected suffix .h5, .hdf5 or .zarr")
    return path


# ------------------------------------------------------------------------------------ workers
_bundles: dict[str, Any] = {}
_bundles_lock = threading.Lock()


def _bundle(path: str, ref: str | None) -> Any:
    """The bundle at ``path``, loaded once per worker process (the threads of a worker share
    it); a task carries the path, never the model."""
    with _bundles_lock:
        if path not in _bundles:
            from lithoscope.pipeline.bundle import IdentificationModel

            _bundles[path] = IdentificationModel.load(path, ref=ref)
        return _bundles[path]


def _identify_block(
    block: np.ndarray,
    axis: np.ndarray,
    *,
    method: str,
    unit: str | None,
    bundle_path: str,
    ref: str | None,
    classes: list[str],
    mixture_classes: list[str],
    confidence: float,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """``(r, c, 3 + n_mix)`` answers of one block: mineral index (-1: refused), probability,
    unknown (1/0; 1 when refused), abundance (vol %) of each mixture mineral."""
    from lithoscope.pipeline.identify import identify_batch
    from lithoscope.spectra.measurement import Measurement
    from lithoscope.spectra.spectrum import Spectrum

    bundle = _bundle(bundle_path, ref)
    r, c, _ = block.shape
    row0 = block_info[0]["array-location"][0][0] if block_info else 0
    out = np.full((r, c, _FIELDS + len(mixture_classes)), np.nan, dtype=np.float64)
    if r * c == 0:
        return out
    measurements = [
        Measurement.of(
            Spectrum(axis, block[i, j], method=method, unit=unit),
            name=f"row {row0 + i} col {j}",
        )
        for i in range(r)
        for j in range(c)
    ]
    index = {name: k for k, name in enumerate(classes)}
    flat = out.reshape(r * c, -1)
    for p, result in enumerate(identify_batch(measurements, bundle, confidence=confidence)):
        if result.refused is not None or not result.candidates:
            flat[p, :_FIELDS] = (-1, np.nan, 1)
            continue
        best = result.candidates[0]
        flat[p, :_FIELDS] = (index[best["mineral"]], best["probability"], bool(result.unknown))
    if mixture_classes:
        from lithoscope.pipeline.mixture import identify_mixtures

        mix_index = {name: k for k, name in enumerate(mixture_classes)}
        for p, mix in enumerate(identify_mixtures(measurements, bundle, method=method)):
            if mix.refused is not None:
                continue
            flat[p, _FIELDS:] = 0.0
            for m in mix.minerals:
                if m["present"]:
                    flat[p, _FIELDS + mix_index[m["mineral"]]] = m["abundance"]
    return out


# ------------------------------------------------------------------------------------ driver
def _resolve_model(model: str | Path, method: str) -> tuple[Path, str | None]:
    """A bundle folder as given, or ``NAME[@VERSION]`` (None: the method's default) from the
    registry."""
    path = Path(str(model)) if model is not None else None
    if path is not None and path.is_dir():
        return path.resolve(), None
    from lithoscope.pipeline.registry import Registry

    ref = Registry().resolve(None if model is None else str(model), method=method)
    return ref.path.resolve(), str(ref)


def identify_map(
    cube: Any,
    model: str | Path | None,
    *,
    client: Any = None,
    chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
    mixture: bool = False,
    confidence: float = 0.9,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Identify every pixel of a map on Dask; labelled maps as an `xarray.Dataset`.

    Parameters
    ----------
    cube : xarray.DataArray or path
        ``(row, col, channel)`` with the spectral axis as coordinate ``channel`` and attribute
        ``method`` (`open_cube`); a path is opened with `open_cube`.
    model : str or Path or None
        A bundle folder, or ``NAME[@VERSION]`` of the registry (None: the default model of the
        cube's method). Only the folder's path is sent to the workers.
    client : distributed.Client, optional
        Where to compute (default: Dask's current scheduler, e.g. set with
        ``dask.config.set(scheduler="synchronous")``).
    chunk_pixels : int, default=DEFAULT_CHUNK_PIXELS
        At most this many pixels per task (whole rows; at least one row).
    mixture : bool, default=False
        Also unmix every pixel (the model needs a mixture model: ``train --mixture``) and give
        the abundance (vol %) of each of its minerals.
    confidence : float, default=0.9
        Level of the conformal sets behind the unknown verdict.
    out : str or Path, optional
        Zarr store to write (``.zarr``).
    overwrite : bool, default=False
        Replace an existing ``out``.
    progress : callable, optional
        ``progress(done, total)`` after each finished block.

    Returns
    -------
    xarray.Dataset
        ``mineral`` (int16 index into attribute ``classes``; -1 where the spectrum was refused),
        ``probability`` (float32, of that mineral), ``unknown`` (bool), and with ``mixture``
        ``abundance`` (float32 vol %, dims ``row, col, component``, the minerals of attribute
        ``components``; NaN where refused); attributes ``model`` (``NAME@VERSION``),
        ``model_path``, ``classes``, ``components``, ``method``, ``source``,
        ``lithoscope_version``, ``chunk_pixels``.

    Raises
    ------
    InputError
        A cube without method, a model of other methods or without mixture model (with
        ``mixture``), a bad ``chunk_pixels`` or an existing ``out``.
    """
    import dask
    import dask.array as da
    import xarray as xr

    from lithoscope import __version__

    if chunk_pixels < 1:
        raise InputError(f"chunk_pixels must be at least 1, got {chunk_pixels}")
    if not isinstance(cube, xr.DataArray):
        cube = open_cube(cube, chunk_pixels=chunk_pixels)
    method = str(cube.attrs.get("method") or "")
    if not method:
        raise InputError("cube: no 'method' attribute; open it with open_cube(path, method=...)")
    if out is not None:
        out = Path(out)
        if out.exists() and not overwrite:
            raise InputError(f"--out {out} exists; choose another name or pass --overwrite")
    bundle_path, ref = _resolve_model(model, method)
    bundle = _bundle(str(bundle_path), ref)
    part = bundle.part(method)
    classes = [str(c) for c in part.estimator.classes_]
    mixture_classes: list[str] = []
    if mixture:
        if part.mixture is None:
            raise InputError(
                f"model {bundle.name} has no mixture model for {method}; train one with "
                f"lithoscope train --method {method} --mixture"
            )
        mixture_classes = [str(c) for c in part.mixture.classes]
    n_rows, n_cols, n_channels = (int(n) for n in cube.shape)
    rows_per_chunk = _rows_per_chunk((n_rows, n_cols), chunk_pixels)
    data = cube.data if isinstance(cube.data, da.Array) else da.from_array(cube.data)
    data = data.rechunk((rows_per_chunk, n_cols, n_channels))
    n_out = _FIELDS + len(mixture_classes)
    answers = da.map_blocks(
        _identify_block,
        data,
        np.asarray(cube["channel"].values, dtype=np.float64),
        method=method,
        unit=cube.attrs.get("unit"),
        bundle_path=str(bundle_path),
        ref=ref or bundle.ref,
        classes=classes,
        mixture_classes=mixture_classes,
        confidence=confidence,
        dtype=np.float64,
        chunks=(data.chunks[0], data.chunks[1], (n_out,)),
        meta=np.empty((0, 0, 0), dtype=np.float64),
    )
    blocks = answers.to_delayed().ravel().tolist()
    total = len(blocks)
    if client is not None:
        from distributed import as_completed

        futures = client.compute(blocks)
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, total)
        parts = client.gather(futures)
    else:
        with _block_progress({b.key for b in blocks}, progress):
            parts = list(dask.compute(*blocks))
    values = np.concatenate(parts, axis=0)
    dims = ("row", "col")
    variables: dict[str, Any] = {
        "mineral": (dims, np.where(np.isnan(values[..., 0]), -1, values[..., 0]).astype(np.int16)),
        "probability": (dims, values[..., 1].astype(np.float32)),
        "unknown": (dims, values[..., 2] > 0.5),
    }
    coords: dict[str, Any] = {"row": cube["row"].values, "col": cube["col"].values}
    if mixture_classes:
        variables["abundance"] = (("row", "col", "component"), values[..., 3:].astype(np.float32))
    result = xr.Dataset(
        variables,
        coords=coords,
        attrs={
            "model": ref or bundle.name,
            "model_path": str(bundle_path),
            "classes": classes,
            "components": mixture_classes,
            "method": method,
            "source": str(cube.attrs.get("source", "")),
            "lithoscope_version": __version__,
            "chunk_pixels": int(rows_per_chunk * n_cols),
        },
    )
    result["mineral"].attrs["description"] = "index into attrs['classes']; -1: refused spectrum"
    if mixture_classes:
        result["abundance"].attrs["unit"] = "vol %"
    if out is not None:
        result.to_zarr(out, mode="w", consolidated=False)
    return result


def _block_progress(keys: set[Any], progress: Callable[[int, int], None] | None) -> Any:
    """A Dask callback calling ``progress(done, total)`` as each block's answers are computed
    (local schedulers; with a distributed client the futures report instead)."""
    from dask.callbacks import Callback

    done = 0

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        nonlocal done
        if key in keys and progress is not None:
            done += 1
            progress(done, len(keys))

    return Callback(posttask=posttask)


# ------------------------------------------------------------------------------------ plotting
def plot_map(zarr_path: str | Path, png: str | Path, *, overwrite: bool = False) -> Path:
    """Draw the mineral map of an `identify_map` store: one colour per mineral, grey for
    unknown and refused pixels, a legend with each mineral's share of the pixels.

    Parameters
    ----------
    zarr_path : str or Path
        A store written by `identify_map`.
    png : str or Path
        Image to write.
    overwrite : bool, default=False
        Replace an existing image.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        Not a map store, or ``png`` exists without ``overwrite``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from lithoscope.pipeline.plots import _save

    zarr_path, png = Path(zarr_path), Path(png)
    try:
        ds = xr.open_zarr(zarr_path, consolidated=False)
    except Exception as exc:  # zarr raises several types for a folder that is no store
        raise InputError(f"map '{zarr_path}': not a readable Zarr store ({exc})") from None
    if "mineral" not in ds or "classes" not in ds.attrs:
        raise InputError(f"map '{zarr_path}': not a map written by identify_map")
    classes = list(ds.attrs["classes"])
    mineral = np.asarray(ds["mineral"].values, dtype=np.int64)
    unknown = np.asarray(ds["unknown"].values, dtype=bool)
    # category 0: unknown or refused; 1..n: the minerals
    label = np.where(unknown | (mineral < 0), 0, mineral + 1)
    base = plt.get_cmap("tab20" if len(classes) > 10 else "tab10")
    colours = [(0.75, 0.75, 0.75, 1.0)] + [base(k % base.N) for k in range(len(classes))]
    n = label.size
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    ax.imshow(
        label,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(classes) + 0.5,
        interpolation="nearest",
    )
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(f"{ds.attrs.get('source') or zarr_path.name} — {ds.attrs.get('model', '')}")
    counts = np.bincount(label.ravel(), minlength=len(classes) + 1)
    handles = [
        Patch(color=colours[k + 1], label=f"{name} ({counts[k + 1] / n:.1%})")
        for k, name in enumerate(classes)
        if counts[k + 1]
    ]
    if counts[0]:
        handles.append(Patch(color=colours[0], label=f"unknown / refused ({counts[0] / n:.1%})"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, png, overwrite)
