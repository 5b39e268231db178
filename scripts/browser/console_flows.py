"""The web console in a real headless Chromium, against a real `slipway dev`:
sign in, promote a healthy release and a crashing one, a `read` token's view,
a description that looks like a script, sign out; then the Environment tab's
Apply Changes, a crash and a Cancel followed live on the deployment page
(no reload), the latest-is-not-active warning and the Deployments tab. Each
flow saves a screenshot under target/browser/. Prints `N passed, N failed`
and exits 1 when any check failed.

Usage: console_flows.py SLIPWAY_BINARY [--docs-screenshot PATH]"""

import argparse
import shutil
import sys
import tempfile
import time
import traceback

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from console import (DEPLOY_SECONDS, ENDED, PAGE_SECONDS, SHOTS, CheckFailed, Console,
                     check, replaced)
from slipway_dev import SlipwayDev

# Health checked at once and every second, so that a rollout takes seconds.
HEALTH = {"path": "/", "grace": 1, "interval": 1, "timeout": 2}
HEALTHY = {"services": {"web": {"command": "python3 -m http.server $PORT", "port": 8000,
                                "health": HEALTH}}}
CRASHING = {"services": {"web": {"command": "exit 1", "port": 8000, "health": HEALTH}}}
# Exits a little later, so that the deployment page is loaded while it runs.
CRASHING_LATER = {"services": {"web": {"command": "sleep 3; exit 1", "port": 8000,
                                       "health": HEALTH}}}
# Serves, but its health path is a 404: it never gets healthy (the default
# deadline is 10 minutes), until cancelled.
NEVER_HEALTHY = {"services": {"web": {"command": "python3 -m http.server $PORT", "port": 8000,
                                      "health": dict(HEALTH, path="/nope")}}}
