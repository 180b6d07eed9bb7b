"""Inbound webhooks: `POST /hooks/<trigger id>` starts the trigger's snapshot. No session and no
token: the body must be signed with the trigger's secret (GitHub's X-Hub-Signature-256, or
X-MLMeta-Signature for any other sender). Unsigned or badly signed → 401 and an audit event."""

import hashlib
import json

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mlmeta import triggers
from mlmeta.models.automation import Trigger, TriggerEvent
from tenants import audit

INBOUND_EVENTS = (TriggerEvent.WEBHOOK_GITHUB, TriggerEvent.WEBHOOK_GENERIC)


def error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def signature_header(request, trigger) -> str | None:
    if trigger.event == TriggerEvent.WEBHOOK_GITHUB:
        return request.headers.get(triggers.GITHUB_SIGNATURE_HEADER)
    return request.headers.get(triggers.SIGNATURE_HEADER)


def branch_matches(trigger, payload: dict) -> bool:
    """A GitHub push counts when the trigger names no branch or the push is to that branch."""
    return not trigger.branch or payload.get("ref") == f"refs/heads/{trigger.branch}"


def delivery_key(request, body: bytes) -> str:
    """What makes a delivery unique: the sender's delivery id, or else the body's digest."""
    delivery = request.headers.get("X-GitHub-Delivery") or request.headers.get("X-MLMeta-Delivery")
    return f"hook:{delivery or hashlib.sha256(body).hexdigest()}"


@csrf_exempt
@require_POST
def inbound(request, pk):
    trigger = Trigger.objects.select_related("tenant").filter(pk=pk, event__in=INBOUND_EVENTS).first()
    if trigger is None or not trigger.active:
        return error(404, "No active inbound trigger with this id.")
    body = request.body
    header = signature_header(request, trigger)
    if not triggers.verify(triggers.secret_of(trigger), body, header):
        audit.record(
            "permission_denied",
            request=request,
            obj=trigger,
            tenant=trigger.tenant,
            via="webhook",
            detail="unsigned inbound webhook" if not header else "bad inbound webhook signature",
        )
        return error(401, "Missing or invalid signature." if header else "Missing signature.")
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return error(400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return error(400, "The body must be a JSON object.")
    if trigger.event == TriggerEvent.WEBHOOK_GITHUB:
        github_event = request.headers.get("X-GitHub-Event", "push")
        if github_event == "ping":
            return JsonResponse({"detail": "pong"})
        if github_event != "push" or not branch_matches(trigger, payload):
            return JsonResponse({"detail": "Ignored: not a push to the trigger's branch."}, status=202)
    event = {"event": trigger.event, "ref": payload.get("ref"), "after": payload.get("after")}
    with transaction.atomic():
        triggers.enqueue([trigger.pk], delivery_key(request, body), event)
    return JsonResponse({"detail": "Accepted.", "trigger_id": str(trigger.pk)}, status=202)
