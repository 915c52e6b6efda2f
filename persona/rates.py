"""Rates such as "10/m" or "5/15m": a count per period. No Django here, so settings can use it."""

import re

RATE = re.compile(r"([1-9]\d*)/(\d*)([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """(count, period in seconds) of a rate such as "10/m" or "5/15m"."""
    match = RATE.fullmatch(rate)
    if match is None or int(match.group(2) or 1) == 0:
        raise ValueError(f"not a rate such as 10/m or 5/15m: {rate!r}")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * UNIT_SECONDS[unit]
