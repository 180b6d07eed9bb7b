"""JSON rendering as ZenML's FastAPI server does it: a `None` result is the body `null`."""

from rest_framework.renderers import JSONRenderer


class ZenJSONRenderer(JSONRenderer):
    """DRF renders `Response(None)` as an empty body, which the ZenML client refuses to parse
    ("Expected json"); FastAPI sends `null` for deletes, `POST /run-metadata` and logout."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b"null"
        return super().render(data, accepted_media_type, renderer_context)
