"""ASGI entry point: HTTP goes to Django, websockets through origin and auth checks."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite.origins import SameOriginOnly  # noqa: E402
from conversations import shutdown  # noqa: E402
from conversations.chat.liveness import ensure_sweeper  # noqa: E402
from conversations.housekeeping import ensure_housekeeping  # noqa: E402
from conversations.routing import websocket_urlpatterns as chat_sockets  # noqa: E402
from ollama_models.routing import websocket_urlpatterns as models_sockets  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginOnly(AuthMiddlewareStack(URLRouter(chat_sockets + models_sockets))),
    }
)


async def application(scope, receive, send):
    # The first request of a process starts its sweeper, which marks replies
    # left "streaming" by a worker that died as interrupted, and its
    # housekeeping (uploads never sent), and has the process save its own
    # replies when it is told to stop.
    if scope["type"] in ("http", "websocket"):
        ensure_sweeper()
        ensure_housekeeping()
        shutdown.prepare()
    await router(scope, receive, send)


# The collector, tuned for a long-lived server: what start-up loaded lives as
# long as the process, so it is no longer walked (freeze), and collections come
# less often. With the defaults (every 700 allocations) a worker streaming many
# replies paused its event loop for up to 150 ms at a time.
gc.freeze()
gc.set_threshold(10_000, 20, 20)
