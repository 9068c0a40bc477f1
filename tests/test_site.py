"""The built course site (`python scripts/build_site.py` -> _site/html/) in headless Chromium, served from localhost.

The site must be built first (`.ci/run` does it before the test suite). Without it the test is skipped, saying so,
except under CI (CI set), where that is a failure; Chromium and Playwright as for tests/test_browser.py. The pages
are served by Python's http.server on 127.0.0.1 (no other network), and the checks are what a reader sees:

- index.html leads to the front page (the README), whose navigation lists every notebook;
- a notebook page shows a rendered equation (typeset by the bundled MathJax, not raw TeX) and a figure that loaded;
- a widget output is the "run this notebook" placeholder, not the widget's text dump;
- the Chinese site (zh_CN/): a Chinese notebook page in Chinese, with equations, and each page's switch to the
  other language.

Screenshots go to browser-screenshots/ (git-ignored).
"""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.request
from pathlib import Path

import pytest
from test_browser import CHROMIUM_ARGS, SCREENSHOTS, find_chromium, unavailable

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_site" / "html"
MATH_PAGE = "notebooks/03_smoothing_coefficient.html"  # display math in markdown and SymPy's LaTeX outputs, figures
WIDGET_PAGE = "notebooks/06_structured_dropkey.html"  # a slider explorer: ipywidgets output
TIMEOUT_MS = 60_000


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports failed requests itself
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        unavailable(f"the site is not built ({SITE / 'index.html'} is missing): run python scripts/build_site.py")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page():
    chromium = find_chromium()
    if chromium is None:
        unavailable("no Chromium: install Debian's package with `apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.failed = []  # (url, why) of every request that failed: a missing page, script, font or image
        page.on("response", lambda r: r.status >= 400 and page.failed.append((r.url, f"HTTP {r.status}")))
        page.on("requestfailed", lambda r: page.failed.append((r.url, r.failure or "failed")))
        yield page
        browser.close()


# The one request allowed to fail: MathJax's hidden accessible MathML declares TeX web fonts for some variants
# (double-struck letters), which the MathJax package does not ship; what the reader sees uses its STIX-Web fonts.
OPTIONAL = "/_static/mathjax/fonts/HTML-CSS/TeX/"


def is_served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def assert_nothing_missing(page, site_url: str) -> None:
    """Every file of the site that the page asked for exists (the badges' images are on the internet: not checked).

    An HTTP error (a missing file answers 404) always fails. A request that failed below HTTP (Chromium reports an
    error text such as net::ERR_ABORTED) is asked again, once: if the server then serves the file, it was the loaded
    machine, not the site (CI once saw this for a MathJax font file that the site has), and it is printed, not failed.
    """
    own = [(url, why) for url, why in page.failed if url.startswith(site_url) and OPTIONAL not in url]
    page.failed.clear()
    transient = [(url, why) for url, why in own if not why.startswith("HTTP") and is_served(url)]
    for url, why in transient:
        print(f"request failed once ({why}), served when asked again: {url}")
    missing = [f"{why} {url}" for url, why in own if (url, why) not in transient]
    assert not missing, "requests that failed: " + ", ".join(missing)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"site-{name}.png"))
    print(f"screenshot: {SCREENSHOTS / f'site-{name}.png'}")


def test_every_notebook_has_a_page():
    if not (SITE / "index.html").is_file():
        unavailable("the site is not built: run python scripts/build_site.py")
    missing = [p.name for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
               if not (SITE / "notebooks" / p.with_suffix(".html").name).is_file()]  # fmt: skip
    assert not missing, f"notebooks without a page in {SITE} (rebuild the site): {missing}"


def test_index_opens_the_front_page_with_every_notebook_in_the_navigation(site_url, page):
    page.goto(f"{site_url}/index.html")
    page.wait_for_url("**/README.html", timeout=TIMEOUT_MS)
    assert "DropKey" in page.locator("h1").first.inner_text()
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    linked = page.eval_on_selector_all(".sidebar-tree a", "links => links.map(a => a.getAttribute('href'))")
    assert [n for n in notebooks if f"notebooks/{n}.html" not in linked] == [], f"navigation links: {linked}"
    screenshot(page, "index")
    assert_nothing_missing(page, site_url)


