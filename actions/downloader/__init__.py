"""actions/downloader."""
