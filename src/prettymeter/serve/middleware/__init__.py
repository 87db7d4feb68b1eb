"""The ASGI layers around the routes, one module each: body limits, rate limit, request log,
disconnects, path prefix (the security headers are `serve.security_headers`)."""
