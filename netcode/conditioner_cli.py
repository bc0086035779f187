"""The link conditioner's command-line flags, shared by the client and the server programs.

Theory of operation: ``add_link_arguments`` adds ``--net PROFILE`` and one flag per
``LinkSettings`` field; ``settings_or_error`` lays the explicit flags over the profile and
reports an out-of-range value the argparse way (exit code 2, naming the flag and the value).
"""
from __future__ import annotations

import argparse
import dataclasses

from .conditioner import PROFILES, LinkSettings, LinkSettingsError

_FLAG_FOR_FIELD = {
    "lag_ms": "--lag",
    "jitter_ms": "--jitter",
    "loss_pct": "--loss",
    "dup_pct": "--dup",
    "reorder_pct": "--reorder",
}


def add_link_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``link conditioner`` option group (``--net``, ``--lag`` ... ``--net-seed``)."""
    group = parser.add_argument_group(
        "link conditioner",
        "Simulate a worse network than the LAN. Pick a profile with --net; any explicit flag "
        "overrides that profile's value (e.g. --net wifi --loss 0 is wifi without loss).",
    )
    group.add_argument(
        "--net", choices=sorted(PROFILES), default=None,
        help="network profile (default: lan): "
        + "; ".join(_describe(n, s) for n, s in PROFILES.items()).replace("%", "%%"),
    )
    group.add_argument("--lag", type=float, metavar="MS",
                       help="added round-trip time in ms (half each way), 0..10000")
    group.add_argument("--jitter", type=float, metavar="MS",
                       help="vary each one-way delay by up to +/- MS (never below 0), 0..10000")
    group.add_argument("--loss", type=float, metavar="PCT",
                       help="drop this percentage of datagrams in each direction, 0..100")
    group.add_argument("--dup", type=float, metavar="PCT",
                       help="duplicate this percentage of datagrams in each direction, 0..100")
    group.add_argument("--reorder", type=float, metavar="PCT",
                       help="hold back this percentage of datagrams so later ones overtake "
                            "them, 0..100")
    group.add_argument("--net-seed", type=int, default=1, metavar="N",
                       help="seed of the conditioner's random generator, so runs repeat "
                            "(default: 1)")


def _describe(name: str, settings: LinkSettings) -> str:
    if not settings.is_active:
        return f"{name} = no conditioning"
    units = {"ms": " ms", "pct": "%"}
    parts = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value > 0:
            label, unit = field.name.rsplit("_", 1)
            parts.append(f"{label} {value:g}{units[unit]}")
    return f"{name} = " + ", ".join(parts)


def link_settings_from_args(args: argparse.Namespace) -> LinkSettings:
    """The profile named by ``--net`` (default lan) with explicit flags laid over it.

    Raises ``LinkSettingsError`` (a ``ValueError``) for out-of-range values.
    """
    base = PROFILES[args.net or "lan"]
    overrides = {
        field: getattr(args, flag.lstrip("-"))
        for field, flag in _FLAG_FOR_FIELD.items()
        if getattr(args, flag.lstrip("-"), None) is not None
    }
    return dataclasses.replace(base, **overrides)


def settings_or_error(args: argparse.Namespace, parser: argparse.ArgumentParser) -> LinkSettings:
    """Like ``link_settings_from_args`` but reports bad values the argparse way (exit code 2)."""
    try:
        return link_settings_from_args(args)
    except LinkSettingsError as exc:
        parser.error(f"argument {_FLAG_FOR_FIELD[exc.field]}: {exc}")
    except ValueError as exc:
        parser.error(str(exc))
    raise AssertionError("parser.error returned")  # pragma: no cover - parser.error exits
