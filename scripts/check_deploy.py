#!/usr/bin/env python3
"""Static checks of the deployment files: docker-compose.yml, deploy/Dockerfile, deploy/nginx.conf.

Run through scripts/check-deploy (which works from any directory). Docker cannot run on the
development machines, so nothing is built or started; nginx is only asked to test its configuration.
Prints one line per check and, last, `check-deploy: N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPOSE = "docker-compose.yml"
DOCKERFILE = "deploy/Dockerfile"
NGINX_CONF = "deploy/nginx.conf"
README = "deploy/README.md"

IMAGE = "profile-builder:latest"
PRODUCTS = ("collector", "profile-engine", "profile-api")
REQUIRED_SERVICES = ("postgres", "migrate", "collector-1", "collector-2", "lb", "profile-engine", "profile-api")
# Long-running Swift services: executable and the port variable/value they listen on.
SERVING = {
    "collector-1": ("collector", "COLLECTOR_PORT", "8080"),
    "collector-2": ("collector", "COLLECTOR_PORT", "8080"),
    "profile-engine": ("profile-engine", "ENGINE_PORT", "8082"),
    "profile-api": ("profile-api", "API_PORT", "8081"),
}
SWIFT_SERVICES = ("migrate",) + tuple(SERVING)
FORWARDED_HEADERS = ("X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto", "Host")
NGINX_INSTALL_HINT = "apt-get update && apt-get install -y nginx-light   (or: apt-get install -y nginx)"


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, problems: list[str] | str | None) -> bool:
        """Records one check; `problems` empty or None means it passed."""
        if isinstance(problems, str):
            problems = [problems]
        if problems:
            self.failed += 1
            print(f"FAIL {name}")
            for problem in problems:
                print(f"     - {problem}")
            return False
        self.passed += 1
        print(f"ok   {name}")
        return True


def read(path: str) -> str | None:
    try:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


# ---------------------------------------------------------------- compose helpers

def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        env = {p[0]: (p[1] if len(p) > 1 else None) for p in pairs}
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def words(value) -> list[str]:
    """A command or healthcheck test (string or list) as a list of words."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def container_ports(service: dict) -> list[str]:
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.append(str(port.get("target")))
        else:
            ports.append(str(port).rsplit("/", 1)[0].rsplit(":", 1)[-1])
    return ports


