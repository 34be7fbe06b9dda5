"""A user's saved JSON Schemas: list, save by name, delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from conversations.models import SavedSchema
from conversations.structured.errors import SchemaRejected
from conversations.structured.formats import check_format
from conversations.views.http import Refused, json_view, read_json_object


@json_view("GET", "POST")
def schemas(request: HttpRequest) -> JsonResponse:
    """GET lists them; POST saves one by name, replacing one of the same name."""
    if request.method == "GET":
        saved = SavedSchema.objects.filter(owner=request.user).order_by("name")
        return JsonResponse({"schemas": [_entry(entry) for entry in saved]})
    data = read_json_object(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise Refused("Give the schema a name of at most 100 characters.")
    if not isinstance(data.get("schema"), dict):
        raise Refused("The schema must be a JSON object.")
    try:
        schema = check_format(data["schema"])
    except SchemaRejected as exc:
        raise Refused(exc.message, code="invalid_schema") from None
    entry, created = SavedSchema.objects.update_or_create(
        owner=request.user, name=name.strip(), defaults={"schema": schema}
    )
    return JsonResponse(_entry(entry), status=201 if created else 200)


@json_view("POST")
def delete_schema(request: HttpRequest, schema_id: int) -> HttpResponse:
    get_object_or_404(SavedSchema, pk=schema_id, owner=request.user).delete()
    return HttpResponse(status=204)


def _entry(entry: SavedSchema) -> dict[str, Any]:
    return {"id": entry.pk, "name": entry.name, "schema": entry.schema}
