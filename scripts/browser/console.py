"""The browser side of the browser tests: headless Chromium driven by
Selenium, pointed at one `slipway dev`, with the page-reading helpers the
flows in console_flows.py share, and `check`, their one assertion."""

import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                        TimeoutException, WebDriverException)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path("target/browser")
DEPLOY_SECONDS = 60
PAGE_SECONDS = 10
ENDED = ("succeeded", "rolled_back", "failed", "cancelled")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def replaced(element):
    """Whether `element`'s document has been replaced by the next page.
    Chromedriver, asked in the middle of the navigation, may answer that the
    node no longer belongs to the document instead of calling it stale."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as err:
        if "does not belong to the document" in str(err):
            return True
        raise


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
        WebDriverWait(self.driver, PAGE_SECONDS).until(lambda _: replaced(page))

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
        """The value beside `name` on a deployment page. The page's live
        region may be swapped between finding the value and reading it: then
        it is found again."""
        for attempt in range(5):
            try:
                return self.driver.find_element(
                    By.XPATH, f"//dt[normalize-space()='{name}']/following-sibling::dd[1]").text
            except StaleElementReferenceException:
                if attempt == 4:
                    raise
                time.sleep(0.1)

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
            status = self.status()
            if status in ENDED or time.monotonic() > deadline:
                return status
            time.sleep(1)
            self.driver.refresh()

    def is_live(self):
        """Whether the deployment page, as loaded, follows the deployment
        over its event stream."""
        return bool(self.driver.find_elements(By.CSS_SELECTOR, "[sse-connect]"))

    def status(self):
        """The deployment page's status word, as shown now."""
        try:
            return self.field("Status").split()[0]
        except (NoSuchElementException, StaleElementReferenceException, IndexError):
            return ""

    def wait_live_until_ended(self):
        """Waits, WITHOUT reloading, until the deployment page shows an ended
        status: only the page's live updates can bring it."""
        try:
            WebDriverWait(self.driver, DEPLOY_SECONDS, poll_frequency=0.25).until(
                lambda _: self.status() in ENDED)
        except TimeoutException:
            pass
        return self.status()

    def screenshot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def quit(self):
        self.driver.quit()
