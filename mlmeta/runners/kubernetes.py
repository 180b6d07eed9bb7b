"""The `kubernetes` runner: a batch/v1 Job whose pod runs ZenML's runner entrypoint for snapshots
in an image with the pipeline's code and zenml installed. The workload token is passed in a
Secret owned by the Job (deleted with it), never in the pod spec. Needs a cluster reachable from
the worker (in-cluster config, or the kubeconfig in `kubeconfig`).

Options: `image` (required), `namespace` ("default"), `service_account`, `kubeconfig`,
`backoff_limit` (0), `ttl_seconds_after_finished` (3600), `active_deadline_seconds`."""

import logging

from kubernetes import client

from mlmeta.runners import Runner, RunnerError, RunnerUnavailable, entrypoint_arguments

TOKEN_KEY = "ZENML_STORE_API_TOKEN"
logger = logging.getLogger(__name__)


def job_name(run) -> str:
    return f"mlmeta-run-{str(run.pk)[:8]}-{str(run.pk)[-4:]}"


class KubernetesRunner(Runner):
    def namespace(self) -> str:
        return self.options.get("namespace", "default")

    def refuse(self, snapshot) -> str | None:
        if not self.options.get("image"):
            return "The kubernetes runner has no `image` configured."
        return super().refuse(snapshot)

    def build_secret(self, run, environment: dict) -> client.V1Secret:
        return client.V1Secret(
            metadata=client.V1ObjectMeta(name=job_name(run), labels={"mlmeta.run": str(run.pk)}),
            string_data={TOKEN_KEY: environment[TOKEN_KEY]},
            type="Opaque",
        )

    def build_job(self, run, environment: dict) -> client.V1Job:
        """The Job: one container running the entrypoint, env from `environment` minus the token,
        which comes from the Secret."""
        if not self.options.get("image"):
            raise RunnerError("The kubernetes runner needs an `image` option.")
        name = job_name(run)
        env = [client.V1EnvVar(name=k, value=v) for k, v in sorted(environment.items()) if k != TOKEN_KEY]
        env.append(
            client.V1EnvVar(
                name=TOKEN_KEY,
                value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name=name, key=TOKEN_KEY)),
            )
        )
        container = client.V1Container(
            name="runner",
            image=self.options["image"],
            command=["python", "-m", "zenml.entrypoints.entrypoint"],
            args=entrypoint_arguments(run),
            env=env,
        )
        pod = client.V1PodSpec(
            containers=[container],
            restart_policy="Never",
            service_account_name=self.options.get("service_account"),
        )
        labels = {"app.kubernetes.io/managed-by": "mlmeta", "mlmeta.run": str(run.pk)}
        return client.V1Job(
            api_version="batch/v1",
            kind="Job",
            metadata=client.V1ObjectMeta(name=name, namespace=self.namespace(), labels=labels),
            spec=client.V1JobSpec(
                template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod),
                backoff_limit=int(self.options.get("backoff_limit", 0)),
                ttl_seconds_after_finished=int(self.options.get("ttl_seconds_after_finished", 3600)),
                active_deadline_seconds=self.options.get("active_deadline_seconds"),
            ),
        )

    def api_client(self) -> client.ApiClient:
        from kubernetes import config

        if self.options.get("kubeconfig"):
            return config.new_client_from_config(config_file=self.options["kubeconfig"])
        config.load_incluster_config()
        return client.ApiClient()

    def launch(self, run, environment: dict) -> dict:
        job = self.build_job(run, environment)
        secret = self.build_secret(run, environment)
        try:
            api = self.api_client()
            created = client.BatchV1Api(api).create_namespaced_job(self.namespace(), job)
            secret.metadata.owner_references = [
                client.V1OwnerReference(
                    api_version="batch/v1", kind="Job", name=job.metadata.name, uid=created.metadata.uid
                )
            ]
            client.CoreV1Api(api).create_namespaced_secret(self.namespace(), secret)
        except client.ApiException as exc:
            if exc.status and exc.status < 500:
                raise RunnerError(f"Kubernetes refused the job: {exc.status} {exc.reason}") from None
            raise RunnerUnavailable(f"Kubernetes is unavailable: {exc.reason}") from None
        except Exception as exc:  # config errors, connection errors
            raise RunnerUnavailable(f"Kubernetes is unreachable: {exc}") from None
        return {"job": job.metadata.name, "namespace": self.namespace()}

    def stop(self, run) -> None:
        handle = (run.launch or {}).get("handle") or {}
        if not handle.get("job"):
            return
        try:
            client.BatchV1Api(self.api_client()).delete_namespaced_job(
                handle["job"], handle.get("namespace", self.namespace()), propagation_policy="Foreground"
            )
        except Exception:  # best effort: the run is already marked stopped
            logger.warning("Could not delete job %s of run %s", handle["job"], run.pk, exc_info=True)
