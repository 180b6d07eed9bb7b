"""The `webhook` runner: hands the run to CI/CD, which runs the snapshot with the zenml client.
Kinds: `github` (Actions workflow_dispatch), `gitlab` (pipeline trigger) and `http` (a JSON POST
signed with `X-MLMeta-Signature: sha256=<HMAC-SHA256 of the body>`). Every kind carries the run id,
snapshot id, server URL and a short-lived workload token for the run's user."""

import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request

from mlmeta.runners import Runner, RunnerError, RunnerUnavailable

SIGNATURE_HEADER = "X-MLMeta-Signature"
TIMEOUT = 30


def signature(secret: str, body: bytes) -> str:
    """The header value a receiver recomputes to check the body came from this server."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(run, environment: dict) -> dict:
    return {
        "run_id": str(run.pk),
        "snapshot_id": str(run.snapshot_id),
        "project_id": environment["ZENML_ACTIVE_PROJECT_ID"],
        "stack_id": environment["ZENML_ACTIVE_STACK_ID"],
        "server_url": environment["ZENML_STORE_URL"],
        "token": environment["ZENML_STORE_API_TOKEN"],
    }


class WebhookRunner(Runner):
    """Options: `kind` (github | gitlab | http), `url`; github: `repository`, `workflow`, `ref`, `token`;
    gitlab: `project`, `ref`, `token` (trigger token); http: `secret` (HMAC key), `headers`."""

    def refuse(self, snapshot) -> str | None:
        kind = self.options.get("kind", "http")
        needed = {"github": ("repository", "workflow", "token"), "gitlab": ("project", "token"), "http": ("url",)}
        if kind not in needed:
            return f"The {self.name} runner has an unknown webhook kind {kind!r}."
        missing = [option for option in needed[kind] if not self.options.get(option)]
        if missing:
            return f"The {self.name} runner ({kind}) is missing {', '.join(missing)}."
        return super().refuse(snapshot)

    def request(self, run, environment: dict) -> urllib.request.Request:
        data = payload(run, environment)
        kind = self.options.get("kind", "http")
        if kind == "github":
            url = self.options.get("url") or (
                f"https://api.github.com/repos/{self.options['repository']}"
                f"/actions/workflows/{self.options['workflow']}/dispatches"
            )
            body = json.dumps({"ref": self.options.get("ref", "main"), "inputs": data}).encode()
            headers = {
                "Authorization": f"Bearer {self.options['token']}",
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
            }
        elif kind == "gitlab":
            base = self.options.get("url", "https://gitlab.com").rstrip("/")
            url = f"{base}/api/v4/projects/{self.options['project']}/trigger/pipeline"
            fields = {"token": self.options["token"], "ref": self.options.get("ref", "main")}
            fields.update({f"variables[MLMETA_{key.upper()}]": value for key, value in data.items()})
            body = urllib.parse.urlencode(fields).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        elif kind == "http":
            url = self.options["url"]
            body = json.dumps(data, sort_keys=True).encode()
            headers = {"Content-Type": "application/json", **dict(self.options.get("headers") or {})}
            headers[SIGNATURE_HEADER] = signature(self.options.get("secret", ""), body)
        else:
            raise RunnerError(f"Unknown webhook kind {kind!r}.")
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise RunnerError(f"The {kind} webhook URL must be http(s): {url!r}.")
        return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (checked above)

    def launch(self, run, environment: dict) -> dict:
        """POST the dispatch; 5xx and connection errors are retried by the task, 4xx fail the run."""
        request = self.request(run, environment)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) only)
                return {"url": request.full_url, "status": response.status}
        except urllib.error.HTTPError as exc:
            message = f"The webhook answered {exc.code} {exc.reason}."
            if exc.code >= 500:
                raise RunnerUnavailable(message) from None
            raise RunnerError(message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise RunnerUnavailable(f"The webhook could not be reached: {getattr(exc, 'reason', exc)}") from None
