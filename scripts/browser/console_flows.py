"""The web console in a real headless Chromium, against a real `slipway dev`:
sign in, promote a healthy release and a crashing one, a `read` token's view,
a description that looks like a script, and sign out. Each flow saves a
screenshot under target/browser/. Prints `N passed, N failed` and exits 1
when any check failed.

Usage: console_flows.py SLIPWAY_BINARY [--docs-screenshot PATH]"""

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from slipway_dev import SlipwayDev

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path("target/browser")
DEPLOY_SECONDS = 60
PAGE_SECONDS = 10
ENDED = ("succeeded", "rolled_back", "failed", "cancelled")
# Health checked at once and every second, so that a rollout takes seconds.
HEALTH = {"path": "/", "grace": 1, "interval": 1, "timeout": 2}
HEALTHY = {"services": {"web": {"command": "python3 -m http.server $PORT", "port": 8000,
                                "health": HEALTH}}}
CRASHING = {"services": {"web": {"command": "exit 1", "port": 8000, "health": HEALTH}}}
SCRIPT = "<script>alert(1)</script>"


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class Console:
    """The browser, pointed at one `slipway dev`."""

    def __init__(self, dev, profile):
        options = Options()
        options.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=1280,800", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_window_size(1280, 800)
        self.dev = dev

    def open(self, path):
        self.driver.get(f"{self.dev.url}{path}")

    def path(self):
        return self.driver.current_url.removeprefix(self.dev.url)

    def click(self, element):
        """Clicks `element` and waits for the next page to replace this one
        (a form's navigation may still be under way when click returns)."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, PAGE_SECONDS).until(expected_conditions.staleness_of(page))

    def sign_in(self, token):
        """A fresh session for `token`, through the sign-in form."""
        self.driver.delete_all_cookies()
        self.open("/ui")
        check(self.path() == "/ui/signin", f"/ui without a session led to {self.path()}")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.click(self.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signin'] button"))
        check(self.path() in ("/ui", "/ui/"), f"signing in led to {self.path()}, not /ui")

    def heading(self):
        return self.driver.find_element(By.TAG_NAME, "h1").text

    def field(self, name):
        """The value beside `name` on a deployment page."""
        return self.driver.find_element(
            By.XPATH, f"//dt[normalize-space()='{name}']/following-sibling::dd[1]").text

    def release_row(self, release):
        rows = self.driver.find_elements(
            By.XPATH, f"//table//tr[td[1][normalize-space()='{release}']]")
        check(len(rows) == 1, f"release {release} is in {len(rows)} rows of the table")
        return rows[0]

    def promote(self, app, release):
        """Promote from the Releases tab, confirmed: the deployment's path."""
        self.open(f"/ui/apps/{app}/releases")
        self.click(self.release_row(release).find_element(By.LINK_TEXT, "Promote"))
        check(self.path() == f"/ui/apps/{app}/releases/{release}/promote",
              f"Promote led to {self.path()}")
        form = self.driver.find_element(By.CSS_SELECTOR, "form[action$='/promote']")
        self.click(form.find_element(By.CSS_SELECTOR, "button[type='submit']"))
        path = self.path()
        check(path.startswith(f"/ui/apps/{app}/deployments/"),
              f"confirming the promotion led to {path}")
        return path

    def wait_until_ended(self):
        """Reloads the deployment page until its status has ended."""
        deadline = time.monotonic() + DEPLOY_SECONDS
        while True:
            status = self.field("Status").split()[0]
            if status in ENDED or time.monotonic() > deadline:
                return status
            time.sleep(1)
            self.driver.refresh()

    def screenshot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def quit(self):
        self.driver.quit()


