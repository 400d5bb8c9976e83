"""The observer page in a real browser: the distribution's headless Chromium through Selenium.

Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver (``make
test`` installs them from Debian); Selenium Manager is never asked to download
anything. Screenshots are saved under ``test-artifacts/``.
"""

from __future__ import annotations

import enum
import os
import pathlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from actorfsm import (
    ChildSpec,
    Event,
    GetChild,
    LoggingFSM,
    OneForOne,
    Supervisor,
    goto,
    metrics,
    stay,
)
from actorfsm.observer import ObserverServer, serve

pytestmark = pytest.mark.timeout(60)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class Door(enum.Enum):
    CLOSED = 1
    OPEN = 2


class Gate(LoggingFSM[Door, int]):
    log_depth = 8

    def __init__(self) -> None:
        super().__init__()
        self.start_with(Door.CLOSED, 0)
        self.when(Door.CLOSED, self.closed)
        self.when(Door.OPEN, self.opened, state_timeout=120.0)
        self.start_timer_with_fixed_delay("inspection", "inspect", 300.0)

    def closed(self, event: Event) -> Any:
        match event:
            case Event("coin", coins):
                return goto(Door.OPEN).using(coins + 1)
        return stay()

    def opened(self, event: Event) -> Any:
        match event:
            case Event("push", _):
                return goto(Door.CLOSED)
        return stay()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("Chromium is missing: run `make browser` (apt-get install chromium-driver)")
    os.environ["SE_MANAGER_PATH"] = "/nonexistent/selenium-manager"  # never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture
def observer() -> Iterator[ObserverServer]:
    server = serve(registry=CollectorRegistry())
    yield server
    server.stop()
    metrics.disable()


def text_of(driver: Any, element_id: str) -> str:
    elements = driver.find_elements(By.ID, element_id)
    return str(elements[0].text) if elements else ""


def waiting(browser: Any) -> WebDriverWait[Any]:
    """Waits that retry when the live page re-renders an element under the test's feet."""
    return WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))


def click(driver: Any, css: str) -> bool:
    """Click the first element matching ``css`` (a re-rendered one is raised as stale: retried)."""
    driver.find_element(By.CSS_SELECTOR, css).click()
    return True


def texts(driver: Any, css: str) -> list[str]:
    return [str(element.text) for element in driver.find_elements(By.CSS_SELECTOR, css)]


def test_state_changes_and_log_entries_appear_without_a_reload(
    browser: Any, observer: ObserverServer
) -> None:
    sup = Supervisor.start(
        OneForOne(), [ChildSpec("front-gate", Gate), ChildSpec("back-gate", Gate)]
    )
    gate = sup.ask(GetChild("front-gate"))
    gate.ask("coin")
    gate.ask("push")
    browser.get(observer.url)
    wait = waiting(browser)
    wait.until(lambda d: "front-gate" in d.find_element(By.ID, "trees").text)
    search = browser.find_element(By.ID, "search")
    search.send_keys("name:front-gate")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#fsms tbody tr")) == 1)
    wait.until(lambda d: click(d, "#fsms tbody tr"))
    wait.until(lambda d: text_of(d, "fsm-state") == "CLOSED")
    wait.until(lambda d: len(texts(d, "#log tbody tr")) == 2)
    wait.until(lambda d: texts(d, ".diagram svg g.state.current text") == ["CLOSED"])
    marker = browser.execute_script("window.notReloaded = true; return window.notReloaded;")
    assert marker is True

    gate.ask("coin")  # CLOSED -> OPEN, a third log entry
    wait.until(lambda d: text_of(d, "fsm-state") == "OPEN")
    wait.until(lambda d: len(texts(d, "#log tbody tr")) == 3)
    newest = wait.until(lambda d: texts(d, "#log tbody tr")[0])
    assert "'coin'" in newest and "CLOSED" in newest
    assert browser.execute_script("return window.notReloaded;") is True
    wait.until(lambda d: "inspection" in text_of(d, "detail"))  # the named timer
    browser.save_screenshot(str(ARTIFACTS / "observer-page.png"))

    badge = "#trees li[data-child='front-gate'] .badge"
    wait.until(lambda d: texts(d, badge)[:1] == ["RUNNING"])
    sup.stop()
    wait.until(lambda d: "No supervisors running." in d.find_element(By.ID, "trees").text)
    browser.save_screenshot(str(ARTIFACTS / "observer-after-stop.png"))


def test_a_large_list_is_paged(browser: Any, observer: ObserverServer) -> None:
    refs = [Gate.start() for _ in range(130)]
    browser.get(observer.url)
    wait = waiting(browser)
    wait.until(lambda d: "page 1 of 3" in text_of(d, "pageinfo"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fsms tbody tr")) == 50
    wait.until(lambda d: click(d, "#next"))
    wait.until(lambda d: "page 2 of 3" in text_of(d, "pageinfo"))
    wait.until(lambda d: click(d, "#next"))
    wait.until(lambda d: "page 3 of 3" in text_of(d, "pageinfo"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fsms tbody tr")) == 30
    browser.save_screenshot(str(ARTIFACTS / "observer-paged.png"))
    for ref in refs:
        ref.stop()
