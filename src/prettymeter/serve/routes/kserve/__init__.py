"""KServe V1 and Open Inference Protocol (V2) routes, so KServe/Triton clients can call us.

V1: `POST /v1/models/{name}:predict`, `GET /v1/models/{name}`. V2: health, server and model
metadata, model readiness and `POST /v2/models/{name}/infer` with one BYTES input of encoded
photos, as JSON (base64 strings) or with the binary tensor data extension (raw file bytes).
`{name}` is a route (`man`, `woman`) or a card name. Errors are the protocols' `{"error": "..."}`.
The photo policy is /v1/rate's: a photo without one clear person gets an error code and does
not fail the others.
"""

# importing v1 and v2 adds their routes to the one router, V1's first
from prettymeter.serve.routes.kserve import v1, v2
from prettymeter.serve.routes.kserve.protocol import router

__all__ = ["router", "v1", "v2"]
