"""AWS's policy language and evaluation logic: parse -> validate -> compile -> evaluate.

Pure: no I/O, no clock (the caller puts aws:CurrentTime in the request context).
See docs/policy-semantics.md for the rules.
"""
