"""The demo site in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver, over a local HTTP server that serves the site under a sub-path.

Checks navigation, the header search, dark mode, keyboard focus, the reader conveniences
(reading list, new-since-last-visit), accessibility with axe-core, and that no page logs
an error or requests a missing file. Screenshots at phone and desktop widths are written
to the test run's temporary folder (their paths are printed; see `-s`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.build import BuildResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"

if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 (only needed, and imported, with a browser)
from selenium.webdriver import Chrome as WebDriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from test_theme import ServedSite, serve_site  # noqa: E402

CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIGHT_BACKGROUND = "rgb(246, 247, 249)"
DARK_BACKGROUND = "rgb(15, 19, 26)"


@pytest.fixture(scope="module")
def served(demo_site: BuildResult) -> Iterator[ServedSite]:
    """The demo site over HTTP under /digest/."""
    with serve_site(demo_site.outdir) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module, logging the console."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, served: ServedSite) -> Iterator[WebDriver]:
    """The browser in light mode at desktop size, with fresh storage and an empty log."""
    set_scheme(browser, "light")
    set_width(browser, 1280)
    browser.get(served.url())
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    browser.get_log("browser")
    served.failures.clear()
    yield browser


def set_scheme(driver: WebDriver, scheme: str) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def set_width(driver: WebDriver, width: int, height: int = 900) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def wait_for(driver: WebDriver, condition: Any, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def errors_logged(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def first_paper_url(demo_site: BuildResult, served: ServedSite) -> str:
    site = demo_site.site
    paper = next((p for p in site.papers if "$" in p.title), site.papers[0])
    return served.url(site.paper_url(paper))


def first_topic_url(driver: WebDriver, served: ServedSite) -> str:
    driver.get(served.url())
    chips = driver.find_elements(By.CSS_SELECTOR, "a.chip")
    assert chips, "the home page shows topic chips (topics plugin)"
    return str(chips[0].get_attribute("href"))


def test_navigation_home_topic_paper_and_back(page: WebDriver, served: ServedSite) -> None:
    page.get(served.url())
    chip = page.find_element(By.CSS_SELECTOR, "a.chip")
    topic_name = chip.text
    chip.click()
    wait_for(page, lambda d: "/topics/" in d.current_url)
    topic_url = page.current_url
    assert page.find_element(By.TAG_NAME, "h1").text == topic_name
    title_link = page.find_element(By.CSS_SELECTOR, "article.card .card-title a")
    title = title_link.text
    title_link.click()
    wait_for(page, lambda d: "/papers/" in d.current_url)
    assert page.find_element(By.TAG_NAME, "h1").text == title
    page.back()
    wait_for(page, lambda d: d.current_url == topic_url)
    page.back()
    wait_for(page, lambda d: d.current_url == served.url())
    assert errors_logged(page) == [] and served.failures == []


def test_the_header_search_box_returns_results(page: WebDriver, served: ServedSite) -> None:
    page.get(served.url())
    box = page.find_element(By.ID, "header-q")
    box.send_keys("diffusion", Keys.ENTER)
    wait_for(page, lambda d: "/search/" in d.current_url and "q=diffusion" in d.current_url)
    results = wait_for(
        page, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li a[href]")
    )
    assert len(results) >= 3
    href = results[0].get_attribute("href")
    assert href and href.startswith(served.root + "papers/")
    results[0].click()
    wait_for(page, lambda d: "/papers/" in d.current_url)
    assert errors_logged(page) == [] and served.failures == []


def test_dark_mode_follows_the_system_setting(page: WebDriver, served: ServedSite) -> None:
    def background() -> str:
        return str(page.execute_script("return getComputedStyle(document.body).backgroundColor"))

    page.get(served.url())
    assert background() == LIGHT_BACKGROUND
    set_scheme(page, "dark")
    page.get(served.url())
    assert background() == DARK_BACKGROUND
    card = page.find_element(By.CSS_SELECTOR, "article.card")
    assert card.value_of_css_property("background-color") == "rgba(23, 28, 37, 1)"


def test_no_page_logs_an_error_or_misses_a_file(
    page: WebDriver, served: ServedSite, demo_site: BuildResult
) -> None:
    urls = [
        served.url(),
        first_paper_url(demo_site, served),
        first_topic_url(page, served),
        served.url("topics/"),
        served.url("archive/"),
        served.url("search/?q=scaling"),
        served.url("reading-list/"),
        served.url("about/"),
        served.url("404.html"),
    ]
    if (demo_site.outdir / "page/2").is_dir():
        urls.append(served.url("page/2/"))
    for url in urls:
        page.get(url)
        page.execute_script("return document.readyState")
        assert errors_logged(page) == [], url
    assert served.failures == []


def test_screenshots_at_phone_and_desktop_widths(
    page: WebDriver,
    served: ServedSite,
    demo_site: BuildResult,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("screenshots")
    targets = {"home": served.url(), "paper": first_paper_url(demo_site, served)}
    for name, url in targets.items():
        for width in (390, 1280):
            set_width(page, width)
            page.get(url)
            overflow = page.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways at {width}px"
            height = min(int(page.execute_script("return document.body.scrollHeight")), 5000)
            set_width(page, width, height)
            path = folder / f"{name}-{width}.png"
            assert page.save_screenshot(str(path))
            assert path.stat().st_size > 10_000
            print(f"screenshot: {path}")


def test_keyboard_focus_is_visible(page: WebDriver, served: ServedSite) -> None:
    page.get(served.url())
    page.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = page.switch_to.active_element
    assert active.text == "Skip to content"
    assert active.value_of_css_property("outline-style") != "none"
    assert active.is_displayed() and active.location["x"] >= 0
    active.send_keys(Keys.ENTER)
    wait_for(page, lambda d: d.current_url.endswith("#main"))
    for _ in range(3):
        page.switch_to.active_element.send_keys(Keys.TAB)
        focused = page.switch_to.active_element
        assert focused.tag_name in ("a", "button", "input")
        assert focused.value_of_css_property("outline-style") != "none", focused.tag_name


def test_reading_list_and_new_since_last_visit(page: WebDriver, served: ServedSite) -> None:
    page.get(served.url())
    assert not page.find_elements(By.CSS_SELECTOR, ".badge.new"), "nothing is new on a first visit"
    card = page.find_element(By.CSS_SELECTOR, "article.card")
    title = card.find_element(By.CSS_SELECTOR, ".card-title a").text
    save = card.find_element(By.CSS_SELECTOR, "button.save")
    assert save.is_displayed() and save.get_attribute("aria-pressed") == "false"
    save.click()
    assert save.get_attribute("aria-pressed") == "true" and save.text == "Saved"

    page.get(served.url("reading-list/"))
    items = wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "ol.reading li a"))
    assert [a.text for a in items] == [title]
    # Export: catch the file the page hands to the browser instead of downloading it.
    page.execute_script(
        "URL.createObjectURL = blob => { window.exported = blob; return 'about:blank'; };"
        "HTMLAnchorElement.prototype.click = function () {};"
    )
    page.find_element(By.ID, "export-bib").click()
    wait_for(page, lambda d: d.execute_script("return !!window.exported"))
    bib = page.execute_async_script(
        "const done = arguments[arguments.length - 1]; window.exported.text().then(done);"
    )
    assert bib.count("@misc{") == 1 and "title = {{" in bib, bib
    items[0].click()
    wait_for(page, lambda d: "/papers/" in d.current_url)
    assert page.find_element(By.CSS_SELECTOR, "article.paper button.save").text == "Saved"

    # A later visit (a new session) after one paper was added to the digest.
    key = card_key = page.execute_script(
        "return document.querySelector('article.paper').dataset.key"
    )
    seen = json.loads(
        page.execute_script(
            "return localStorage.getItem(Object.keys(localStorage).find(k => k.endsWith(':seen')))"
        )
    )
    assert card_key in seen
    seen.remove(key)
    page.execute_script(
        "const k = Object.keys(localStorage).find(k => k.endsWith(':seen'));"
        "localStorage.setItem(k, arguments[0]); sessionStorage.clear();",
        json.dumps(seen),
    )
    page.get(served.url())
    marked = page.find_elements(By.CSS_SELECTOR, "article.card.is-new")
    assert [m.get_attribute("data-key") for m in marked] == [key]
    assert marked[0].find_element(By.CSS_SELECTOR, ".badge.new").text == "New"
    page.refresh()
    assert len(page.find_elements(By.CSS_SELECTOR, "article.card.is-new")) == 1, (
        "marks stay for the whole visit"
    )
    assert errors_logged(page) == []


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core missing: run `npm ci`")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violations(
    page: WebDriver, served: ServedSite, demo_site: BuildResult, scheme: str
) -> None:
    axe = AXE.read_text(encoding="utf-8")
    urls = {
        "home": served.url(),
        "paper": first_paper_url(demo_site, served),
        "topic": first_topic_url(page, served),
        "search": served.url("search/?q=diffusion"),
    }
    set_scheme(page, scheme)
    problems = []
    for name, url in urls.items():
        page.get(url)
        if name == "search":
            wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li"))
        page.execute_script(axe)
        result = page.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(r.violations), e => done(String(e)));"
        )
        assert isinstance(result, list), result
        for violation in result:
            if violation["impact"] in ("serious", "critical"):
                nodes = [n["target"] for n in violation["nodes"][:3]]
                problems.append(f"{name}: {violation['id']} ({violation['impact']}) {nodes}")
    assert not problems, "\n".join(problems)
