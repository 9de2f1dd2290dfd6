#!/usr/bin/env python3
"""Checks a scraped /metrics exposition (stdlib only).

  check_exposition.py counters SCRAPE ISSUER   the orders demo's counters moved as expected
  check_exposition.py dashboard SCRAPE JSON    the dashboard's shape, and that every metric
                                               it queries is in the scrape
"""
import json
import re
import sys

# Names that appear in PromQL expressions but are not metrics.
PROMQL_WORDS = {
    "sum", "by", "rate", "max", "time", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "avg", "min", "count", "topk", "bottomk",
    "histogram_quantile", "increase", "irate", "le", "quantile",
}


def types(path):
    """metric name -> its `# TYPE`."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                out[name] = kind
    return out


def parse(path):
    """`name{sorted labels}` -> value, and the set of metric names (with HELP/TYPE names)."""
    series, names = {}, set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("# TYPE ") or line.startswith("# HELP "):
                names.add(line.split()[2])
                continue
            if line.startswith("#"):
                continue
            head, value = line.rsplit(" ", 1)
            name, _, labels = head.partition("{")
            pairs = sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels))
            series[(name, tuple(pairs))] = float(value)
            names.add(name)
    return series, names


def value(series, name, **labels):
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def counters(scrape, issuer):
    series, _ = parse(scrape)
    d = "oauth2_guard_decisions_total"
    expected = [
        # 2 GET with orders:read + 1 POST with orders:read (passes the layer, refused by the guard)
        # + the DPoP call the example makes itself at start (--all-features)
        ((d, dict(outcome="allowed", reason="none", issuer=issuer)), 4),
        ((d, dict(outcome="refused", reason="expired", issuer=issuer)), 1),
        ((d, dict(outcome="refused", reason="wrong_audience", issuer=issuer)), 1),
        ((d, dict(outcome="refused", reason="missing_token", issuer="unknown")), 1),
        (("oauth2_guard_authz_denials_total", dict(kind="scope", required="orders:write")), 1),
        # the orders:read token: verified once, then two cache hits; the same
        # for the example's own DPoP token (replayed proof, then as Bearer)
        (("oauth2_guard_token_cache_requests_total", dict(result="hit")), 4),
    ]
    failed = False
    # The README documents the latencies as histograms (for histogram_quantile).
    kinds = types(scrape)
    for name in ("oauth2_guard_verification_duration_seconds",):
        kind = kinds.get(name)
        status = "ok" if kind == "histogram" else "FAIL"
        failed |= kind != "histogram"
        print(f"{status}: {name} is a {kind} (want histogram)")
    for (name, labels), want in expected:
        got = value(series, name, **labels)
        status = "ok" if got == want else "FAIL"
        failed |= got != want
        print(f"{status}: {name}{labels} = {got} (want {want})")
    return 1 if failed else 0


def dashboard(scrape, path):
    _, names = parse(scrape)
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    errors = []
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dash:
            errors.append(f"dashboard has no {key!r}")
    queried = set()
    for p in dash.get("panels", []):
        for key in ("id", "type", "title", "gridPos", "targets"):
            if key not in p:
                errors.append(f"panel {p.get('title')!r} has no {key!r}")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if not expr:
                errors.append(f"panel {p.get('title')!r} has a target without expr")
            # Identifiers outside label matchers and strings.
            bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expr)
            # Label lists of aggregations and vector matching.
            bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
            for ident in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
                if ident.startswith("oauth2_guard_"):
                    queried.add(ident)
                elif ident not in PROMQL_WORDS and not ident.startswith("__"):
                    errors.append(f"panel {p.get('title')!r}: unknown identifier {ident!r} in {expr!r}")
    if not queried:
        errors.append("the dashboard queries no oauth2_guard_ metric")
    for name in sorted(queried):
        # _sum/_count series belong to their base name (summary or
        # histogram); a _bucket series must exist itself (histograms only).
        base = re.sub(r"_(sum|count)$", "", name)
        if name not in names and base not in names:
            errors.append(f"the dashboard queries {name}, which the scrape does not expose")
    for e in errors:
        print("FAIL:", e)
    print(f"dashboard: {len(dash.get('panels', []))} panels, {len(queried)} metrics queried, "
          f"{len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("counters", "dashboard"):
        print(__doc__)
        sys.exit(2)
    fn = counters if sys.argv[1] == "counters" else dashboard
    sys.exit(fn(sys.argv[2], sys.argv[3]))
