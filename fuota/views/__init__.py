"""The one read model of campaigns and its renderers: text, JSON, CSV, HTML, watch and metrics.

    model.py       the read model: each fact (started, counts, progress, time left, retries, reasons…) defined
                   once, the campaign summary, campaign list, deployment rows, status and the fleet's counts
    rows.py        device and event rows, the device table paged and filtered in SQL, latest events
    schedule.py    start, window and next opening; whether a runner drives the campaign (and the texts saying so)
    family.py      campaign families (a campaign and its retries), each device's latest outcome, the family total
    timeline.py    the report's devices per stage over time, replayed from "device" events
    formatting.py  times, durations and the threshold verdict in words
    report.py      the report: text, JSON and CSV (html.py: HTML)
    watch.py       `fuota watch`'s live view
    metrics.py     the daemon's Prometheus metrics

Every front end (cli, web, the daemon's /metrics) reads campaigns through here, never the store's rows directly.
"""
