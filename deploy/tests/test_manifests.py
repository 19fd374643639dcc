"""Checks of the Kubernetes manifests that a schema cannot make.

Renders the overlays with `kubectl kustomize` (or reads them from $RENDERED_DIR, where
scripts/check-deploy puts them: dev.yaml, prod.yaml, prod-ingress.yaml) and asserts what
an operator relies on: every service has a hardened, probed, resourced Deployment, a
Service, a PodDisruptionBudget (and in prod an autoscaler for the HTTP ones); the routes
are those of the local nginx ingress; the custom resources (HTTPRoute, Gateway,
CloudNativePG Cluster and Database) have their required fields; configuration keys are
names the binary reads; and no secret value is anywhere.

    python3 -m unittest deploy/tests/test_manifests.py
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"

SERVICES = ["auth", "tickets", "orders", "payments", "expiration", "queue", "web"]
# Serve the public API or pages: autoscaled in prod. Expiration is a timer worker.
HTTP_SERVICES = [s for s in SERVICES if s != "expiration"]
# The services with a PostgreSQL database of their own (the queue's keeps its waiting
# rooms; its lines are in Redis).
DATABASE_SERVICES = ["auth", "tickets", "orders", "payments", "expiration", "queue"]

# CONTRACT.md §10: the configuration names operators rely on.
CONTRACT_NAMES = {
    "HOST", "PORT", "DATA_DIR", "JWT_KEY", "EXPIRATION_WINDOW_SECONDS",
    "PAYMENT_HOLD_CEILING_SECONDS", "QUEUE_TURN_SECONDS", "DATABASE_URL", "NATS_URL",
    "REDIS_URL", "STRIPE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "LOG_FORMAT",
}
# Values that are secrets: only ever from a Secret, never in a ConfigMap or a literal.
SECRET_NAMES = {"JWT_KEY", "ROOM_ADMISSION_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_KEY", "STRIPE_WEBHOOK_SECRET"}
SECRET_OBJECT = "boxoffice-secrets"
# The keys of that Secret, as README "Running in production" documents them.
SECRET_KEYS = {
    "jwt-key", "room-admission-key", "redis-url", "stripe-webhook-secret", "stripe-key", "stripe-publishable-key",
} | {f"{s}-database-url" for s in DATABASE_SERVICES}
LABELS = [f"app.kubernetes.io/{k}" for k in ("name", "instance", "component", "part-of", "version")]


def binary_env_names():
    """Every environment variable the binary reads: clap's `env = "…"` names, RUST_LOG."""
    source = (REPO / "crates" / "app" / "src" / "cli.rs").read_text()
    return set(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', source)) | {"RUST_LOG"}


def documented_env_names():
    """The variables of README's "Configuration" table."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1]))
    return names


def render_all():
    """{variant: [documents]} for dev, prod and prod with the Ingress instead of HTTPRoute."""
    rendered = os.environ.get("RENDERED_DIR")
    if rendered:
        texts = {v: (Path(rendered) / f"{v}.yaml").read_text() for v in ("dev", "prod", "prod-ingress")}
    else:
        kubectl = os.environ.get("KUBECTL", "kubectl")
        texts = {}
        for variant in ("dev", "prod"):
            texts[variant] = subprocess.run(
                [kubectl, "kustomize", str(K8S / "overlays" / variant)],
                check=True, capture_output=True, text=True).stdout
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "k8s"
            shutil.copytree(K8S, copy)
            swap_routing_to_ingress(copy / "overlays" / "prod" / "kustomization.yaml")
            texts["prod-ingress"] = subprocess.run(
                [kubectl, "kustomize", str(copy / "overlays" / "prod")],
                check=True, capture_output=True, text=True).stdout
    return {v: [d for d in yaml.safe_load_all(t) if d] for v, t in texts.items()}


def swap_routing_to_ingress(kustomization):
    """The prod overlay with the Ingress component instead of the Gateway API one (and
    without the patches of Gateway API objects)."""
    doc = yaml.safe_load(kustomization.read_text())
    doc["components"] = [c.replace("gateway-api", "ingress") for c in doc["components"]]
    doc["patches"] = [p for p in doc.get("patches", [])
                      if p.get("target", {}).get("kind") not in ("Gateway", "HTTPRoute")]
    kustomization.write_text(yaml.safe_dump(doc))


def nginx_routes():
    """{path prefix: service} from the local ingress's nginx template."""
    template = (REPO / "deploy" / "nginx" / "boxoffice.conf.template").read_text()
    routes = dict(re.findall(r"location\s+(/[\w/]*)\s*\{\s*proxy_pass http://(\w+);", template))
    assert routes.get("/") == "web" and "/api/users" in routes, routes
    return routes


# Paths the prefixes cannot route: an event's waiting room is the queue's, not the
# tickets service's (which has /api/events).
ROOM_PATHS = ["/api/events/0193c1f2-7b0e-7000-8000-000000000001/room",
              "/api/events/0193c1f2-7b0e-7000-8000-000000000001/room/events"]


def nginx_regex_route(path):
    """The service the local ingress's regular-expression locations send `path` to."""
    template = (REPO / "deploy" / "nginx" / "boxoffice.conf.template").read_text()
    for pattern, service in re.findall(r"location\s+~\s+(\S+)\s*\{\s*proxy_pass http://(\w+);", template):
        if re.search(pattern, path):
            return service
    return None


def regex_route(regexes, path):
    """The backend of the first of `regexes` ({pattern: backend}) matching `path`."""
    for pattern, backend in regexes.items():
        if re.search(pattern if pattern.startswith("^") else "^" + pattern, path):
            return backend
    return None


RENDERED = render_all()


def objects(variant, kind):
    return {d["metadata"]["name"]: d for d in RENDERED[variant] if d["kind"] == kind}


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


class Deployments(unittest.TestCase):
    def each(self):
        for variant in RENDERED:
            deployments = objects(variant, "Deployment")
            for service in SERVICES:
                with self.subTest(variant=variant, service=service):
                    name = f"boxoffice-{service}"
                    self.assertIn(name, deployments)
                    yield variant, service, deployments[name]

    def test_every_service_runs_serve_with_its_name(self):
        for _, service, dep in self.each():
            (container,) = dep["spec"]["template"]["spec"]["containers"]
            self.assertEqual(container["args"], ["serve", service])
            self.assertNotIn("command", container)  # the image's ENTRYPOINT is the binary

    def test_probes(self):
        for _, _, dep in self.each():
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            port_names = {p["name"] for p in c["ports"]}
            self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz")
            self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
            startup = c["startupProbe"]
            self.assertEqual(startup["httpGet"]["path"], "/healthz")
            # Migrations may take a while: at least two minutes before liveness takes over.
            self.assertGreaterEqual(startup["periodSeconds"] * startup["failureThreshold"], 120)
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                self.assertIn(c[probe]["httpGet"]["port"], port_names)

    def test_resources(self):
        for _, _, dep in self.each():
            (c,) = dep["spec"]["template"]["spec"]["containers"]
            for side in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    self.assertIn(resource, c["resources"][side], side)

    def test_security_context(self):
        for _, _, dep in self.each():
            pod = dep["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            psc, sc = pod.get("securityContext", {}), c["securityContext"]
            self.assertTrue(sc.get("runAsNonRoot", psc.get("runAsNonRoot")))
            self.assertNotEqual(sc.get("runAsUser", psc.get("runAsUser")), 0)
            self.assertIs(sc["allowPrivilegeEscalation"], False)
            self.assertIs(sc["readOnlyRootFilesystem"], True)
            self.assertIn("ALL", sc["capabilities"]["drop"])
            self.assertFalse(sc.get("capabilities", {}).get("add"))
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile"))
            self.assertEqual(seccomp, {"type": "RuntimeDefault"})
            self.assertIs(pod.get("automountServiceAccountToken"), False)
            # A read-only root needs somewhere to write temporary files.
            volumes = {v["name"]: v for v in pod["volumes"]}
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            self.assertEqual(len(tmp), 1)
            self.assertIn("emptyDir", volumes[tmp[0]["name"]])

    def test_graceful_termination_leaves_time_for_live_feeds(self):
        for _, service, dep in self.each():
            grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            self.assertGreaterEqual(grace, 90 if service == "queue" else 30)

    def test_labels(self):
        for variant, service, dep in self.each():
            for labels in (dep["metadata"]["labels"], dep["spec"]["template"]["metadata"]["labels"]):
                for label in LABELS:
                    self.assertIn(label, labels)
                self.assertEqual(labels["app.kubernetes.io/component"], service)
                self.assertEqual(labels["app.kubernetes.io/instance"], f"boxoffice-{variant.split('-')[0]}")
            self.assertTrue(selects(dep["spec"]["selector"]["matchLabels"],
                                    dep["spec"]["template"]["metadata"]["labels"]))

    def test_prod_runs_several_replicas(self):
        for variant, _, dep in self.each():
            if variant.startswith("prod"):
                self.assertGreaterEqual(dep["spec"]["replicas"], 2)


class Configuration(unittest.TestCase):
    def test_contract_names_are_read_by_the_binary_and_documented(self):
        self.assertLessEqual(CONTRACT_NAMES, binary_env_names())
        self.assertLessEqual(CONTRACT_NAMES, documented_env_names())

    def test_every_config_map_key_is_a_known_name(self):
        known = binary_env_names() & documented_env_names()
        for variant in RENDERED:
            for name, cm in objects(variant, "ConfigMap").items():
                with self.subTest(variant=variant, config_map=name):
                    self.assertTrue(cm.get("data"))
                    self.assertLessEqual(set(cm["data"]), known)
                    self.assertFalse(set(cm["data"]) & SECRET_NAMES, "a secret in a ConfigMap")

    def test_containers_read_existing_config_maps_and_secrets_by_reference(self):
        known = binary_env_names()
        for variant in RENDERED:
            config_maps = objects(variant, "ConfigMap")
            for name, dep in objects(variant, "Deployment").items():
                (c,) = dep["spec"]["template"]["spec"]["containers"]
                with self.subTest(variant=variant, deployment=name):
                    refs = [e["configMapRef"]["name"] for e in c["envFrom"]]
                    self.assertTrue(refs)
                    for ref in refs:
                        self.assertIn(ref, config_maps)
                    cm_keys = set().union(*(config_maps[r]["data"] for r in refs))
                    self.assertEqual(cm_keys & {"HOST", "PORT"}, {"HOST", "PORT"})
                    self.assertEqual(config_maps[refs[0]]["data"]["HOST"], "0.0.0.0")
                    for env in c.get("env", []):
                        if env["name"] == "POD_IP":
                            # The downward API: the pod's own address, which a queue
                            # replica advertises for room requests passed on to it.
                            self.assertEqual(env["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP")
                            continue
                        self.assertIn(env["name"], known)
                        if env["name"] == "ROOM_ADVERTISE_URL":
                            port = c["ports"][0]["containerPort"]
                            self.assertEqual(env["value"], f"http://$(POD_IP):{port}")
                            continue
                        self.assertNotIn("value", env, f"{env['name']}: literal value")
                        ref = env["valueFrom"]["secretKeyRef"]
                        self.assertEqual(ref["name"], SECRET_OBJECT)
                        self.assertIn(ref["key"], SECRET_KEYS)

    def test_each_service_gets_what_it_needs(self):
        for variant in RENDERED:
            config_maps = objects(variant, "ConfigMap")
            for service in SERVICES:
                dep = objects(variant, "Deployment")[f"boxoffice-{service}"]
                (c,) = dep["spec"]["template"]["spec"]["containers"]
                names = {e["name"] for e in c.get("env", [])}
                for r in c["envFrom"]:
                    names |= set(config_maps[r["configMapRef"]["name"]]["data"])
                with self.subTest(variant=variant, service=service):
                    if service != "web":
                        self.assertIn("JWT_KEY", names)
                    if service in DATABASE_SERVICES:
                        self.assertIn("DATABASE_URL", names)
                    if service != "web":
                        self.assertIn("NATS_URL", names)
                    if service == "queue":
                        self.assertIn("REDIS_URL", names)
                        self.assertIn("ROOM_ADVERTISE_URL", names)
                    if service in ("orders", "queue"):
                        self.assertIn("ROOM_ADMISSION_KEY", names)
                    if service == "payments":
                        self.assertIn("STRIPE_WEBHOOK_SECRET", names)
                    if service == "web":
                        self.assertIn("API_URL", names)

    def test_no_secret_object_with_data_anywhere_in_the_repository(self):
        for variant in RENDERED:
            self.assertFalse(objects(variant, "Secret"), variant)
        for path in list((REPO / "deploy").rglob("*.y*ml")) + [REPO / "compose.yaml"]:
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "Secret":
                    self.assertFalse(doc.get("data") or doc.get("stringData"), path)


class ServicesAndDisruption(unittest.TestCase):
    def test_every_deployment_has_a_service_and_a_pdb_selecting_its_pods(self):
        for variant in RENDERED:
            services = objects(variant, "Service")
            pdbs = objects(variant, "PodDisruptionBudget")
            for name, dep in objects(variant, "Deployment").items():
                pod_labels = dep["spec"]["template"]["metadata"]["labels"]
                (c,) = dep["spec"]["template"]["spec"]["containers"]
                with self.subTest(variant=variant, deployment=name):
                    svc = services[name]
                    self.assertTrue(selects(svc["spec"]["selector"], pod_labels))
                    self.assertIn("app.kubernetes.io/instance", svc["spec"]["selector"])
                    for port in svc["spec"]["ports"]:
                        self.assertIn(port["targetPort"], {p["name"] for p in c["ports"]})
                    pdb = pdbs[name]
                    self.assertTrue(selects(pdb["spec"]["selector"]["matchLabels"], pod_labels))
                    if variant.startswith("prod"):
                        self.assertIn("minAvailable", pdb["spec"])
                    else:
                        # One replica: a minimum would block every node drain.
                        self.assertNotIn("minAvailable", pdb["spec"])

    def test_http_services_autoscale_in_prod(self):
        for variant in RENDERED:
            hpas = objects(variant, "HorizontalPodAutoscaler")
            if not variant.startswith("prod"):
                self.assertFalse(hpas, variant)
                continue
            for service in HTTP_SERVICES:
                with self.subTest(variant=variant, service=service):
                    hpa = hpas[f"boxoffice-{service}"]
                    self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
                    target = hpa["spec"]["scaleTargetRef"]
                    self.assertEqual((target["kind"], target["name"]), ("Deployment", f"boxoffice-{service}"))
                    self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
                    self.assertGreater(hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"])
                    self.assertTrue(hpa["spec"]["metrics"])


class Routing(unittest.TestCase):
    def backends(self, variant):
        services = objects(variant, "Service")
        return {name: {p["port"] for p in s["spec"]["ports"]} | {p.get("name") for p in s["spec"]["ports"]}
                for name, s in services.items()}

    def test_httproute_required_fields_and_backends(self):
        for variant in ("dev", "prod"):
            routes = objects(variant, "HTTPRoute")
            gateways = objects(variant, "Gateway")
            self.assertIn("boxoffice", routes)
            backends = self.backends(variant)
            for gw in gateways.values():
                self.assertEqual(gw["apiVersion"], "gateway.networking.k8s.io/v1")
                self.assertTrue(gw["spec"]["gatewayClassName"])
                self.assertTrue(gw["spec"]["listeners"])
            for name, route in routes.items():
                with self.subTest(variant=variant, route=name):
                    self.assertEqual(route["apiVersion"], "gateway.networking.k8s.io/v1")
                    spec = route["spec"]
                    self.assertTrue(spec["parentRefs"])
                    for parent in spec["parentRefs"]:
                        gw = gateways[parent["name"]]
                        listeners = {l["name"] for l in gw["spec"]["listeners"]}
                        if "sectionName" in parent:
                            self.assertIn(parent["sectionName"], listeners)
                    self.assertTrue(spec["rules"])
                    for rule in spec["rules"]:
                        redirect = any(f["type"] == "RequestRedirect" for f in rule.get("filters", []))
                        self.assertTrue(rule.get("backendRefs") or redirect)
                        for ref in rule.get("backendRefs", []):
                            self.assertIn(ref["name"], backends)
                            self.assertIn(ref["port"], backends[ref["name"]])

    def test_httproute_routes_like_the_nginx_ingress(self):
        for variant in ("dev", "prod"):
            route = objects(variant, "HTTPRoute")["boxoffice"]
            table, regexes = {}, {}
            for rule in route["spec"]["rules"]:
                for match in rule["matches"]:
                    if match["path"]["type"] == "RegularExpression":
                        regexes[match["path"]["value"]] = rule["backendRefs"][0]["name"]
                        continue
                    self.assertEqual(match["path"]["type"], "PathPrefix")
                    table[match["path"]["value"]] = rule["backendRefs"][0]["name"]
            for prefix, service in nginx_routes().items():
                self.assertEqual(table.get(prefix), f"boxoffice-{service}", prefix)
            for path in ROOM_PATHS:
                self.assertEqual(regex_route(regexes, path), f"boxoffice-{nginx_regex_route(path)}", path)

    def test_the_queue_feed_is_not_buffered_nor_cut(self):
        for variant in ("dev", "prod"):
            route = objects(variant, "HTTPRoute")["boxoffice"]
            (rule,) = [r for r in route["spec"]["rules"]
                       if any(m["path"]["value"] == "/api/queue" for m in r["matches"])]
            headers = [h for f in rule["filters"] if f["type"] == "ResponseHeaderModifier"
                       for h in f["responseHeaderModifier"]["set"]]
            self.assertIn({"name": "X-Accel-Buffering", "value": "no"}, headers)
            self.assertEqual(rule["timeouts"]["request"], "0s")

    def test_ingress_alternative_routes_like_the_nginx_ingress(self):
        ingresses = objects("prod-ingress", "Ingress")
        self.assertFalse(objects("prod-ingress", "HTTPRoute"))
        backends = self.backends("prod-ingress")
        table = {}
        for ing in ingresses.values():
            for rule in ing["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    svc = path["backend"]["service"]
                    self.assertIn(svc["name"], backends)
                    self.assertIn(svc["port"].get("name", svc["port"].get("number")), backends[svc["name"]])
                    table[path["path"]] = svc["name"]
        for prefix, service in nginx_routes().items():
            self.assertEqual(table.get(prefix), f"boxoffice-{service}", prefix)
        regexes = {path: svc for path, svc in table.items() if "[" in path}
        for path in ROOM_PATHS:
            self.assertEqual(regex_route(regexes, path), f"boxoffice-{nginx_regex_route(path)}", path)
        queue = ingresses["boxoffice-queue"]["metadata"]["annotations"]
        self.assertEqual(queue["nginx.ingress.kubernetes.io/proxy-buffering"], "off")


class Postgres(unittest.TestCase):
    def test_cnpg_cluster_and_one_database_per_service(self):
        for variant in RENDERED:
            (cluster,) = objects(variant, "Cluster").values()
            with self.subTest(variant=variant):
                self.assertEqual(cluster["apiVersion"], "postgresql.cnpg.io/v1")
                spec = cluster["spec"]
                self.assertIsInstance(spec["instances"], int)
                self.assertGreaterEqual(spec["instances"], 3 if variant.startswith("prod") else 1)
                self.assertTrue(spec["storage"]["size"])
                initdb = spec["bootstrap"]["initdb"]
                databases = {initdb["database"]: initdb["owner"]}
                for db in objects(variant, "Database").values():
                    self.assertEqual(db["apiVersion"], "postgresql.cnpg.io/v1")
                    self.assertEqual(db["spec"]["cluster"]["name"], cluster["metadata"]["name"])
                    databases[db["spec"]["name"]] = db["spec"]["owner"]
                self.assertEqual(set(databases), {f"boxoffice_{s}" for s in DATABASE_SERVICES})
                self.assertEqual(set(databases.values()), {"boxoffice"})


if __name__ == "__main__":
    unittest.main()
