"""Revisions, oldest first by number; a package so wheels ship them."""
