"""Chamberlain: self-hosted IAM, wire-compatible with AWS IAM and STS."""