def bind_mounts(service: dict) -> dict[str, str]:
    """target -> normalised source path of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume.get("target")
        else:
            parts = str(volume).split(":")
            if len(parts) < 2:
                continue
            source, target = parts[0], parts[1]
        if source and target and (source.startswith(".") or source.startswith("/")):
            mounts[target] = os.path.normpath(source)
    return mounts


def check_compose(c: Checks) -> dict:
    try:
        import yaml
    except ImportError:
        c.check(f"{COMPOSE} parses as YAML", "PyYAML is missing: pip install pyyaml (or apt-get install -y python3-yaml)")
        return {}
    text = read(COMPOSE)
    if text is None:
        c.check(f"{COMPOSE} parses as YAML", f"{COMPOSE} not found")
        return {}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        c.check(f"{COMPOSE} parses as YAML", str(error))
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        c.check(f"{COMPOSE} parses as YAML", "no `services:` mapping at the top level")
        return {}
    c.check(f"{COMPOSE} parses as YAML", None)
    services = doc["services"]

    missing = [s for s in REQUIRED_SERVICES if s not in services]
    c.check("compose has services " + ", ".join(REQUIRED_SERVICES), [f"missing service {s}" for s in missing])

    # postgres
    pg = services.get("postgres") or {}
    problems = []
    if not str(pg.get("image", "")).startswith("postgres:15"):
        problems.append(f"image is {pg.get('image')!r}, expected postgres:15")
    pg_env = env_of(pg)
    problems += [f"environment lacks {v}" for v in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB") if v not in pg_env]
    named_volumes = doc.get("volumes") or {}
    data_volumes = [str(v).split(":")[0] for v in pg.get("volumes") or [] if not isinstance(v, dict)]
    data_volumes += [v.get("source") for v in pg.get("volumes") or [] if isinstance(v, dict)]
    if not any(v in named_volumes for v in data_volumes):
        problems.append("no named volume (declared under top-level `volumes:`) for the data directory")
    if "pg_isready" not in " ".join(words((pg.get("healthcheck") or {}).get("test"))):
        problems.append("healthcheck does not run pg_isready")
    c.check("postgres: postgres:15, named volume, POSTGRES_* env, pg_isready healthcheck", problems)

    # the image: one build, shared
    problems = []
    builders = [name for name in SWIFT_SERVICES if (services.get(name) or {}).get("build")]
    for name in SWIFT_SERVICES:
        svc = services.get(name) or {}
        if svc.get("image") != IMAGE:
            problems.append(f"{name}: image is {svc.get('image')!r}, expected {IMAGE}")
        if name not in builders and svc.get("pull_policy") != "never":
            problems.append(f"{name}: uses the locally built image but pull_policy is not `never`")
    if len(builders) != 1:
        problems.append(f"exactly one Swift service should build the image, found {builders or 'none'}")
    for name in builders:
        build = services[name]["build"]
        build = {"context": build} if isinstance(build, str) else build
        if os.path.normpath(str(build.get("context", "."))) != ".":
            problems.append(f"{name}: build context should be the repository root")
        if os.path.normpath(str(build.get("dockerfile", ""))) != DOCKERFILE:
            problems.append(f"{name}: build.dockerfile should be {DOCKERFILE}")
    c.check(f"Swift services share one image ({IMAGE}) built once from {DOCKERFILE}", problems)

    # environment of every Swift service
    problems = []
    for name in SWIFT_SERVICES:
        env = env_of(services.get(name) or {})
        url = env.get("DATABASE_URL", "")
        if not re.match(r"^postgres(ql)?://[^@]+@postgres:5432/\S+$", url):
            problems.append(f"{name}: DATABASE_URL {url!r} is not postgres://user:password@postgres:5432/db")
        if env.get("BIND_HOST") != "0.0.0.0":
            problems.append(f"{name}: BIND_HOST is {env.get('BIND_HOST')!r}, expected 0.0.0.0")
        # Each service connects as its own role (sql/0016); migrate as the owner, setting the roles' passwords.
        role = {"collector": "pb_collector", "profile-engine": "pb_engine", "profile-api": "pb_api"}.get(
            "collector" if name.startswith("collector") else name)
        user = re.sub(r"^postgres(ql)?://([^:@]+).*$", r"\2", url)
        if role and user != role:
            problems.append(f"{name}: connects as {user!r}, not its own role {role}")
        if name == "migrate":
            problems += [f"migrate: lacks {v}" for v in ("PB_COLLECTOR_PASSWORD", "PB_ENGINE_PASSWORD", "PB_API_PASSWORD",
                                                          "PB_ANALYST_PASSWORD") if v not in env]
    c.check("Swift services: DATABASE_URL points at postgres as the service's own role, BIND_HOST=0.0.0.0", problems)

    # migrate
    mig = services.get("migrate") or {}
    problems = []
    if words(mig.get("command")) != ["collector", "migrate"]:
        problems.append(f"command is {mig.get('command')!r}, expected collector migrate")
    if depends(mig).get("postgres") != "service_healthy":
        problems.append("does not depend on postgres being service_healthy")
    if str(mig.get("restart", "no")) != "no":
        problems.append("a one-shot must not restart (restart: \"no\"), or dependants never see it complete")
    c.check("migrate: one-shot `collector migrate` after postgres is healthy", problems)

    # long-running Swift services
    for name, (exe, port_var, port) in SERVING.items():
        svc = services.get(name) or {}
        env = env_of(svc)
        problems = []
        if words(svc.get("command"))[:2] != [exe, "serve"]:
            problems.append(f"command is {svc.get('command')!r}, expected {exe} serve")
        if env.get(port_var) != port:
            problems.append(f"{port_var} is {env.get(port_var)!r}, expected {port}")
        health = svc.get("healthcheck") or {}
        test = " ".join(words(health.get("test")))
        if health.get("disable") or f":{port}/ready" not in test:
            problems.append(f"healthcheck {test!r} does not probe http://...:{port}/ready")
        if depends(svc).get("migrate") != "service_completed_successfully":
            problems.append("does not depend on migrate being service_completed_successfully")
        if svc.get("restart") != "unless-stopped":
            problems.append(f"restart is {svc.get('restart')!r}, expected unless-stopped")
        if str(svc.get("stop_grace_period")) != "10s":
            problems.append(f"stop_grace_period is {svc.get('stop_grace_period')!r}, expected 10s")
        c.check(f"{name}: `{exe} serve` on {port}, /ready healthcheck, after migrate, restart policy", problems)

    # collectors trust the compose network
    subnets = []
    for network in (doc.get("networks") or {}).values():
        for pool in (((network or {}).get("ipam") or {}).get("config") or []):
            if pool.get("subnet"):
                subnets.append(str(pool["subnet"]))
    problems = [] if subnets else ["no network with a fixed ipam subnet to trust"]
    for name in (s for s in services if re.fullmatch(r"collector-\d+", s)):
        trusted = [t.strip() for t in env_of(services[name]).get("TRUSTED_PROXIES", "").split(",") if t.strip()]
        if not trusted or not set(subnets) & set(trusted):
            problems.append(f"{name}: TRUSTED_PROXIES {trusted} does not include the network subnet {subnets}")
    c.check("collectors: TRUSTED_PROXIES is the compose network's subnet", problems)

    # published ports
    problems = []
    if "8081" not in container_ports(services.get("profile-api") or {}):
        problems.append("profile-api does not publish 8081")
    for name in (s for s in services if re.fullmatch(r"collector-\d+", s)):
        if container_ports(services[name]):
            problems.append(f"{name} publishes a port; collectors are reached through lb only")
    c.check("profile-api publishes 8081; collectors only behind lb", problems)

    # load balancer
    lb = services.get("lb") or {}
    problems = []
    if not str(lb.get("image", "")).startswith("nginx"):
        problems.append(f"image is {lb.get('image')!r}, expected nginx")
    if bind_mounts(lb).get("/etc/nginx/nginx.conf") != os.path.normpath(NGINX_CONF):
        problems.append(f"does not mount ./{NGINX_CONF} at /etc/nginx/nginx.conf")
    if "8080" not in container_ports(lb):
        problems.append("does not publish 8080")
    collectors = {s for s in services if re.fullmatch(r"collector-\d+", s)}
    if not collectors <= set(depends(lb)):
        problems.append(f"does not depend on every collector ({sorted(collectors - set(depends(lb)))})")
    c.check(f"lb: nginx with {NGINX_CONF} mounted, publishes 8080, after the collectors", problems)
    return doc


# ---------------------------------------------------------------- Dockerfile

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuations joined and comments dropped."""
    result, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full:
            keyword, _, args = full.partition(" ")
            result.append((keyword.upper(), args.strip()))
    if pending.strip():
        keyword, _, args = pending.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def instruction_words(args: str) -> list[str]:
    """Arguments of an instruction in JSON (exec) or shell form, as words."""
    if args.startswith("["):
        try:
            return [str(w) for w in json.loads(args)]
        except ValueError:
            pass
    return shlex.split(args)


