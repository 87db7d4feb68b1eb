"""Helpers shared by the tests and bench/, imported as `tests.support.<module>`.

pytest finds them through `pythonpath = ["."]` (pyproject.toml); bench/ scripts through
bench/testkit.py. One place each: `paths` (repository, test photos, the CLI), `photos` (fixture
and drawn photos, awkward encodings, seed bodies, the page's upload), `bad_inputs` (the hostile
corpus), `models` (model directories made by the real exporter), `settings` (a test service's
settings), `live` (free ports, in-thread and child-process services, memory), `raw_http`,
`load` (load generators), `fuzzing` (schemathesis), `collection` (a folder of photos to rate),
`training` (the training tests' recipe).
"""
