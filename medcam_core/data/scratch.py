"""Fixed-shape arrays kept on disk and read back a batch at a time: memory stays flat as data grows.

Decoded images (S×S bytes each) and frozen features (~190 KB each at 224 px) of an 8k-image dataset
would hold gigabytes of RAM. Here they live in an unlinked scratch file: it vanishes when the file is
closed or the process dies, and reads go through `pread` into the page cache, which the kernel may
drop, rather than into the process (a memory map would count every page read in its RSS).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path

import numpy as np


class RecordFile:
    """`count` records of `record_shape` and `dtype`; writable at any index, readable by index array."""

    def __init__(self, count: int, record_shape: tuple[int, ...], dtype: str, scratch: Path | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self.shape = (count, *record_shape)
        self.record_bytes = int(np.prod(record_shape, dtype=np.int64)) * self.dtype.itemsize
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="medcam-", suffix=".records", dir=scratch)
        os.unlink(name)
        os.ftruncate(fd, count * self.record_bytes)
        self._fd = fd
        self._closer = weakref.finalize(self, os.close, fd)

    def __len__(self) -> int:
        return self.shape[0]

    def write(self, start: int, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype=self.dtype)
        if data.shape[1:] != self.shape[1:] or start + len(data) > len(self):
            raise ValueError(f"block {data.shape} at {start} does not fit records {self.shape}")
        os.pwrite(self._fd, data.tobytes(), start * self.record_bytes)

    def __getitem__(self, index: np.ndarray | list[int]) -> np.ndarray:
        """Records at `index`, in that order; consecutive runs are read with one call each."""
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index), *self.shape[1:]), self.dtype)
        if not len(index):
            return out
        flat = out.reshape(len(index), -1).view(np.uint8)
        start = 0
        while start < len(index):
            end = start + 1
            while end < len(index) and index[end] == index[end - 1] + 1:
                end += 1
            size = (end - start) * self.record_bytes
            chunk = os.pread(self._fd, size, int(index[start]) * self.record_bytes)
            if len(chunk) != size:
                raise OSError(f"short read from the scratch records ({len(chunk)} of {size} bytes)")
            flat[start:end] = np.frombuffer(chunk, np.uint8).reshape(end - start, self.record_bytes)
            start = end
        return out

    def subset(self, index: list[int] | np.ndarray) -> Subset:
        return Subset(self, np.asarray(index, dtype=np.int64))


class Subset:
    """Some records of a RecordFile, indexed from 0: a split of a dataset, without copying it."""

    def __init__(self, base: RecordFile, index: np.ndarray) -> None:
        self.base, self.index = base, index
        self.dtype = base.dtype
        self.shape = (len(index), *base.shape[1:])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: np.ndarray | list[int]) -> np.ndarray:
        return self.base[self.index[np.asarray(index, dtype=np.int64)]]
