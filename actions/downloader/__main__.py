"""`python -m actions.downloader`: the same as the `asr-cache-download` command."""

from .cli import main

main()
