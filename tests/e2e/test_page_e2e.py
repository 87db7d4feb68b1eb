"""The web page end to end: a real Chromium (Playwright) against two live pretty-meter services."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.group import group_photo
from tests.support.live import ServiceProcess
from tests.support.models import model_dirs
from tests.support.paths import DATA, REPO

FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("PM_CHROMIUM", "/usr/bin/chromium"))
# Small enough that one compressed 512-px photo (about 58 KB for man.png) is refused with 413.
SMALL_BODY_LIMIT = 20_000

pytestmark = pytest.mark.slow


def _missing_tools() -> str | None:
    if not (FRONTEND / "node_modules" / ".bin" / "playwright").exists():
        return "frontend/node_modules is missing: run `cd frontend && npm ci` (make test does)"
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: install Debian's chromium (`make browser` does)"
    if shutil.which("npm") is None:
        return "npm is not on PATH: install Node 20+"
    return None


def _model_dirs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The lead's demo models (the real pipeline); until every stage they need exists, the service
    tests' real exported random-init models (tests/support/models.py)."""
    try:
        models: dict[str, Path] = request.getfixturevalue("demo_models")
        return models
    except ImportError:  # a pipeline stage the demo needs has not landed yet
        pass
    return model_dirs(tmp_path_factory.mktemp("e2e-models"))


def _current_dist() -> Path | None:
    """frontend/dist when it is newer than every source it is built from (the Makefile's rule:
    `make test` has just built it), else None."""
    index = FRONTEND / "dist" / "index.html"
    if not index.is_file():
        return None
    sources = [p for d in ("src", "public") for p in (FRONTEND / d).rglob("*") if p.is_file()]
    sources += [p for p in FRONTEND.glob("*") if p.is_file()]  # index.html, configs, lock file
    newest = max(p.stat().st_mtime for p in sources)
    return index.parent if index.stat().st_mtime >= newest else None