def copy_parts(args: str) -> tuple[dict[str, str], list[str], str]:
    """Flags, sources and destination of a COPY/ADD."""
    flags = {}
    while args.startswith("--"):
        flag, _, args = args.partition(" ")
        key, _, value = flag[2:].partition("=")
        flags[key] = value
        args = args.strip()
    items = instruction_words(args)
    return flags, items[:-1], items[-1] if items else ""


def check_dockerfile(c: Checks) -> None:
    text = read(DOCKERFILE)
    if text is None:
        c.check(f"{DOCKERFILE} exists", f"{DOCKERFILE} not found")
        return
    instructions = dockerfile_instructions(text)
    stages: list[dict] = []
    pre_from_args = {}
    for keyword, args in instructions:
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": parts[0], "name": name, "body": []})
        elif stages:
            stages[-1]["body"].append((keyword, args))
        elif keyword == "ARG":
            key, _, value = args.partition("=")
            pre_from_args[key] = value
    if len(stages) < 2:
        c.check(f"{DOCKERFILE}: build and runtime stages", f"found {len(stages)} stage(s)")
        return

    # build stage
    build = next((s for s in stages if s["image"].startswith("swift:")), None)
    problems = []
    if build is None:
        problems.append("no stage FROM swift:...")
    else:
        if "${SWIFT_VERSION}" not in build["image"] or pre_from_args.get("SWIFT_VERSION") != "6.2":
            problems.append("the Swift image should come from ARG SWIFT_VERSION (default 6.2) declared before FROM")
        if not build["name"]:
            problems.append("the build stage has no name (FROM ... AS build)")
        runs = [a for k, a in build["body"] if k == "RUN"]
        compile_runs = [r for r in runs if "swift build" in r and "--show-bin-path" not in r]
        if not compile_runs:
            problems.append("no RUN swift build")
        for run in compile_runs:
            for flag in ("-c release", "--static-swift-stdlib"):
                if flag not in run:
                    problems.append(f"swift build lacks {flag}")
            for product in PRODUCTS:
                if not re.search(rf"(?<![\w-]){re.escape(product)}(?![\w-])", run):
                    problems.append(f"swift build does not name the product {product}")
        # layer caching: the manifest alone, resolve, then the sources
        order = [(k, a) for k, a in build["body"] if k in ("COPY", "RUN")]
        resolve_at = next((i for i, (k, a) in enumerate(order) if k == "RUN" and "swift package resolve" in a), None)
        if resolve_at is None:
            problems.append("no RUN swift package resolve")
        else:
            before = [copy_parts(a)[1] for k, a in order[:resolve_at] if k == "COPY"]
            if not before or any(not all(os.path.basename(s).startswith("Package.") for s in srcs) for srcs in before):
                problems.append("only Package.* should be copied before swift package resolve (layer caching)")
        # every directory the manifest names must reach the build stage
        copied = set()
        for k, a in build["body"]:
            if k == "COPY":
                flags, sources, _ = copy_parts(a)
                if "from" not in flags:
                    copied.update(os.path.normpath(s).split(os.sep)[0] for s in sources)
        manifest = read("Package.swift") or ""
        for path in sorted(set(re.findall(r'\bpath:\s*"([^"]+)"', manifest))):
            top = os.path.normpath(path).split(os.sep)[0]
            if top not in copied and "." not in copied:
                problems.append(f"Package.swift uses {path}, but {top}/ is not copied into the build stage")
    c.check(f"{DOCKERFILE}: build stage (swift:${{SWIFT_VERSION}}, resolve layer, release static build of 3 products)", problems)

    # runtime stage
    runtime = stages[-1]
    body = runtime["body"]
    problems = []
    if runtime is build:
        problems.append("the last stage is the build stage")
    if "slim" not in runtime["image"]:
        problems.append(f"runtime image {runtime['image']} is not a slim image")
    copies = [copy_parts(a) for k, a in body if k == "COPY"]
    if build is not None and not any(f.get("from") in (build["name"], str(stages.index(build))) for f, _, _ in copies):
        problems.append("nothing is copied from the build stage")
    targets = {}
    for flags, sources, dest in copies:
        if "from" not in flags:
            for source in sources:
                targets[os.path.normpath(source)] = dest
    for directory in ("sql", "config", "web"):
        if directory not in targets:
            problems.append(f"{directory}/ is not copied into the runtime image")
        elif not targets[directory].rstrip("/").startswith("/app"):
            problems.append(f"{directory}/ is copied to {targets[directory]}, not under /app")
    workdirs = [a for k, a in body if k == "WORKDIR"]
    if not workdirs or workdirs[-1] != "/app":
        problems.append("WORKDIR is not /app")
    users = [a for k, a in body if k == "USER"]
    if not users:
        problems.append("no USER: the runtime runs as root")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"USER {users[-1]} is root")
    health = [a for k, a in body if k == "HEALTHCHECK"]
    if not health or "/ready" not in health[-1]:
        problems.append("no HEALTHCHECK probing /ready")
    installs = " ".join(a for k, a in body if k == "RUN" and "apt-get" in a)
    for package in ("ca-certificates", "tzdata", "curl"):
        if not re.search(rf"(?<![\w-]){package}(?![\w-])", installs):
            problems.append(f"{package} is not installed (needed by Foundation / the healthchecks)")
    cmd = [a for k, a in body if k == "CMD"]
    if not cmd or instruction_words(cmd[-1])[:2] != ["collector", "serve"]:
        problems.append("default CMD is not `collector serve`")
    c.check(f"{DOCKERFILE}: slim runtime stage, non-root, /app with sql/ config/ web/, /ready healthcheck, CMD collector serve", problems)

    # every COPY source from the context exists
    problems = []
    for stage in stages:
        for k, a in stage["body"]:
            if k in ("COPY", "ADD"):
                flags, sources, _ = copy_parts(a)
                if "from" in flags:
                    continue
                for source in sources:
                    if not glob.glob(os.path.join(ROOT, source)):
                        problems.append(f"{k} {source}: no such file or directory in the repository")
    c.check(f"{DOCKERFILE}: every COPY source exists in the repository", problems)


