"""The search page in headless Chromium: typing, ?q= on load, syntax errors, keyboard, history,
no results, untrusted titles, and the page without JavaScript. The built site is served over
HTTP under a sub-path, as a static host would."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SiteFactory
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from digest.build import BuildResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium", allow_module_level=True)


WAIT = 20


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_server(outdir: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `outdir`'s parent folder on a free port; the site's URL is a sub-path."""
    handler = functools.partial(QuietHandler, directory=str(outdir.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/{outdir.name}/"


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Serve built sites for one test; returns each site's URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(outdir: Path) -> str:
        server, url = start_server(outdir)
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def make_driver(javascript: bool = True) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    return webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = make_driver()
    yield browser
    browser.quit()


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    try:
        return WebDriverWait(driver, WAIT, ignored_exceptions=[NoSuchElementException]).until(
            condition
        )
    except TimeoutException:
        status = driver.find_element(By.ID, "search-status").text
        pytest.fail(f"timed out waiting for {what}; status: {status!r}")


def results(driver: Any) -> list[dict[str, Any]]:
    """The result list as the page shows it (title text, link, marked words)."""
    return list(
        driver.execute_script(
            """return Array.from(document.querySelectorAll('#search-results > li')).map(li => {
                 const title = li.querySelector('.result-title');
                 return {title: title.textContent, href: title.href || null,
                         marks: Array.from(title.querySelectorAll('mark')).map(m => m.textContent),
                         selected: li.getAttribute('aria-current')};
               });"""
        )
    )


def first_title(driver: Any) -> str | None:
    found = results(driver)
    return found[0]["title"] if found else None


def type_query(driver: Any, text: str) -> None:
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text)


def severe_logs(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def demo_url(demo_site: BuildResult) -> Iterator[str]:
    server, url = start_server(demo_site.outdir)
    yield url
    server.shutdown()
    server.server_close()


UNIT = "Unit Scaling: Out-of-the-Box Low-Precision Training"


def test_typing_shows_the_expected_first_result(driver: Any, demo_url: str) -> None:
    driver.get(demo_url + "search/")
    driver.get_log("browser")
    type_query(driver, "unit scaling")
    wait_for(driver, lambda d: first_title(d) == UNIT, "the Unit Scaling paper first")
    first = results(driver)[0]
    assert first["marks"] == ["Unit", "Scaling"]
    # snippets come with the abstracts, loaded in the background
    snippet = wait_for(
        driver, lambda d: d.find_element(By.CSS_SELECTOR, "#search-results .snippet"), "snippets"
    )
    assert [m.text for m in snippet.find_elements(By.TAG_NAME, "mark")][:2] == ["unit", "scaling"]
    assert first["href"].startswith(demo_url + "papers/")
    assert driver.current_url == demo_url + "search/?q=unit+scaling"
    # lunr runs in the worker, not on the page's thread
    assert driver.execute_script("return typeof window.lunr") == "undefined"
    status = driver.find_element(By.ID, "search-status").text
    assert "results for “unit scaling”" in status
    assert severe_logs(driver) == []


def test_the_query_in_the_url_is_searched_on_load(driver: Any, demo_url: str) -> None:
    # An abstract-only word: found once the abstracts (loaded in the background) arrive.
    driver.get(demo_url + "search/?q=HyperCloning")
    wait_for(driver, lambda d: first_title(d) is not None, "a result")
    assert first_title(driver).startswith("Scaling Smart: Accelerating Large Language Model")
    assert driver.find_element(By.ID, "q").get_attribute("value") == "HyperCloning"
    assert driver.find_element(By.ID, "search-status").text == "1 result for “HyperCloning”."


def test_a_syntax_error_shows_results_for_the_plain_words(driver: Any, demo_url: str) -> None:
    driver.get(demo_url + "search/")
    driver.get_log("browser")
    type_query(driver, "unit scaling~")
    wait_for(driver, lambda d: first_title(d) == UNIT, "results for the plain words")
    assert "plain words" in driver.find_element(By.ID, "search-status").text
    type_query(driver, "~ :")
    wait_for(driver, lambda d: "No results" in d.find_element(By.ID, "search-status").text,
             "no results")  # fmt: skip
    assert severe_logs(driver) == []


def test_no_results_are_said_clearly(driver: Any, demo_url: str) -> None:
    driver.get(demo_url + "search/?q=qwxzyvj")
    wait_for(driver, lambda d: "No results" in d.find_element(By.ID, "search-status").text,
             "no results")  # fmt: skip
    assert "“qwxzyvj”" in driver.find_element(By.ID, "search-status").text
    assert results(driver) == []


def test_keyboard_and_history(driver: Any, demo_url: str) -> None:
    driver.get(demo_url + "search/")
    type_query(driver, "hypercloning")
    wait_for(driver, lambda d: first_title(d) is not None, "results for hypercloning")
    driver.find_element(By.ID, "q").send_keys(Keys.ENTER)  # commits the search
    type_query(driver, "unit scaling")
    wait_for(driver, lambda d: first_title(d) == UNIT, "results for unit scaling")
    assert driver.current_url.endswith("?q=unit+scaling")

    driver.back()
    wait_for(driver, lambda d: d.find_element(By.ID, "q").get_attribute("value") == "hypercloning",
             "the previous query back in the box")  # fmt: skip
    wait_for(driver, lambda d: (first_title(d) or "").startswith("Scaling Smart"),
             "the previous results")  # fmt: skip

    box = driver.find_element(By.ID, "q")
    box.send_keys(Keys.ARROW_DOWN)
    assert results(driver)[0]["selected"] == "true"
    assert box.get_attribute("aria-activedescendant") == "result-0"
    target = results(driver)[0]["href"]
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.current_url == target, "the selected paper's page")


EVIL = '<img src=x onerror="window.__pwned=1">Quokka <b>bold</b> &amp; co'


def test_titles_are_shown_as_text_never_html(
    driver: Any,
    site_factory: SiteFactory,
    build_site: Callable[..., BuildResult],
    serve: Callable[[Path], str],
) -> None:
    paper = {"title": EVIL, "abstract": "<script>window.__pwned=2</script> quokka habits",
             "authors": ["Mallory"], "date": "2024-01-02", "arxiv_id": "2401.00001"}  # fmt: skip
    root = site_factory(
        config="""\
            title = "Evil"
            [[sources]]
            name = "papers"
            path = "papers.jsonl"
            format = "jsonl"
            """,
        files={"papers.jsonl": json.dumps(paper) + "\n"},
    )
    url = serve(build_site(root).outdir)
    driver.get(url + "search/?q=quokka")
    wait_for(driver, lambda d: first_title(d) is not None, "the quokka paper")
    assert first_title(driver) == EVIL
    assert driver.execute_script("return window.__pwned") is None
    assert driver.find_elements(By.CSS_SELECTOR, "#search-results img, #search-results b, "
                                "#search-results script") == []  # fmt: skip


def test_without_javascript_the_page_says_search_needs_it(demo_url: str) -> None:
    browser = make_driver(javascript=False)
    try:
        browser.get(demo_url + "search/")
        body = browser.find_element(By.TAG_NAME, "main").text
        assert "Search needs JavaScript" in body
        assert not browser.find_element(By.ID, "q").is_displayed()
    finally:
        browser.quit()


def test_without_workers_the_page_searches_itself(driver: Any, demo_url: str) -> None:
    script = driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.Worker;"}
    )
    try:
        driver.get(demo_url + "search/?q=unit+scaling")
        wait_for(driver, lambda d: first_title(d) == UNIT, "the Unit Scaling paper first")
        assert driver.execute_script("return typeof window.lunr") == "function"
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def test_other_pages_do_not_load_the_index(driver: Any, demo_url: str) -> None:
    driver.get(demo_url)
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded
    assert not [url for url in loaded if "/search/" in url or "lunr" in url]
    # the header's search box leads to the search page with the query
    box = driver.find_element(By.ID, "header-q")
    box.send_keys("unit scaling", Keys.ENTER)
    wait_for(driver, lambda d: first_title(d) == UNIT, "the search page's results")
    assert driver.current_url == demo_url + "search/?q=unit+scaling"