@pytest.fixture(scope="module")
def built_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page built from the current sources: frontend/dist when it is up to date, else a
    fresh build (never a stale frontend/dist)."""
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    current = _current_dist()
    if current is not None:
        return current
    out = tmp_path_factory.mktemp("web") / "dist"
    result = subprocess.run(
        ["npm", "run", "build", "--silent", "--", "--outDir", str(out), "--emptyOutDir"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"npm run build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert (out / "index.html").is_file()
    return out


@pytest.fixture(scope="module")
def services(
    built_page: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    models = _model_dirs(request, tmp_path_factory)
    logs = tmp_path_factory.mktemp("service-logs")
    args = [
        "--man",
        str(models["man"]),
        "--woman",
        str(models["woman"]),
        "--web-dir",
        str(built_page),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRETTYMETER_")}
    started: list[ServiceProcess] = []
    try:
        # The cross-origin spec points the page at another local port: the page's CSP must let
        # it connect there (a deployment names its API origin the same way).
        main_env = {**env, "PRETTYMETER_CSP_CONNECT_SRC": json.dumps(["http://127.0.0.1:*"])}
        main = ServiceProcess(args, main_env, name="main", log=logs / "main.log")
        started.append(main)
        # The small-limit service also plays "the API on another origin": it allows main's origin.
        small_env = {
            **env,
            "PRETTYMETER_LIMITS__MAX_BODY_BYTES": str(SMALL_BODY_LIMIT),
            "PRETTYMETER_CORS_ORIGINS": json.dumps([main.url]),
        }
        small = ServiceProcess(args, small_env, name="small-limit", log=logs / "small.log")
        started.append(small)
        main.wait_ready()
        small.wait_ready()
        yield main, small
    finally:
        for service in started:
            service.stop()


def test_the_page_rates_photos_in_a_real_browser_against_the_live_service(
    services: tuple[ServiceProcess, ServiceProcess], crop_service: ServiceProcess
) -> None:
    main, small = services
    env = {
        **os.environ,
        "PM_BASE_URL": main.url,
        "PM_SMALL_LIMIT_URL": small.url,
        # the explanation specs need a model that scores person crops (crop_service, below)
        "PM_CROP_URL": crop_service.url,
        "PM_CHROMIUM": str(CHROMIUM),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "CI": "1",
    }
    result = subprocess.run(
        ["npm", "run", "e2e", "--silent"],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"npm run e2e failed ({result.returncode}):\n{output[-8000:]}\n"
        f"--- main service log ---\n{main.tail()}\n--- small-limit service log ---\n{small.tail()}"
    )
    # the run really ran every spec (a spec file that silently vanished would also exit 0)
    assert " passed" in output and " failed" not in output and " skipped" not in output, output[
        -3000:
    ]
    for title in (
        "a photo of a man gets a score bar with a number from 0 to 10",
        "a photo with no face gets its own error while the other photo gets its score",
        "a phone photo stored sideways with EXIF orientation is shown and sent upright",
        "a HEIC photo (iPhone) gets a score",
        "a request over the service body limit shows the 413 message",
        "uses an API on another origin (CORS), 413 included",
        "the language switch turns the page Russian",
        "phone (360 px) screenshot with scored photos",
        "Explain on a face of a group photo shows the heat map, legend and regions, and hides",
        "Explain on a single scored photo puts the heat map over the scored person",
        "Explain at 390 px in Russian",
        "group photo screenshot in Russian",
    ):
        assert title in output, f"spec {title!r} did not run:\n{output[-3000:]}"


# -- the page under its Content-Security-Policy, watched through the DevTools protocol -------------

CSP_WORDS = re.compile(r"Content Security Policy|Content-Security-Policy|violates", re.IGNORECASE)
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


class DevTools:
    """A headless Chromium driven over the DevTools protocol: every console message, log entry
    and uncaught exception of its page is kept in `events`."""

    def __init__(self, profile: Path) -> None:
        self.process = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._id = 0
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        page = next(t for t in targets if t["type"] == "page")
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.socket = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        )

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"the page never showed {what}; events: {self.messages()[-10:]}")

    def messages(self) -> list[str]:
        """Console messages, log entries and uncaught exceptions, one line each."""
        lines = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled":
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                lines.append(f"console.{params['type']}: {text}")
            elif event.get("method") == "Log.entryAdded":
                entry = params["entry"]
                lines.append(f"log.{entry['level']} ({entry['source']}): {entry['text']}")
            elif event.get("method") == "Runtime.exceptionThrown":
                lines.append(f"exception: {params['exceptionDetails'].get('text', '')}")
        return lines

    def close(self) -> None:
        self._stack.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


def pick_files(browser: DevTools, url: str, script: str, *files: Path) -> None:
    """Open the page with `script` run before its own, and pick `files` in its file input."""
    for domain in ("Runtime.enable", "Page.enable", "DOM.enable"):
        browser.call(domain)
    browser.call("Page.addScriptToEvaluateOnNewDocument", source=script)
    browser.call("Page.navigate", url=url)
    browser.wait_for(
        "(() => { const i = document.querySelector('input[type=file]');"
        " return !!i && !i.disabled; })()",
        "an enabled file input",
    )
    root = browser.call("DOM.getDocument")["root"]["nodeId"]
    node = browser.call("DOM.querySelector", nodeId=root, selector="input[type=file]")
    browser.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(f) for f in files])


def click_by_text(selector: str, text: str) -> str:
    return (
        f"(() => {{ const el = Array.from(document.querySelectorAll({json.dumps(selector)}))"
        f".find((e) => e.textContent.trim() === {json.dumps(text)}); "
        "if (!el || el.disabled) return false; el.click(); return true; })()"
    )


def test_the_page_scores_a_photo_under_its_csp_with_no_violation_in_the_console(
    services: tuple[ServiceProcess, ServiceProcess], tmp_path: Path
) -> None:
    main, _ = services
    with urllib.request.urlopen(f"{main.url}/", timeout=10) as answer:
        policy = answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    browser = DevTools(tmp_path / "profile")
    try:
        browser.call("Log.enable")
        pick_files(browser, f"{main.url}/", WATCH_VIOLATIONS, DATA / "man.png")
        browser.wait_for("document.querySelectorAll('img[alt^=\"Photo 1\"]').length", "a preview")
        browser.wait_for(click_by_text("label", "Man (M)"), "the gender choice")
        browser.wait_for(click_by_text("button", "Rate"), "an enabled Rate button")
        score = browser.wait_for(
            "(() => { const m = document.querySelector('[role=meter]');"
            " return m && /^\\d{1,2}\\.\\d$/.test(m.textContent.trim()) && m.textContent; })()",
            "a score",
        )
        assert 0 <= float(score) <= 10
        violations = browser.evaluate("window.__cspViolations")
        seen = [m for m in browser.messages() if CSP_WORDS.search(m)]
        assert violations == [] and seen == [], (violations, seen)
        # the watch itself works: a load the policy forbids is reported both ways
        browser.evaluate("new Image().src = 'https://elsewhere.invalid/pixel.png'; 1")
        browser.wait_for("window.__cspViolations.length", "the planted violation")
        browser.call("Runtime.evaluate", expression="1")  # let the log entry arrive
        assert any(CSP_WORDS.search(m) for m in browser.messages()), browser.messages()
    finally:
        browser.close()


# -- every face on a group photo (faces=all), against a model trained on person crops ------------

# Keeps each /v1/rate answer the page receives, so the test compares the chips with the faces the
# service really listed for the compressed photo (the page, not the test, sent it).
KEEP_ANSWERS = """
window.__rateAnswers = [];
const pageFetch = window.fetch.bind(window);
window.fetch = async (...args) => {
  const response = await pageFetch(...args);
  if (String(args[0]).endsWith('/v1/rate')) {
    response.clone().json().then((body) => window.__rateAnswers.push(body), () => {});
  }
  return response;
};
"""


@pytest.fixture(scope="module")
def crop_service(built_page: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """The page served with the session's tiny exported models trained on person crops
    (detector mtcnn, tests/conftest.py), which score each face of a group photo like the demo
    model does, at a fraction of its start-up cost."""
    models: dict[str, Path] = request.getfixturevalue("model_dirs")
    args = ["--man", str(models["man"]), "--woman", str(models["woman"])]
    service = ServiceProcess([*args, "--web-dir", str(built_page)], name="crop-model")
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def test_with_the_switch_on_a_group_photo_shows_one_chip_per_face(
    crop_service: ServiceProcess, tmp_path: Path
) -> None:
    photo, _ = group_photo()
    path = tmp_path / "group.jpg"
    photo.save(path, quality=92)
    browser = DevTools(tmp_path / "profile")
    try:
        pick_files(browser, f"{crop_service.url}/", KEEP_ANSWERS, path)
        browser.wait_for("document.querySelectorAll('img[alt^=\"Photo 1\"]').length", "a preview")
        browser.wait_for(click_by_text("label", "Man (M)"), "the gender choice")
        switch = "document.querySelector('[role=switch]')"
        assert browser.evaluate(f"{switch}.checked") is False  # off by default
        browser.evaluate(f"{switch}.click(); 1")
        browser.wait_for(click_by_text("button", "Rate"), "an enabled Rate button")
        faces = browser.wait_for(
            "(() => { const a = window.__rateAnswers[0]; return a && a.results[0].faces; })()",
            "an answer with faces",
        )
        browser.wait_for(
            "document.querySelectorAll('[data-testid=face-chip]').length", "the face chips"
        )
        chips = browser.evaluate(
            "Array.from(document.querySelectorAll('[data-testid=face-chip]'))"
            ".map((c) => c.getAttribute('aria-label'))"
        )
        # the man, the woman and the smaller man at least (the tiny copy may be below the search)
        assert len(faces) >= 3, faces
        assert len(chips) == len(faces), (chips, faces)
        for i, (chip, face) in enumerate(zip(chips, faces, strict=True)):
            words = f"{face['score']:.1f}" if face["score"] is not None else "not scored"
            assert chip == f"Face {i + 1}: {words}", (chip, face)
        # tapping a chip lists its details
        browser.evaluate("document.querySelector('[data-testid=face-chip]').click(); 1")
        browser.wait_for(
            "document.querySelector('[data-testid=face-details]').textContent.startsWith('Face 1')",
            "the chosen face's details",
        )
    finally:
        browser.close()