SCRIPT = "<script>alert(1)</script>"


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
        self.crashing_later = dev.build("crashy", CRASHING_LATER,
                                        description="a release that exits after 3 s")
        self.crash_deployments = [self.crashy_setup]
        # An app running a healthy release, and one that never gets healthy.
        dev.api("POST", "/apps", {"name": "stuck"})
        running = dev.build("stuck", HEALTHY, description="a release that starts")
        promoted = dev.api("POST", f"/apps/stuck/releases/{running}/promote", {})
        self.stuck_setup = promoted["deployment"]["id"]
        self.never_healthy = dev.build("stuck", NEVER_HEALTHY,
                                       description="a release whose health path is a 404")

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
        path = c.promote("crashy", self.crashing)
        self.crash_deployments.append(path.rsplit("/", 1)[1])
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

    def apply_changes(self):
        """Environment tab: add GREETING, change BAR, Apply Changes; the
        preview names the description; the deployment page, never reloaded,
        reaches succeeded; the API's active release is the new one."""
        c = self.console
        c.sign_in(self.dev.token)
        c.open("/ui/apps/myapp/env")
        check(c.heading() == "Environment", f"the Environment tab's heading is {c.heading()!r}")
        form = c.driver.find_element(By.CSS_SELECTOR, "form.env")
        form.find_element(By.CSS_SELECTOR, "input[aria-label='value of BAR']").send_keys("5")
        form.find_element(By.CSS_SELECTOR, "input[aria-label='new key']").send_keys("GREETING")
        form.find_element(By.CSS_SELECTOR, "input[aria-label='new value']").send_keys("hello")
        c.click(form.find_element(By.CSS_SELECTOR, "button[name='intent'][value='apply']"))
        check(c.heading().startswith("Apply Changes"), f"the preview's heading is {c.heading()!r}")
        description = c.driver.find_element(By.CSS_SELECTOR, "code.description").text
        expected = "env add:GREETING change:BAR"
        check(description == expected,
              f"the preview describes the release {description!r}, not {expected!r}")
        c.screenshot("apply_changes_preview")
        confirm = c.driver.find_element(By.CSS_SELECTOR, "form[action$='/env/confirm']")
        c.click(confirm.find_element(By.CSS_SELECTOR, "button[type='submit']"))
        check(c.path().startswith("/ui/apps/myapp/deployments/"),
              f"confirming Apply Changes led to {c.path()}")
        loaded = c.status()
        check(c.is_live() and loaded not in ENDED,
              f"the deployment page was loaded {loaded!r}, not live: nothing to follow")
        release = c.field("Release")
        status = c.wait_live_until_ended()
        c.screenshot("apply_changes")
        check(status == "succeeded", f"without reload the page shows {status!r}, not succeeded")
        active = self.dev.api("GET", "/apps/myapp")["active_release"]
        check(active == release, f"the active release is {active}, not the deployed {release}")
        shown = self.dev.api("GET", f"/apps/myapp/releases/{active}")["description"]
        check(shown == expected, f"the active release is described {shown!r}")

    def crash_rolls_back_live(self):
        """Promote a release that exits from the Releases tab; without
        reload, the page shows rolled_back and why."""
        c = self.console
        c.sign_in(self.dev.token)
        path = c.promote("crashy", self.crashing_later)
        self.crash_deployments.append(path.rsplit("/", 1)[1])
        loaded = c.status()
        check(c.is_live() and loaded not in ENDED,
              f"the deployment page was loaded {loaded!r}, not live: nothing to follow")
        status = c.wait_live_until_ended()
        c.screenshot("crash_rolls_back_live")
        check(status == "rolled_back", f"without reload the page shows {status!r}, not rolled_back")
        reason = c.field("Reason")
        check("before it was healthy" in reason or "exited" in reason,
              f"the reason does not say the instance exited: {reason!r}")

    def latest_not_active(self):
        """An env change through the API makes a release that is not
        promoted: the Environment tab warns, naming the differing key."""
        c = self.console
        self.dev.api("PATCH", "/apps/crashy/env", {"set": {"COLOR": "blue"}})
        app = self.dev.api("GET", "/apps/crashy")
        c.sign_in(self.dev.token)
        c.open("/ui/apps/crashy/env")
        warnings = c.driver.find_elements(By.CSS_SELECTOR, "section.drift")
        c.screenshot("latest_not_active")
        check(len(warnings) == 1, f"the Environment tab shows {len(warnings)} drift warnings")
        text = warnings[0].text
        check("is not the active one" in text, f"the warning does not say so: {text!r}")
        check(app["active_release"] in text,
              f"the warning does not name the active release {app['active_release']}: {text!r}")
        keys = [k.text for k in warnings[0].find_elements(By.TAG_NAME, "code")]
        check(keys == ["COLOR"], f"the warning names the keys {keys}, not ['COLOR']")

    def deployments_tab(self):
        """crashy's deployments, newest first, each with the API's status."""
        c = self.console
        c.sign_in(self.dev.token)
        c.open("/ui/apps/crashy/deployments")
        check(c.heading() == "Deployments", f"the Deployments tab's heading is {c.heading()!r}")
        rows = c.driver.find_elements(By.CSS_SELECTOR, "table.deployments tbody tr")
        shown = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")[:2]] for row in rows]
        c.screenshot("deployments_tab")
        ids = [row[0] for row in shown]
        ours = [d for d in ids if d in self.crash_deployments]
        check(ours == list(reversed(self.crash_deployments)),
              f"the tab lists {ids}, not {self.crash_deployments} newest first")
        for deployment, status in shown:
            known = self.dev.api("GET", f"/apps/crashy/deployments/{deployment}")["status"]
            check(status.split()[0] == known,
                  f"the tab shows {deployment} {status!r}, the API {known!r}")
        statuses = [status for deployment, status in shown if deployment in self.crash_deployments]
        check(statuses == ["rolled_back", "rolled_back", "succeeded"],
              f"crashy's deployments show {statuses}")

    def cancel(self):
        """Promote a release that never gets healthy and Cancel it on its
        live page. A second tab, opened on that page before the Cancel and
        never reloaded, shows it end rolled_back, reason cancelled."""
        c = self.console
        setup = self.dev.wait_for_deployment("stuck", self.stuck_setup, DEPLOY_SECONDS)
        check(setup == "succeeded", f"stuck's first release ended {setup!r} (set-up)")
        c.sign_in(self.dev.token)
        path = c.promote("stuck", self.never_healthy)
        check(c.is_live(), "the deployment page was not loaded live")
        button = "form.cancel button[type='submit']"
        # The live region is swapped as events arrive: find the button afresh.
        WebDriverWait(c.driver, PAGE_SECONDS, ignored_exceptions=[
            StaleElementReferenceException]).until(
            lambda d: d.find_element(By.CSS_SELECTOR, button).is_displayed())
        c.screenshot("cancel_offered")
        first = c.driver.current_window_handle
        c.driver.switch_to.new_window("tab")
        watcher = c.driver.current_window_handle
        try:
            c.open(path)
            loaded = c.status()
            check(c.is_live() and loaded not in ENDED,
                  f"the second tab loaded the deployment {loaded!r}, not live")
            c.driver.switch_to.window(first)
            for attempt in range(3):
                try:
                    c.click(c.driver.find_element(By.CSS_SELECTOR, button))
                    break
                except StaleElementReferenceException:
                    if attempt == 2:
                        raise
            check(c.path() == path, f"Cancel led to {c.path()}, not {path}")
            c.driver.switch_to.window(watcher)
            status = c.wait_live_until_ended()
            c.screenshot("cancel")
            check(status == "rolled_back",
                  f"without reload the page shows {status!r}, not rolled_back")
            reason = c.field("Reason")
            check(reason == "cancelled", f"the reason is {reason!r}, not cancelled")
        finally:
            c.driver.switch_to.window(watcher)
            c.driver.close()
            c.driver.switch_to.window(first)

    def phone_and_keyboard(self):
        """Readable on a phone: no page wider than a 390 px screen (wide
        tables scroll inside their own box). Usable with the keyboard alone:
        Tab reaches a Promote link and Enter opens its confirmation."""
        c = self.console
        c.sign_in(self.dev.token)
        c.driver.set_window_size(390, 844)
        try:
            for path in ("/ui", "/ui/apps/myapp/releases", "/ui/apps/myapp/env",
                         "/ui/apps/myapp/deployments", f"/ui/apps/myapp/releases/{self.first}"):
                c.open(path)
                overflow = c.driver.execute_script(
                    "return document.documentElement.scrollWidth"
                    " - document.documentElement.clientWidth")
                check(overflow <= 1, f"{path} is {overflow} px wider than a phone's screen")
            c.open("/ui/apps/myapp/releases")
            c.screenshot("phone_releases")
        finally:
            c.driver.set_window_size(1280, 800)
        c.open("/ui/apps/myapp/releases")
        body = c.driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        for _ in range(60):
            focused = c.driver.switch_to.active_element
            if focused.tag_name == "a" and focused.text == "Promote":
                break
            focused.send_keys(Keys.TAB)
        else:
            check(False, "Tab never reached a Promote link")
        page = c.driver.find_element(By.TAG_NAME, "html")
        c.driver.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(c.driver, PAGE_SECONDS).until(lambda _: replaced(page))
        check(c.path().endswith("/promote"), f"Enter on Promote led to {c.path()}")
        check(c.driver.find_elements(By.CSS_SELECTOR, "form[action$='/promote'] button"),
              "the confirmation has no button to press")


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
                     flows.read_token, flows.script_description, flows.sign_out,
                     flows.apply_changes, flows.crash_rolls_back_live, flows.latest_not_active,
                     flows.deployments_tab, flows.cancel, flows.phone_and_keyboard):
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