# ---------------------------------------------------------------- nginx

def strip_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        out, quote = [], None
        for ch in line:
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                break
            out.append(ch)
        lines.append("".join(out))
    return "\n".join(lines)


def check_nginx(c: Checks, compose: dict) -> None:
    text = read(NGINX_CONF)
    if text is None:
        c.check(f"{NGINX_CONF} exists", f"{NGINX_CONF} not found")
        return
    conf = strip_comments(text)

    def has(pattern: str) -> bool:
        return re.search(pattern, conf, re.MULTILINE) is not None

    problems = []
    for directive in ("pid", "error_log"):
        if has(rf"^\s*{directive}\s"):
            problems.append(f"sets `{directive}`: leave it to the image (and to `nginx -t -g` here)")
    if not has(r"^\s*listen\s+(\S+:)?8080\b"):
        problems.append("does not listen on 8080")
    if not has(r"^\s*client_max_body_size\s+600k\s*;"):
        problems.append("client_max_body_size is not 600k")
    for header in FORWARDED_HEADERS:
        if not has(rf"^\s*proxy_set_header\s+{re.escape(header)}\s"):
            problems.append(f"does not set {header}")
    upstream = re.search(r"upstream\s+(\S+)\s*\{(.*?)\}", conf, re.DOTALL)
    if not upstream:
        problems.append("no upstream block")
    else:
        servers = set(re.findall(r"^\s*server\s+([^\s;]+)", upstream.group(2), re.MULTILINE))
        if not re.search(r"^\s*keepalive\s+\d+\s*;", upstream.group(2), re.MULTILINE):
            problems.append("the upstream has no keepalive pool")
        if not has(rf"proxy_pass\s+http://{re.escape(upstream.group(1))}\s*;"):
            problems.append(f"nothing proxies to the upstream {upstream.group(1)}")
        collectors = {f"{s}:8080" for s in (compose.get("services") or {}) if re.fullmatch(r"collector-\d+", s)}
        if compose and collectors != servers:
            problems.append(f"upstream servers {sorted(servers)} differ from the compose collectors {sorted(collectors)}")
    if not (has(r"^\s*proxy_http_version\s+1\.1\s*;") and has(r"^\s*proxy_set_header\s+Connection\s+\"\"\s*;")):
        problems.append("upstream keepalive needs proxy_http_version 1.1 and an empty Connection header")
    for timeout in ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"):
        if not has(rf"^\s*{timeout}\s"):
            problems.append(f"no {timeout}")
    if not has(r"location\s+=?\s*/nginx-health\s*\{"):
        problems.append("no /nginx-health location")
    c.check(f"{NGINX_CONF}: upstream of the collectors, headers, body limit, timeouts, /nginx-health", problems)

    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if nginx is None:
        c.check(f"nginx -t {NGINX_CONF}", f"nginx is not installed; install it with: {NGINX_INSTALL_HINT}")
        return
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as tmp:
        # The replica names only resolve inside Docker: point them at loopback for the test.
        rewritten = re.sub(r"(^\s*server\s+)(?!unix:)[A-Za-z][A-Za-z0-9.-]*(?=[:\s;])", r"\g<1>127.0.0.1",
                           text, flags=re.MULTILINE)
        test_conf = os.path.join(tmp, "nginx.conf")
        with open(test_conf, "w", encoding="utf-8") as f:
            f.write(rewritten)
        command = [nginx, "-t", "-q", "-p", tmp + "/", "-e", os.path.join(tmp, "error.log"), "-c", test_conf,
                   "-g", f"pid {tmp}/nginx.pid; error_log {tmp}/error.log;"]
        result = subprocess.run(command, capture_output=True, text=True)
        output = (result.stdout + result.stderr).strip().replace(tmp, "<tmp>")
        c.check(f"nginx -t {NGINX_CONF} (replica hosts pointed at 127.0.0.1)",
                None if result.returncode == 0 else (output.splitlines() or [f"exit {result.returncode}"]))


def main() -> int:
    c = Checks()
    compose: dict = {}
    for name, step in (("compose", lambda: check_compose(c)), ("Dockerfile", lambda: check_dockerfile(c)),
                       ("nginx", lambda: check_nginx(c, compose))):
        try:
            result = step()
            if name == "compose":
                compose = result
        except Exception as error:  # a malformed file must still end in a counted failure
            c.check(f"{name} checks ran to the end", f"{type(error).__name__}: {error}")
    c.check(f"{README} exists", None if read(README) else f"{README} not found")
    print(f"check-deploy: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
