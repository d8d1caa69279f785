"""The model file server: generated files over real HTTP/1.1 on loopback, with faults on demand.

    async with ModelServer() as server:
        f = server.add_file("/models/v1/model.bin", size=8 * 2**20, seed=1)
        server.set_faults(f.path, Faults(drop_after=1 << 20, drop_requests=1))
        ...server.url(f.path), f.sha256, server.stats(f.path)...

Run standalone (benchmarks): ``python -m simcluster.modelserver --size 1GiB --port P``.
"""

from .content import BLOCK_SIZE, ModelFile, generate
from .faults import Faults, FileStats, RequestRecord
from .server import ModelServer

__all__ = [
    "BLOCK_SIZE",
    "Faults",
    "FileStats",
    "ModelFile",
    "ModelServer",
    "RequestRecord",
    "generate",
]
