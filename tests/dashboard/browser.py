"""A real headless browser for the dashboard tests: Debian's chromium, driven by Selenium through
Debian's chromedriver (bin/dev installs both; Selenium never downloads a browser here)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")


def _required(command: str, package: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise RuntimeError(f"the browser tests need {command}: apt-get install {package} (bin/dev test does)")
    return path


@contextmanager
def headless_chromium(profile: Path) -> Iterator[WebDriver]:
    """A headless chromium with a fresh profile in ``profile``; quit on exit."""
    options = webdriver.ChromeOptions()
    options.binary_location = _required("chromium", "chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=_required("chromedriver", "chromium-driver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], T], *, timeout: float = 15.0) -> T:
    """``condition``'s first truthy value (Selenium's wait: polls until the deadline, then fails).

    An element the page replaced while the condition read it (a live refresh) is a poll that saw
    nothing yet, not a failure.
    """
    wait = WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(condition)


def sign_in(driver: WebDriver, base_url: str, token: str, *, then: str = "/ui/") -> None:
    """Sign in through the login page like a person: paste the token, submit, land on ``then``."""
    driver.get(f"{base_url}/ui/login?next={then}")
    wait_for(driver, lambda d: d.find_elements("id", "token"))
    driver.find_element("id", "token").send_keys(token)
    driver.find_element("id", "sign-in").click()
    wait_for(driver, lambda d: "/ui/login" not in d.current_url)


_REREADS = 5
"""How often :func:`text_of` finds an element again that the page keeps replacing."""


def text_of(driver: WebDriver, css: str) -> str:
    """The text of the first element matching ``css`` ("" when there is none), found again when
    the page replaced it while it was read (a live refresh)."""
    for _ in range(_REREADS):
        found: list[WebElement] = driver.find_elements("css selector", css)
        try:
            return found[0].text if found else ""
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{css}: replaced on every one of {_REREADS} reads")
