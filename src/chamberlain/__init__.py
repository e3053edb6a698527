"""Chamberlain: self-hosted IAM, wire-compatible with AWS IAM and STS."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chamberlain")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
