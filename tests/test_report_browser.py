"""The report in a real browser: headless Chromium driven over the DevTools protocol.

Checks that no request leaves the machine, every chart draws (a non-empty SVG), the language
switch works when clicked, and saves screenshots to ``test-artifacts/``.

Chromium comes from the system packages (``scripts/ensure_chromium.sh``, run by
``make test``); the test is skipped, saying why, only where it is not installed.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from sim_results import write_sim_results

from tnmodel import report

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

pytestmark = pytest.mark.integration


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine: `make test` runs scripts/ensure_chromium.sh, "
                "which installs it from the system packages (apt-get install chromium); that "
                "was not possible here")


class DevTools:
    """A minimal Chrome DevTools Protocol client over one websocket."""

    def __init__(self, url: str) -> None:
        import websocket  # websocket-client (test extra)

        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}")

    def click(self, selector: str) -> None:
        box = self.evaluate(
            f"(() => {{const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path):
    binary = _browser()
    pytest.importorskip("websocket", reason="websocket-client is in the test extra")
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--remote-allow-origins=*", f"--user-data-dir={profile}", "--window-size=1280,1800",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start ({binary}, exit {process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        yield tools
        tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_report_in_headless_chromium(tmp_path, browser):
    results = write_sim_results(tmp_path / "sim", optional=True)
    page = report.write_report([results], tmp_path / "reports" / "index.html")
    for domain in ("Network", "Page", "Runtime"):
        browser.send(f"{domain}.enable")
    browser.send("Page.navigate", url=page.resolve().as_uri())
    browser.wait_for("document.body && document.body.getAttribute('data-charts') === 'done'")

    # every chart drew a non-empty SVG (the hidden language's charts too)
    charts = browser.evaluate("""Array.from(document.querySelectorAll('div.chart')).map(el => {
        const svg = el.querySelector('svg');
        return {key: el.getAttribute('data-spec'), state: el.getAttribute('data-rendered'),
                marks: svg ? svg.querySelectorAll('path, rect, line, text').length : 0,
                width: svg ? Number(svg.getAttribute('width')) : 0};
    })""")
    assert len(charts) >= 14
    for chart in charts:
        assert chart["state"] == "ok" and chart["marks"] > 10 and chart["width"] > 100, chart

    # Vietnamese first; one click on the switch shows English and hides Vietnamese
    title = "document.querySelector('header h1').innerText.trim()"
    assert browser.evaluate(title) == report.UI["title"][0]
    visible = ("(lang) => Array.from(document.querySelectorAll(`div.chart[lang=${lang}]`))"
               ".filter(el => el.getBoundingClientRect().height > 0).length")
    assert browser.evaluate(f"({visible})('en')") == 0
    ARTIFACTS.mkdir(exist_ok=True)
    browser.screenshot(ARTIFACTS / "report_vi.png")
    browser.click("#lang-switch")
    browser.wait_for("document.body.getAttribute('data-lang') === 'en'", timeout=10)
    assert browser.evaluate(title) == report.UI["title"][1]
    assert browser.evaluate(f"({visible})('vi')") == 0
    assert browser.evaluate(f"({visible})('en')") == len(charts) // 2
    browser.evaluate("document.getElementById('fans').scrollIntoView()")
    browser.screenshot(ARTIFACTS / "report_en.png")
    assert (ARTIFACTS / "report_en.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # nothing left the machine: every request the page made was to a local scheme
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests, "the network log recorded the page load itself"
    assert [u for u in requests if not u.startswith(LOCAL_SCHEMES)] == []
    failed = [e for e in browser.events if e.get("method") == "Network.loadingFailed"]
    assert failed == []
