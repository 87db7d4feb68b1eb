"""The data stages: ingest, dedupe, detect, normalize, the synthetic set and the plots."""
