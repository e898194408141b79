"""The one read model of campaigns and its renderers: text, JSON, CSV, HTML, watch and metrics."""
