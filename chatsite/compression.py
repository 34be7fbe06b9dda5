"""Whole pages and JSON answers go gzip-compressed: the chat page's HTML (sidebar,
dialogs) is otherwise the largest part of its cold load.

Django's GZipMiddleware pads each compressed body with random bytes against
BREACH, and CSRF tokens are masked per response. Streamed responses pass as they
are: an API client reads a reply chunk by chunk, and files (static files,
images) are stored compressed already or do not shrink.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware


class CompressedPagesMiddleware(GZipMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.streaming:
            return response
        return super().process_response(request, response)
