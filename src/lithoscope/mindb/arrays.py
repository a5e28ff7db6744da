"""The one encoding of spectral arrays in MinDB: little-endian float64 bytes.

Every module that stores or reads a spectrum's axis or intensities goes through these two
functions, so that the byte layout has a single home.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["decode_array", "encode_array"]

_DTYPE = np.dtype("<f8")


def encode_array(values: npt.ArrayLike) -> bytes:
    """Bytes of ``values`` as little-endian float64, as MinDB stores them.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite numbers.

    Returns
    -------
    bytes
        ``8 * n`` bytes.

    Examples
    --------
    >>> decode_array(encode_array([1.5, -2.0])).tolist()
    [1.5, -2.0]
    """
    return np.ascontiguousarray(values, dtype=_DTYPE).tobytes()


def decode_array(data: bytes) -> np.ndarray:
    """Read-only float64 array of bytes written by `encode_array` (no copy is made).

    Parameters
    ----------
    data : bytes
        A multiple of 8 bytes.

    Returns
    -------
    numpy.ndarray
        1-D, dtype float64 (native byte order on little-endian machines), not writeable.
    """
    out = np.frombuffer(data, dtype=_DTYPE)
    if out.dtype != np.float64:  # big-endian host: one conversion, still read-only
        out = out.astype(np.float64)
        out.setflags(write=False)
    return out