class Flows:
    def __init__(self, dev, console, docs_screenshot):
        self.dev, self.console, self.docs_screenshot = dev, console, docs_screenshot
        # The README's first try: a build and two env changes.
        dev.api("POST", "/apps", {"name": "myapp"})
        self.first = dev.build("myapp", HEALTHY, git_sha="7329df90c1abcdef",
                               git_message="this is my commit message")
        dev.api("PATCH", "/apps/myapp/env", {"set": {"FOO": "1", "BAR": "2"}})
        env = dev.api("PATCH", "/apps/myapp/env",
                      {"set": {"BAR": "3", "BAZ": "4"}, "unset": ["FOO"]})
        self.healthy = env["release"]["id"]
        # An app already running a healthy release, for the crash to roll back to.
        dev.api("POST", "/apps", {"name": "crashy"})
        running = dev.build("crashy", HEALTHY, description="a release that starts")
        promoted = dev.api("POST", f"/apps/crashy/releases/{running}/promote", {})
        self.crashy_setup = promoted["deployment"]["id"]
        self.crashing = dev.build("crashy", CRASHING, description="a release that exits at once")
        dev.api("POST", "/apps", {"name": "notes"})
        self.scripted = dev.build("notes", HEALTHY, description=SCRIPT)
        self.viewer_token = dev.api("POST", "/tokens", {"name": "viewer", "scope": "read"})["token"]

    def sign_in(self):
        c = self.console
        c.sign_in(self.dev.token)
        check(c.heading() == "Apps", f"the apps page's heading is {c.heading()!r}")
        links = c.driver.find_elements(By.LINK_TEXT, "myapp")
        check(len(links) == 1, f"the apps page has {len(links)} links named myapp")
        c.screenshot("sign_in")

    def promote_healthy(self):
        c = self.console
        c.sign_in(self.dev.token)
        c.promote("myapp", self.healthy)
        status = c.wait_until_ended()
        c.screenshot("promote_healthy")
        check(status == "succeeded", f"the deployment ended {status!r}, not succeeded")
        c.open("/ui/apps/myapp/releases")
        row = c.release_row(self.healthy)
        check(not row.find_elements(By.LINK_TEXT, "Promote"),
              "the active release still offers Promote")
        check(c.release_row(self.first).find_elements(By.LINK_TEXT, "Promote"),
              "the release that is not active offers no Promote")
        c.screenshot("releases")
        if self.docs_screenshot:
            shutil.copyfile(SHOTS / "releases.png", self.docs_screenshot)

    def promote_crashing(self):
        c = self.console
        setup = self.dev.wait_for_deployment("crashy", self.crashy_setup, DEPLOY_SECONDS)
        check(setup == "succeeded", f"crashy's first release ended {setup!r} (set-up)")
        c.sign_in(self.dev.token)
        c.promote("crashy", self.crashing)
        status = c.wait_until_ended()
        c.screenshot("promote_crashing")
        check(status == "rolled_back", f"the deployment ended {status!r}, not rolled_back")
        reason = c.field("Reason")
        check("before it was healthy" in reason or "exited" in reason,
              f"the reason does not say the instance exited: {reason!r}")

    def read_token(self):
        c = self.console
        c.sign_in(self.viewer_token)
        c.open("/ui/apps/myapp/releases")
        check(c.heading() == "Releases", f"the Releases tab's heading is {c.heading()!r}")
        c.release_row(self.first)
        buttons = c.driver.find_elements(By.LINK_TEXT, "Promote")
        c.screenshot("read_token")
        check(not buttons, f"a read token sees {len(buttons)} Promote buttons")
        c.open(f"/ui/apps/myapp/releases/{self.first}/promote")
        check(not c.driver.find_elements(By.CSS_SELECTOR, "form[action$='/promote']"),
              "a read token reaches the promote confirmation's form")

    def script_description(self):
        c = self.console
        c.sign_in(self.dev.token)
        c.open("/ui/apps/notes/releases")
        row = c.release_row(self.scripted)
        cells = row.find_elements(By.TAG_NAME, "td")
        check(any(cell.text == SCRIPT for cell in cells),
              f"no cell shows the description literally: {[cell.text for cell in cells]}")
        check(not c.driver.find_elements(By.CSS_SELECTOR, "main script"),
              "the description became a script element")
        c.screenshot("script_description")
        try:
            alert = c.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise CheckFailed(f"an alert opened: {text!r}")
        except NoAlertPresentException:
            pass

    def sign_out(self):
        c = self.console
        c.sign_in(self.dev.token)
        c.click(c.driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signout'] button"))
        check(c.path() == "/ui/signin", f"signing out led to {c.path()}")
        c.screenshot("sign_out")
        c.open("/ui")
        check(c.path() == "/ui/signin", f"/ui after signing out led to {c.path()}")
        c.open("/ui/apps/myapp/releases")
        check(c.path() == "/ui/signin", f"the Releases tab after signing out led to {c.path()}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--docs-screenshot")
    args = parser.parse_args()

    dev = SlipwayDev(args.binary)
    profile = tempfile.mkdtemp(prefix="slipway-chromium-")
    console = None
    passed, failed = [], []
    try:
        dev.start()
        print(f"slipway dev at {dev.url}")
        console = Console(dev, profile)
        flows = Flows(dev, console, args.docs_screenshot)
        for flow in (flows.sign_in, flows.promote_healthy, flows.promote_crashing,
                     flows.read_token, flows.script_description, flows.sign_out):
            started = time.monotonic()
            try:
                flow()
            except Exception as err:  # noqa: BLE001 - every failure is reported
                failed.append(flow.__name__)
                detail = str(err) if isinstance(err, CheckFailed) else traceback.format_exc()
                print(f"FAIL {flow.__name__}: {detail}")
                try:
                    console.screenshot(f"{flow.__name__}-failed")
                except Exception:  # noqa: BLE001 - the browser may be gone
                    pass
            else:
                passed.append(flow.__name__)
                print(f"ok   {flow.__name__} ({time.monotonic() - started:.1f} s)")
    except Exception:  # noqa: BLE001 - set-up failed: no flow ran
        traceback.print_exc()
        failed.append("setup")
    finally:
        if console is not None:
            console.quit()
        if failed:
            print("--- slipway dev log (last 40 lines)")
            print("\n".join(dev.log().splitlines()[-40:]))
        dev.stop()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
