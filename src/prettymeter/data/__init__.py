"""The data layer: labels, tables, photo facts, the pipeline stages and the synthetic set."""
