"""The web pages in a real browser: Debian's chromium, driven by selenium
through Debian's chromedriver, against a running `telleverk serve`.

Run by tests/it/web.rs with the service's URL, the tokens and the serials to
look at in the environment. Each step prints what it checked; the first
failure prints why and exits 1. Every page is saved as a PNG in the screenshot
folder, and axe-core, injected into each page, must find no serious or
critical accessibility violation.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["WEB_BASE"].rstrip("/")
VIEWER = os.environ["WEB_VIEWER"]
OPERATOR = os.environ["WEB_OPERATOR"]
SERIAL = os.environ["WEB_SERIAL"]
HAND = os.environ["WEB_HAND_SERIAL"]
SHOTS = os.environ["WEB_SCREENSHOTS"]
AXE = open(os.environ["TELLEVERK_AXE"], encoding="utf-8").read()


def fail(message):
    print(f"FAIL {message}", flush=True)
    raise SystemExit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print(f"ok   {message}", flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ["TELLEVERK_CHROMIUM"]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1400,1000", "--lang=en-GB"):
        options.add_argument(arg)
    service = Service(executable_path=os.environ["TELLEVERK_CHROMEDRIVER"])
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    return driver


def shot(driver, name):
    path = os.path.join(SHOTS, f"{name}.png")
    # The whole page, not the window: grow the window to the page's height.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(600, min(int(height) + 100, 8000)))
    driver.save_screenshot(path)
    driver.set_window_size(1400, 1000)
    print(f"ok   screenshot {path}", flush=True)


def accessible(driver, name):
    driver.execute_script(AXE)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' +"
        " v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))));"
    )
    check(not found, f"axe finds no serious or critical violation on {name}: {json.dumps(found)}")


def wait(driver):
    return WebDriverWait(driver, 20)


def follow(driver, element):
    """Clicks an element that leads to a new page and waits until that page
    has replaced the old one and finished loading.

    While a page is being replaced, chromedriver may answer a question about
    the old one with a stale element or with an inspector error ("Node with
    given id does not belong to the document"); a check made in that moment
    proves nothing either way, so the wait asks again. The old document is
    marked before the click: the new one is the first without the mark.
    """
    driver.execute_script("document.documentElement.dataset.leaving = 'yes';")
    element.click()

    def arrived(d):
        try:
            return d.execute_script(
                "return document.readyState === 'complete'"
                " && document.documentElement.dataset.leaving === undefined;")
        except WebDriverException:
            return False

    wait(driver).until(arrived)


def log_in(driver, token):
    driver.get(BASE + "/login")
    field = wait(driver).until(ec.presence_of_element_located((By.ID, "token")))
    field.clear()
    field.send_keys(token)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))


def post_status(driver, path, fields):
    """POSTs a form from the page's session (as a form would) and returns the status."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', credentials: 'same-origin',"
        " body: new URLSearchParams(arguments[1])}).then(r => done(r.status));",
        path, fields)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    driver = browser()
    try:
        # Without a session every page sends you to the login form.
        driver.get(BASE + "/")
        wait(driver).until(ec.url_contains("/login"))
        check("/login" in driver.current_url, "a page without a session redirects to /login")
        shot(driver, "login")
        accessible(driver, "/login")

        log_in(driver, "tlv_not_a_token")
        error = wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".error")))
        check("not known" in error.text, "a bad token is refused with a message")

        # The fleet.
        log_in(driver, VIEWER)
        table = wait(driver).until(ec.presence_of_element_located((By.ID, "fleet")))
        check(SERIAL in table.text, f"the fleet table lists {SERIAL}")
        counts = driver.find_element(By.CSS_SELECTOR, ".counts").text
        check("devices" in counts and "answering" in counts, f"the counts are at the top: {counts!r}")
        bars = driver.find_elements(By.CSS_SELECTOR, "#fleet .bar .fill")
        check(len(bars) > 0, f"toner bars are drawn ({len(bars)})")
        shot(driver, "fleet")
        accessible(driver, "/")

        # Search narrows the table to the one device.
        search = driver.find_element(By.NAME, "q")
        search.send_keys(SERIAL)
        follow(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button"))
        wait(driver).until(ec.url_contains("q="))
        rows = driver.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
        check(len(rows) == 1 and SERIAL in rows[0].text, "a search by serial finds the device alone")

        # A device: its chart is drawn with data.
        follow(driver, driver.find_element(By.LINK_TEXT, SERIAL))
        wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "figure.chart svg")))
        paths = driver.find_elements(By.CSS_SELECTOR, "figure.chart svg path")
        drawn = [p.get_attribute("d") for p in paths if "L" in (p.get_attribute("d") or "")]
        check(len(drawn) > 0, f"the device page draws its charts with data ({len(drawn)} lines)")
        check("operator role" in driver.page_source, "a viewer is told entering readings needs an operator")
        shot(driver, "device")
        accessible(driver, f"/devices/{SERIAL}")

        status = post_status(driver, f"/devices/{HAND}/readings",
                             {"csrf": "x", "taken_at": "2026-11-02 10:00", "meter": "total", "value": "5"})
        check(status == 403, f"a viewer sending a reading is refused (status {status})")

        # A contract: its periods against the commitment in the 15 % band.
        driver.get(BASE + "/contracts")
        follow(driver, wait(driver).until(ec.presence_of_element_located((By.LINK_TEXT, "WEB"))))
        table = wait(driver).until(ec.presence_of_element_located((By.ID, "periods-table")))
        bands = driver.find_elements(By.CSS_SELECTOR, "#periods-table .band .zone")
        check(len(bands) > 0, f"the contract page shows the 15 % band ({len(bands)} periods)")
        check("±15 % band" in driver.page_source and "Notice deadline" in driver.page_source,
              "the contract page names the band and the notice deadline")
        lines = driver.find_elements(By.CSS_SELECTOR, "section[aria-labelledby=use] svg path")
        check(len(lines) >= 4, f"the contract page draws its use against the commitment ({len(lines)} lines)")
        shot(driver, "contract")
        accessible(driver, "/contracts/WEB")
        follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "uptime against the promise"))
        wait(driver).until(ec.title_contains("uptime"))
        check(SERIAL in driver.page_source, "the contract's uptime page lists its devices")
        shot(driver, "contract-uptime")
        accessible(driver, "/contracts/WEB/uptime")

        driver.get(BASE + "/reports")
        wait(driver).until(ec.title_contains("Reports"))
        check("Counter report" in driver.page_source, "the reports page offers the counter report")
        shot(driver, "reports")
        accessible(driver, "/reports")

        driver.get(BASE + "/alerts")
        wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
        check("Open alerts" in driver.title, "the alerts page opens")
        shot(driver, "alerts")
        accessible(driver, "/alerts")

        # Log out: the session is gone.
        follow(driver, driver.find_element(By.CSS_SELECTOR, "form.who button"))
        wait(driver).until(ec.url_contains("/login"))
        driver.get(BASE + "/")
        wait(driver).until(ec.url_contains("/login"))
        check("/login" in driver.current_url, "after logging out, pages need a login again")

        # An operator enters a reading of a device read by hand.
        log_in(driver, OPERATOR)
        wait(driver).until(ec.presence_of_element_located((By.ID, "fleet")))
        driver.get(f"{BASE}/devices/{HAND}")
        form = wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.reading")))

        def send(value):
            form = driver.find_element(By.CSS_SELECTOR, "form.reading")
            taken = form.find_element(By.NAME, "taken_at")
            taken.clear()
            taken.send_keys("2026-11-02 10:00")
            Select(form.find_element(By.NAME, "meter")).select_by_value("total")
            field = form.find_element(By.NAME, "value")
            field.clear()
            field.send_keys(value)
            # The answer is a new page: wait for it, or the message found
            # could be the previous sending's.
            follow(driver, form.find_element(By.CSS_SELECTOR, "button"))
            return wait(driver).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#enter + p, section p.ok, section p.error")))

        said = send("12345")
        check("Stored" in said.text, f"an operator's reading is stored: {said.text!r}")
        said = send("12399")
        check("error" in said.get_attribute("class") and "nothing was stored" in said.text,
              f"a different value at the same instant is refused on the form: {said.text!r}")
        shot(driver, "device-reading")
        accessible(driver, f"/devices/{HAND} after a refused reading")
        print("browser: every step passed", flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # a selenium timeout or the like: say what and where
        fail(f"{type(e).__name__}: {e}")
