"""The bundled model downloader: `asr-cache-download` / `python -m actions.downloader`.

Parallel ranged downloads into a size-capped, versioned cache with resume, retries, sha256
verification and atomic placement; progress as JSON lines that the dashboard parses. It runs
alone in pods, so it imports only httpx and the small pure helpers in `collectors`.
"""
