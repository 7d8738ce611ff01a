"""Reading /metrics the way Prometheus does, for the metrics tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a series that is not there counts as absent, not zero."""
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def series(samples: Samples, name: str) -> set[tuple[tuple[str, str], ...]]:
    return {labels for sample, labels in samples if sample == name}


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a series grew between two scrapes (it may be new in the second)."""
    key = (name, tuple(sorted(labels.items())))
    return after[key] - before.get(key, 0.0)
