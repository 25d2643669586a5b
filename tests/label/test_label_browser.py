"""End to end in headless Chromium: label three particles, remove one, move the threshold
slider, accept, reload, and find exactly that in the saved file and on the page.

Skipped when /usr/bin/chromium, its driver or the selenium package is missing
(CI: ``apt-get install chromium chromium-driver`` and ``pip install selenium``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.label.conftest import particle_centers

CHROMIUM = Path("/usr/bin/chromium")
FACTOR = 2
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1100,800"]


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not CHROMIUM.exists() or not Path(driver_path).exists():
        pytest.skip("headless test needs /usr/bin/chromium and chromedriver (apt: chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="fewlabel-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, timeout=10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def click_image_at(driver, x: float, y: float) -> None:
    """Click the displayed micrograph at display pixel (x, y) with a real pointer."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    cx, cy = driver.execute_script(
        "const r = document.getElementById('micrograph').getBoundingClientRect();"
        "const img = document.getElementById('micrograph');"
        "return [r.left + arguments[0] * r.width / img.naturalWidth,"
        "        r.top + arguments[1] * r.height / img.naturalHeight];", x, y)
    action = ActionBuilder(driver)
    action.pointer_action.move_to_location(int(round(cx)), int(round(cy)))
    action.pointer_action.click()
    action.perform()


def circles(driver) -> int:
    return len(driver.find_elements("css selector", "#overlay circle"))


def test_label_review_reload_in_headless_chromium(browser, label_server, mic_dir, scored_picks,
                                                   tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from fewlabel.io.picks import read_picks

    out = tmp_path / "reviewed.star"
    url, _ = label_server("--micrographs", mic_dir, "--picks", scored_picks, "--diameter", 24,
                          "-o", out, "--downsample", FACTOR)
    browser.get(url)
    wait_for(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "0")
    assert text(browser, "total") == "12" and circles(browser) == 4
    assert text(browser, "position") == "1 / 3"

    # three new particles (display pixels, away from the scored picks), then remove one pick
    clicks = [(15.0, 100.0), (140.0, 100.0), (130.0, 12.0)]
    for i, (x, y) in enumerate(clicks, start=1):
        click_image_at(browser, x, y)
        wait_for(browser, lambda d, n=12 + i: text(d, "total") == str(n))
    assert text(browser, "count") == "7" and circles(browser) == 7
    top_x, top_y = particle_centers(0)[3]  # score 0.7
    click_image_at(browser, top_x / FACTOR, top_y / FACTOR)
    wait_for(browser, lambda d: text(d, "total") == "14")
    saved = read_picks(out)
    assert len(saved) == 14

    # keys move between micrographs
    body = browser.find_element("tag name", "body")
    body.send_keys("n")
    wait_for(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1")
    assert text(browser, "position") == "2 / 3"
    body.send_keys(Keys.ARROW_LEFT)
    wait_for(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "0")

    # drag the slider thumb to the right, then accept the threshold
    slider = browser.find_element("id", "threshold")
    width = slider.size["width"]
    ActionChains(browser).move_to_element_with_offset(slider, -width // 2 + 2, 0).click_and_hold() \
        .move_by_offset(width // 2, 0).release().perform()
    threshold = float(slider.get_attribute("value"))
    assert 0.3 < threshold < 0.6
    scores = read_picks(scored_picks)["score"]
    expected = int((scores >= threshold).sum()) - 1 + 3  # minus the removed 0.7, plus 3 by hand
    assert text(browser, "kept") == str(expected)
    browser.find_element("id", "accept").click()
    wait_for(browser, lambda d: text(d, "total") == str(expected))

    saved = read_picks(out)
    assert len(saved) == expected
    assert (saved["score"] >= threshold).all()
    mic_a = saved[saved["image_name"] == "mic_a"]
    for x, y in clicks:  # saved in ORIGINAL pixels, with the top score of the run
        d = ((mic_a["x_coord"] - x * FACTOR) ** 2 + (mic_a["y_coord"] - y * FACTOR) ** 2) ** 0.5
        assert d.min() < 1.5
        assert mic_a["score"][d.idxmin()] == pytest.approx(scores.max())

    # reload: the page shows what the file holds
    browser.refresh()
    wait_for(browser, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "0")
    assert text(browser, "total") == str(expected)
    assert circles(browser) == len(mic_a) == int(text(browser, "count"))
    reloaded = float(browser.find_element("id", "threshold").get_attribute("value"))
    assert reloaded == pytest.approx(threshold, abs=1e-3)
