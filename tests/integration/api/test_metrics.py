"""/metrics parsed with prometheus-client's own parser; the counters follow the traffic."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import DURATION, IN_PROGRESS, REQUESTS_TOTAL

pytestmark = pytest.mark.integration


def scrape(client) -> dict[str, dict[tuple, float]]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def requests(samples, route, status, method="GET") -> float:
    key = (("method", method), ("route", route), ("status", status))
    return samples.get(REQUESTS_TOTAL, {}).get(key, 0.0)


def test_requests_are_counted_by_route_template_and_status(client, keys, unique):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/drift/results", params={"model": unique}, headers=keys.viewer).status_code == 200
    assert client.get("/drift/latest", params={"model": unique}, headers=keys.viewer).status_code == 404
    assert client.get("/drift/results").status_code == 401
    assert client.delete(f"/keys/{unique}-x", headers=keys.admin).status_code == 404
    assert client.get(f"/no/such/{unique}", headers=keys.viewer).status_code == 404
    # without a key an unknown path is a 401 like any other: no probing which paths exist
    assert client.get(f"/no/such/{unique}").status_code == 401
    after = scrape(client)

    assert requests(after, "/drift/results", "200") - requests(before, "/drift/results", "200") == 3
    assert requests(after, "/drift/results", "401") - requests(before, "/drift/results", "401") == 1
    assert requests(after, "/drift/latest", "404") - requests(before, "/drift/latest", "404") == 1
    # the template, not the path: key names do not become label values
    assert requests(after, "/keys/{name}", "404", "DELETE") - requests(before, "/keys/{name}", "404",
                                                                      "DELETE") == 1
    assert requests(after, "<unmatched>", "404") - requests(before, "<unmatched>", "404") == 1
    assert not any(unique in dict(labels).get("route", "") for labels in after[REQUESTS_TOTAL])

    count_key = (("method", "GET"), ("route", "/drift/results"))
    counts = after[f"{DURATION}_count"]
    assert counts[count_key] - before.get(f"{DURATION}_count", {}).get(count_key, 0) == 4
    buckets = {dict(k)["le"]: v for k, v in after[f"{DURATION}_bucket"].items()
               if dict(k)["route"] == "/drift/results"}
    assert buckets["+Inf"] == counts[count_key]
    assert after[IN_PROGRESS][()] == 1.0  # the scrape itself
