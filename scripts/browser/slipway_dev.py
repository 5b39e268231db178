"""A real `slipway dev` for the browser tests: started on free ports with a
fresh data dir, its admin token read from that dir, and a small HTTP client
for the API calls that set the scene (apps, builds, tokens, promotions)."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

STARTUP_SECONDS = 30
STOP_SECONDS = 20  # slipway dev gives the apps' instances 10 s after SIGTERM


class SlipwayDev:
    """`slipway dev` in its own process group, so that stopping it also ends
    any instance it left behind."""

    def __init__(self, binary):
        self.binary = binary
        self.data = Path(tempfile.mkdtemp(prefix="slipway-browser-"))
        self.log_path = self.data / "slipway.log"
        self.process = None
        self.url = None
        self.token = None

    def start(self):
        env = dict(
            os.environ,
            SLIPWAY_DATA_DIR=str(self.data),
            SLIPWAY_LISTEN="127.0.0.1:0",
            SLIPWAY_ROUTER_LISTEN="127.0.0.1:0",
            SLIPWAY_RATE_LIMIT="0",
            RUST_LOG="warn",
        )
        for name in ("SLIPWAY_ADMIN_TOKEN", "SLIPWAY_SECRET_KEY"):
            env.pop(name, None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [self.binary, "dev"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while self.url is None:
            if self.process.poll() is not None:
                raise RuntimeError(f"slipway dev exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"slipway dev printed no API address:\n{self.log()}")
            found = re.search(r"^\s*API:\s+(http://\S+)$", self.log(), re.MULTILINE)
            if found:
                self.url = found.group(1)
            else:
                time.sleep(0.1)
        self.token = (self.data / "admin-token").read_text().strip()
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self):
        """SIGTERM, then SIGKILL to the whole group; the data dir goes too."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        subprocess.run(["rm", "-rf", str(self.data)], check=False)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def api(self, method, path, body=None, token=None):
        """One API call with the admin token (or `token`); the JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{method} {path}: {err.code} {err.read().decode()}") from None

    def build(self, app, manifest, **fields):
        """A build and its release; the release's id."""
        answer = self.api("POST", f"/apps/{app}/builds", {"manifest": manifest, **fields})
        return answer["release"]["id"]

    def wait_for_deployment(self, app, deployment, seconds=60):
        """The deployment's status once it has ended (or the last one seen)."""
        deadline = time.monotonic() + seconds
        while True:
            status = self.api("GET", f"/apps/{app}/deployments/{deployment}")["status"]
            if status in ("succeeded", "rolled_back", "failed", "cancelled"):
                return status
            if time.monotonic() > deadline:
                return status
            time.sleep(0.5)
