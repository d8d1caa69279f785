"""file:// source: a local (or mounted) file copied with the same ranges, resume and checks."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from .errors import HttpRefused, RetriableError, ValidatorChanged
from .source import Remote, Sink

READ_BLOCK = 1 << 20


class FileSource:
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = unquote(urlsplit(url).path)

    def _stat(self) -> os.stat_result:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise HttpRefused(f"{self.url} does not exist") from None
        except PermissionError:
            raise HttpRefused(f"{self.url} cannot be read: permission denied") from None
        except OSError as exc:
            raise RetriableError(f"cannot stat {self.url}: {exc.strerror}") from None
        if not os.path.isfile(self.path):
            raise HttpRefused(f"{self.url} is not a regular file")
        return st

    def probe(self) -> Remote:
        st = self._stat()
        # The modification time and size stand in for an HTTP validator.
        return Remote(
            size=st.st_size, etag=None, last_modified=f"{st.st_mtime_ns}:{st.st_size}", ranges=True
        )

    def fetch(self, start: int, end: int | None, remote: Remote, sink: Sink) -> None:
        st = self._stat()
        if f"{st.st_mtime_ns}:{st.st_size}" != remote.last_modified:
            raise ValidatorChanged(f"{self.url} changed while it was being copied")
        stop = st.st_size if end is None else end
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise RetriableError(f"cannot open {self.url}: {exc.strerror}") from None
        try:
            pos = start
            while pos < stop:
                try:
                    data = os.pread(fd, min(READ_BLOCK, stop - pos), pos)
                except OSError as exc:
                    raise RetriableError(f"cannot read {self.url}: {exc.strerror}") from None
                if not data:
                    raise ValidatorChanged(f"{self.url} became shorter while it was being copied")
                sink.write(pos, data)
                pos += len(data)
        finally:
            os.close(fd)

    def close(self) -> None:
        pass
