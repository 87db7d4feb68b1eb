"""Stop working for a client that has gone: cancel its request, log 499."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLIENT_CLOSED = 499  # the status logged for a request whose client left first (nginx's)


class CancelOnDisconnect:
    """Stop working for a client that has gone. Once the request body is read, one watcher
    waits for the server's next message; `http.disconnect` before the answer is complete
    cancels the request (its photos leave the queue and skip the model) and logs 499. Without
    it the service scores photos nobody waits for, and they hold queue places (a client that
    sends photos and hangs up would cost the full CPU of each)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch: asyncio.Task[Message] | None = None
        answered = gone = False

        async def watched_receive() -> Message:
            nonlocal watch
            if watch is not None:  # one reader: the app sees what the watcher got
                return await asyncio.shield(watch)
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                watch = asyncio.ensure_future(receive())
                watch.add_done_callback(on_message)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, watched_receive, tracked_send))

        def on_message(done: asyncio.Task[Message]) -> None:
            nonlocal gone
            if done.cancelled() or done.exception() is not None or answered:
                return
            if done.result()["type"] == "http.disconnect":
                gone = True
                task.cancel()

        try:
            await task
        except asyncio.CancelledError:
            if not gone:
                raise  # we were cancelled ourselves (shutdown): not the client's doing
            await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        finally:
            if watch is not None and not watch.done():
                watch.cancel()