def test_notebook_page_shows_a_rendered_equation_and_a_figure(site_url, page):
    page.goto(f"{site_url}/{MATH_PAGE}")
    assert page.locator("h1").first.inner_text().startswith("03")
    # MathJax 2 replaces each TeX source with an element of class MathJax; wait until it has typeset the page.
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 && "
                           "document.querySelectorAll('.MathJax').length > 0", timeout=TIMEOUT_MS)  # fmt: skip
    equation = page.locator("div.math .MathJax, .math .MathJax_Display, .MathJax_Display").first
    equation.scroll_into_view_if_needed()
    box = equation.bounding_box()
    assert box and box["width"] > 20 and box["height"] > 10, f"no visible typeset equation: {box}"
    assert page.locator(".MathJax_Error, .merror").count() == 0, "MathJax reported an error in an equation"
    figure = page.locator(".cell_output img").first
    figure.scroll_into_view_if_needed()
    loaded = figure.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100")
    assert loaded, "the first figure of the page did not load"
    screenshot(page, "figure")
    page.locator(".MathJax_Display").first.scroll_into_view_if_needed()
    screenshot(page, "equation")
    assert_nothing_missing(page, site_url)


def test_widget_output_is_a_placeholder_not_a_text_dump(site_url, page):
    page.goto(f"{site_url}/{WIDGET_PAGE}")
    placeholder = page.locator(".widget-placeholder").first
    placeholder.scroll_into_view_if_needed()
    assert placeholder.is_visible() and "run this notebook" in placeholder.inner_text().lower()
    text = "\n".join(page.locator(".cell_output").all_inner_texts())
    assert "interactive(children=" not in text and "FloatSlider(" not in text, "a widget's text dump is on the page"
    screenshot(page, "widget")
    assert_nothing_missing(page, site_url)


# The Chinese site (_site/html/zh_CN/, `-t zh`): the Chinese notebooks and the translated guides


ZH_SITE = SITE / "zh_CN"


def test_every_chinese_notebook_has_a_page():
    if not (ZH_SITE / "index.html").is_file():
        unavailable("the Chinese site is not built: run python scripts/build_site.py")
    missing = [p.name for p in sorted((ROOT / "notebooks-zh").glob("*.ipynb"))
               if not (ZH_SITE / "notebooks-zh" / p.with_suffix(".html").name).is_file()]  # fmt: skip
    assert not missing, f"Chinese notebooks without a page in {ZH_SITE} (rebuild the site): {missing}"


def test_a_chinese_notebook_page_is_in_chinese_with_equations_and_a_switch_to_english(site_url, page):
    page.goto(f"{site_url}/zh_CN/notebooks-zh/03_smoothing_coefficient.html")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").first.inner_text().startswith("03 · 平滑系数")
    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 && "
                           "document.querySelectorAll('.MathJax').length > 0", timeout=TIMEOUT_MS)  # fmt: skip
    assert page.locator(".MathJax_Error, .merror").count() == 0, "MathJax reported an error in an equation"
    screenshot(page, "zh-notebook")
    assert_nothing_missing(page, site_url)
    page.locator(".language-switch a").click()
    page.wait_for_url("**/notebooks/03_smoothing_coefficient.html", timeout=TIMEOUT_MS)
    assert page.locator("h1").first.inner_text().startswith("03 · The smoothing coefficient")


def test_an_english_page_switches_to_its_chinese_version(site_url, page):
    page.goto(f"{site_url}/docs/classroom.html")
    page.locator(".language-switch a").click()
    page.wait_for_url("**/zh_CN/docs/classroom.html", timeout=TIMEOUT_MS)
    assert "课堂" in page.locator("h1").first.inner_text()
    assert_nothing_missing(page, site_url)


def test_a_chinese_widget_placeholder_is_in_chinese(site_url, page):
    page.goto(f"{site_url}/zh_CN/notebooks-zh/06_structured_dropkey.html")
    placeholder = page.locator(".widget-placeholder").first
    placeholder.scroll_into_view_if_needed()
    assert "运行本笔记本" in placeholder.inner_text()
