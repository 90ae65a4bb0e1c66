"""`clonekit prep build`'s command-line options over a PrepConfig from YAML: a flag given on the command line wins,
repeatable ones (`--exclude`, `--alias`) add to the file's lists, `--no-redact` turns every redaction off."""

from __future__ import annotations

from clonekit.config import PrepConfig, load_config
from clonekit.data_prep.people import parse_alias


def with_options(
    base: PrepConfig,
    *,
    target: str | None = None,
    gap_minutes: float | None = None,
    media: str | None = None,
    valid_fraction: float | None = None,
    include_bots: bool | None = None,
    exclude: list[str] | None = None,
    aliases: list[str] | None = None,
    redact: bool = True,
) -> PrepConfig:
    """`base` with the command line's options applied, validated again as a whole."""
    data = base.model_dump()
    given = {
        "target": target,
        "session_gap_minutes": gap_minutes,
        "media": media,
        "valid_fraction": valid_fraction,
        "include_bots": include_bots,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    if exclude:
        data["exclude"] = list(base.exclude) + list(exclude)
    if aliases:
        data["aliases"] = {**base.aliases, **dict(parse_alias(a) for a in aliases)}
    if not redact:
        data["redact"] = {
            **data["redact"],
            "emails": False,
            "phones": False,
            "ids": False,
            "urls": False,
            "numbers": False,
        }
    return load_config(PrepConfig, None, **data)
