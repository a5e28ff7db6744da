"""The web page in a real headless Chromium (Selenium, the system's chromium and chromedriver)
against a real uvicorn server on 127.0.0.1: a RRUFF Raman file uploaded and its answer, chart
and mineral card rendered; the MinDB browser; keyboard access; no request leaves 127.0.0.1.

Without /usr/bin/chromium these tests skip, unless LITHOSCOPE_REQUIRE_BROWSER is set (``make
test`` sets it): then a missing or broken browser fails them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.browser_fixtures import chromium, rruff_files, train_calibrated
from tests.service.conftest import live_server, make_settings

TIMEOUT = 60


@pytest.fixture(scope="module")
def files(shared_data) -> dict[str, list[tuple[str, bytes]]]:
    return rruff_files(shared_data)


@pytest.fixture(scope="module")
def server(tmp_path_factory, files) -> Iterator[str]:
    from lithoscope.service import create_app

    data_dir = tmp_path_factory.mktemp("browser-data")
    train_calibrated(data_dir, files)
    with live_server(create_app(make_settings(data_dir))) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = chromium(width=820, height=1180)  # a tablet in portrait
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def page(driver, server) -> Iterator[Any]:
    """The page loaded and ready; afterwards: every request went to the server, and the
    console logged no error."""
    from selenium.webdriver.common.by import By

    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(server + "/")
    wait(driver, lambda d: "Ready" in d.find_element(By.ID, "status").text)
    yield driver
    urls = _requested(driver)
    assert urls, "the performance log recorded no request"
    outside = [u for u in urls if not (u.startswith(server + "/") or u.startswith("data:"))]
    assert not outside, f"requests left {server}: {outside}"
    errors = [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE"
        and "the server responded with a status of 422" not in e["message"]
    ]
    assert not errors, errors


def wait(driver, condition: Callable[[Any], Any], timeout: float = TIMEOUT) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _requested(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _upload(driver, path: Path, *, body: str | None = None, mixture: bool = False) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if body is not None:
        Select(driver.find_element(By.ID, "body")).select_by_value(body)
    box = driver.find_element(By.ID, "mixture")
    if box.is_selected() != mixture:
        box.click()
    driver.find_element(By.ID, "files").send_keys(str(path))
    driver.find_element(By.ID, "identify-button").click()
    return wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .answer"))[0]


@pytest.fixture
def forsterite(files, tmp_path) -> Path:
    """A RRUFF Raman file of forsterite that the served model was not trained on."""
    name, data = files["Forsterite"][-1]
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_upload_renders_answer_chart_and_mineral_card(page, server, forsterite):
    from selenium.webdriver.common.by import By

    answer = _upload(page, forsterite, body="moon")
    assert answer.find_element(By.TAG_NAME, "h3").text == forsterite.name
    assert answer.find_element(By.CSS_SELECTOR, ".top-mineral").text == "Forsterite"
    first = answer.find_elements(By.CSS_SELECTOR, "table.candidates tbody tr")[0]
    cells = [td.text for td in first.find_elements(By.TAG_NAME, "td")]
    assert cells[1] == "Forsterite" and cells[2].endswith("%") and cells[3] == "Mg2SiO4"
    assert float(cells[2].split()[0]) > 50
    chips = answer.find_elements(By.CSS_SELECTOR, "[data-testid=prediction-set] .chip")
    assert "Forsterite" in [c.text for c in chips]
    assert not answer.find_elements(By.CSS_SELECTOR, "[data-testid=unknown]")
    assert "Composition: Fo" in answer.text

    # the Plotly chart: the spectrum, the best Forsterite reference and the attribution
    wait(page, lambda d: answer.find_elements(By.CSS_SELECTOR, ".plot .main-svg"))
    traces = page.execute_script(
        "return document.querySelector('#answer-0-plot').data"
        ".map(t => ({name: t.name, n: t.y.length}))"
    )
    names = [t["name"] for t in traces]
    assert names[0] == forsterite.name
    assert names[1].startswith("Forsterite reference R")
    assert names[2] == "attribution"
    assert {t["n"] for t in traces} == {1301}  # the model's 100-1400 cm-1 grid
    assert len(answer.find_elements(By.CSS_SELECTOR, ".plot .scatterlayer .trace")) == 3

    # the mineral card: formula and a Moon occurrence with its citation, as the API has them
    answer.find_element(By.CSS_SELECTOR, "button.mineral-link[data-mineral=Forsterite]").click()
    card = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "#card .card-content"))
    assert page.find_element(By.ID, "card-title").text == "Forsterite"
    assert card.find_element(By.CSS_SELECTOR, ".card-formula").text == "Mg2SiO4"
    expected = httpx.get(f"{server}/v1/minerals/Forsterite", timeout=30).json()
    moon = [o for o in expected["occurrences"] if o["body"] == "moon"]
    shown = card.find_elements(By.CSS_SELECTOR, "[data-body=moon] .occurrence")
    assert len(shown) == len(moon) > 0
    assert moon[0]["setting"] in shown[0].text
    assert shown[0].find_element(By.CSS_SELECTOR, ".citation").text.startswith(moon[0]["source"])
    if moon[0]["doi"]:
        link = shown[0].find_element(By.CSS_SELECTOR, ".citation a")
        assert link.get_attribute("href") == f"https://doi.org/{moon[0]['doi']}"

    # its reference spectra
    card.find_element(By.CSS_SELECTOR, "button.show-spectra").click()
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#card .card-plot .main-svg"))


def test_mixture_answer_shows_minerals_rock_and_fit(page, forsterite):
    from selenium.webdriver.common.by import By

    answer = _upload(page, forsterite, mixture=True)
    rows = answer.find_elements(By.CSS_SELECTOR, "table.mixture tbody tr")
    first = [td.text for td in rows[0].find_elements(By.TAG_NAME, "td")]
    assert first[0] == "Forsterite" and first[1].startswith("yes") and "±" in first[2]
    assert answer.find_element(By.CSS_SELECTOR, ".rock-name").text == "dunite"
    assert answer.find_elements(By.CSS_SELECTOR, "details.rock li")  # the reasoning
    wait(page, lambda d: answer.find_elements(By.CSS_SELECTOR, ".plot .main-svg"))
    names = page.execute_script(
        "return document.querySelector('#answer-0-plot').data.map(t => t.name)"
    )
    assert names[1] == "fitted mixture" and names[-1] == "residual"
    assert any(n.startswith("Forsterite ") and "vol %" in n for n in names)


def test_an_unreadable_file_shows_the_api_message(page, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a spectrum\n")
    driver = page
    driver.find_element(By.ID, "files").send_keys(str(bad))
    driver.find_element(By.ID, "identify-button").click()
    box = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#results .error"))
    detail = httpx.post(
        driver.current_url.rstrip("/") + "/v1/identify",
        files=[("files", ("notes.txt", bad.read_bytes()))],
        data={"plot": "true", "explain": "true"},
        timeout=30,
    ).json()["detail"]
    assert f"notes.txt: {detail}" in box.text


def test_mindb_browser_filters_by_body_pages_and_opens_a_card(page, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(page.find_element(By.ID, "filter-body")).select_by_value("moon")
    page.find_element(By.ID, "browser-search").click()
    expected = httpx.get(f"{server}/v1/minerals?body=moon&limit=25", timeout=30).json()

    def names(d) -> list[str]:
        return [b.text for b in d.find_elements(By.CSS_SELECTOR, "#browser-table .mineral-link")]

    wait(page, lambda d: names(d) == [m["name"] for m in expected["items"]])
    for row in page.find_elements(By.CSS_SELECTOR, "#browser-table tbody tr"):
        assert "Moon" in row.find_elements(By.TAG_NAME, "td")[-1].text
    assert expected["next_offset"] == 25
    page.find_element(By.ID, "browser-next").click()
    second = httpx.get(f"{server}/v1/minerals?body=moon&limit=25&offset=25", timeout=30).json()
    wait(page, lambda d: names(d) == [m["name"] for m in second["items"]])
    assert page.find_element(By.ID, "browser-prev").is_enabled()

    name = second["items"][0]["name"]
    page.find_element(
        By.CSS_SELECTOR, f"#browser-table .mineral-link[data-mineral='{name}']"
    ).click()
    card = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "#card .card-content"))
    assert card.get_attribute("data-mineral") == name
    assert card.find_element(By.CSS_SELECTOR, ".card-formula").text == second["items"][0]["formula"]
    assert card.find_elements(By.CSS_SELECTOR, "[data-body=moon] .citation")


def test_keyboard_reaches_the_drop_zone_and_enter_opens_the_file_chooser(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page.execute_cdp_cmd("Page.enable", {})
    page.execute_cdp_cmd("Page.setInterceptFileChooserDialog", {"enabled": True})
    reached = []
    for _ in range(20):
        ActionChains(page).send_keys(Keys.TAB).perform()
        active = page.switch_to.active_element
        reached.append(active.get_attribute("id") or active.tag_name)
        if reached[-1] == "files":
            break
    assert reached[-1] == "files", f"Tab went through {reached} without reaching the file input"
    assert active.get_attribute("type") == "file"
    # the drop zone shows the focus (its label gets the outline through :focus-within)
    outline = page.execute_script(
        "return getComputedStyle(document.querySelector('.dropzone-label')).outlineStyle"
    )
    assert outline == "solid"
    ActionChains(page).send_keys(Keys.ENTER).perform()
    deadline = time.monotonic() + 10
    opened = False
    while not opened and time.monotonic() < deadline:
        opened = any(
            json.loads(e["message"])["message"]["method"] == "Page.fileChooserOpened"
            for e in page.get_log("performance")
        )
        time.sleep(0.1)
    page.execute_cdp_cmd("Page.setInterceptFileChooserDialog", {"enabled": False})
    assert opened, "Enter on the file input did not open the file chooser"
    page.get(page.current_url)  # the page fixture checks this reload's requests
    wait(page, lambda d: "Ready" in d.find_element(By.ID, "status").text)
