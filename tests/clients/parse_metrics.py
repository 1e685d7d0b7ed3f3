"""Parses OpenMetrics text from stdin with the Prometheus project's own
parser (prometheus_client.openmetrics.parser, strict: a malformed exposition
raises) and prints every sample as one JSON object per line:
{"name": ..., "labels": {...}, "value": ...}."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        print(json.dumps({"name": sample.name, "labels": sample.labels, "value": sample.value}))
