"""Schemathesis hooks of scripts/api-contract.sh.

The document states every rule of a single value (types, lengths, patterns, ranges, enums,
unknown fields). A few rules relate values to each other or to the server's state, which JSON
Schema cannot state; a finding that one of them explains is not a mismatch of the document:

- `cursor`: opaque, and bound to its list, its filters and the tenant incarnation, so no value
  the document could describe is valid for every request (a foreign cursor is a 400 by design);
- `min_price` above `max_price` (products), a sales report whose `to` is before `from` or
  more than 366 days after it, an order listing a product twice, and custom domains naming
  one domain twice in different cases: 400 by design;
- schemathesis' own `x-schemathesis-unknown-property` header: unknown headers are accepted, as
  HTTP requires, not a schema violation.

Everything else it finds fails the run.
"""

from datetime import date

import schemathesis

UNKNOWN_HEADER = "x-schemathesis-unknown-property"


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _day(value):
    """A `YYYY-MM-DD` day as a day number of the proleptic Gregorian calendar (any year from 0
    to 9999, as the server reads them; Python's `date` starts at year 1)."""
    try:
        year, month, day = (int(part) for part in value.split("-"))
        date(2000, month, day)  # a real month and day
    except (AttributeError, TypeError, ValueError):
        return None
    year -= month <= 2
    era, year_of_era = divmod(year, 400)
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year


def _lists_a_product_twice(body):
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return False
    ids = [line.get("product_id") for line in lines if isinstance(line, dict)]
    return len(ids) != len({repr(i) for i in ids})


def _names_a_domain_twice(body):
    domains = body.get("domains") if isinstance(body, dict) else None
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        return False
    normal = [d.strip().rstrip(".").lower() for d in domains]
    return len(normal) != len(set(normal))


def _explained_rejection(case):
    if _lists_a_product_twice(case.body) or _names_a_domain_twice(case.body):
        return True
    query = case.query or {}
    if "cursor" in query:
        return True
    low, high = _int(query.get("min_price")), _int(query.get("max_price"))
    if low is not None and high is not None and low > high:
        return True
    first, last = _day(query.get("from")), _day(query.get("to"))
    return first is not None and last is not None and not 0 <= last - first < 366


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    kind = type(failure).__name__
    if kind == "RejectedPositiveData" and _explained_rejection(case):
        return False
    headers = {name.lower() for name in (case.headers or {})}
    if kind == "AcceptedNegativeData" and UNKNOWN_HEADER in headers:
        return False
    return True
