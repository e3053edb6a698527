"""AWS managed policies Chamberlain ships: `arn:aws:iam::aws:policy/...`, read-only.

The catalogue (names, paths, default version ids, dates and documents of AWS's managed
policies) is data/aws_managed_policies.json, generated from a maintained package by
scripts/refresh_managed_policies.py (its "about" member names the package and version
and lists the documents left out); nothing here is typed by hand. It is read on first
use, not at import, so starting the server and serving requests that never look at an
AWS managed policy cost nothing; each document's text is rendered when first read.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from chamberlain.policy.parse import MAX_DOCUMENT_CHARS

_DATA = "data/aws_managed_policies.json"
#: What every AWS managed policy's ARN starts with (then its path and name).
ARN_PREFIX = "arn:aws:iam::aws:policy"


@dataclass(frozen=True)
class AwsManagedPolicy:
    name: str
    path: str
    version_id: str  # the default version's id
    created: dt.datetime
    updated: dt.datetime
    content: Any = field(repr=False, compare=False)  # the parsed document
    description: str = ""  # the catalogue carries no descriptions

    @property
    def arn(self) -> str:
        return f"{ARN_PREFIX}{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])

    @functools.cached_property
    def document(self) -> str:
        return render_document(self.content)


def render_document(content: Any) -> str:
    """A document's text: Version first, indented as AWS shows it; compact when the
    indented text would pass the longest document the policy engine reads (a few of
    AWS's largest, such as ReadOnlyAccess, would)."""
    ordered = {"Version": content["Version"]} if "Version" in content else {}
    ordered.update(content)
    text = json.dumps(ordered, indent=4)
    if len(text) > MAX_DOCUMENT_CHARS:
        text = json.dumps(ordered, separators=(",", ":"))
    return text


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


class _Catalogue(Mapping[str, AwsManagedPolicy]):
    """AWS managed policies by ARN, loaded from the data file on first access."""

    def __init__(self) -> None:
        self._by_arn: dict[str, AwsManagedPolicy] | None = None
        self._lock = threading.Lock()
        self._about: dict[str, Any] = {}

    @property
    def about(self) -> dict[str, Any]:
        """The data file's provenance: source package and version, refresh command,
        how many policies were kept and which were left out (with the engine's reason)."""
        self._policies()
        return self._about

    def _policies(self) -> dict[str, AwsManagedPolicy]:
        loaded = self._by_arn
        if loaded is None:
            with self._lock:
                loaded = self._by_arn
                if loaded is None:
                    raw = json.loads(resources.files(__package__).joinpath(_DATA).read_text())
                    self._about = raw["about"]
                    policies = (
                        AwsManagedPolicy(n, p, v, _moment(c), _moment(u), d)
                        for n, p, v, c, u, d in raw["policies"]
                    )
                    loaded = self._by_arn = {p.arn: p for p in policies}
        return loaded

    def __getitem__(self, arn: str) -> AwsManagedPolicy:
        # Only ARNs in account "aws" can be AWS managed: no need to load for the others.
        if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
            raise KeyError(arn)
        return self._policies()[arn]

    def __iter__(self) -> Iterator[str]:
        return iter(self._policies())

    def __len__(self) -> int:
        return len(self._policies())


AWS_MANAGED = _Catalogue()
