"""End to end in a real headless Chromium: `streamlit run ui/app.py` over the shipped bank's index.

Needs Debian's ``chromium`` (apt) and the PyPI ``playwright`` package; Playwright's own browser
download is not used (it fails offline): the system Chromium is launched by path. Saves
screenshots in a temporary folder, or in ``$QBANK_SCREENSHOT_DIR`` (the README's come from
``QBANK_SCREENSHOT_DIR=docs/screenshots pytest tests/ui/test_browser.py``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("QBANK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TIMEOUT_S = 240  # the first run may build the index (~40 s) and loads MiniLM (~10 s)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: `apt-get install -y chromium` (and `pip install playwright`) to run it")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBANK_")}  # the shipped bank, data/index
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start in 60 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def ui_page(ui_server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(START_TIMEOUT_S * 1000)
        page.goto(ui_server)
        try:
            yield page
        finally:
            browser.close()


def nav(page):
    """The page selector across the top of the main area (the first radio group on every page)."""
    return page.get_by_test_id("stRadio").first


def test_search_then_study_set_in_chromium(ui_page, tmp_path):
    page = ui_page
    SHOTS = Path(os.environ.get("QBANK_SCREENSHOT_DIR") or tmp_path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    box = page.get_by_label("Search the question bank")
    box.wait_for()  # the index is loaded (or built) before the page shows the box
    box.fill("product quantization")
    box.press("Enter")
    page.get_by_text("E5-195", exact=True).first.wait_for(timeout=120_000)
    assert page.get_by_text("Explain product quantization").first.is_visible()
    assert page.locator("mark").count() > 0  # query terms highlighted in the matching passage
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "search.png"))

    nav(page).get_by_text("Study set", exact=True).click()
    topics = page.get_by_label("Topics (one per line)")
    topics.wait_for()
    topics.fill("KV cache\nproduct quantization")
    page.get_by_role("button", name="Build study set").click()
    page.get_by_text("12 questions · about").wait_for(timeout=120_000)
    page.get_by_role("button", name="Markdown").wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "studyset.png"))
    assert (SHOTS / "search.png").stat().st_size > 10_000 and (SHOTS / "studyset.png").stat().st_size > 10_000


def test_url_state_match_notes_and_filter_chips_in_chromium(ui_server, ui_page):
    """A pasted link restores the view (and the first paint of a fresh browser session is timed and
    printed); the chips remove filters; nonsense says so; a typo is named; a visit to another page
    keeps the search."""
    ctx = ui_page.context.browser.new_context(viewport={"width": 1400, "height": 1000})  # a fresh session
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        t0 = time.monotonic()
        page.goto(f"{ui_server}/?page=Search&q=product+quantization&difficulty=M")
        box = page.get_by_label("Search the question bank")
        box.wait_for()
        first_paint = time.monotonic() - t0
        print(f"\nfirst paint (fresh browser session, index built): {first_paint:.2f} s")
        page.get_by_text("E5-195", exact=True).first.wait_for()
        assert box.input_value() == "product quantization"
        chip = page.get_by_role("button", name="✕ difficulty: M")
        assert chip.is_visible()
        page.get_by_role("button", name="Clear all filters").click()
        chip.wait_for(state="detached")
        page.wait_for_function("() => !location.search.includes('difficulty')")
        assert "q=product+quantization" in page.url

        box.fill("asdfqwer zxcvbnm")
        box.press("Enter")
        page.get_by_text("No match: no word of the query is in the bank").wait_for()
        box.fill("speculatve decodng")
        box.press("Enter")
        page.get_by_text('Showing results for "speculative decoding"').wait_for()
        page.wait_for_function("() => location.search.includes('speculatve')")

        nav(page).get_by_text("Study set", exact=True).click()
        page.get_by_label("Topics (one per line)").wait_for()
        nav(page).get_by_text("Search", exact=True).click()
        page.get_by_text('Showing results for "speculative decoding"').wait_for()
        assert page.get_by_label("Search the question bank").input_value() == "speculatve decodng"
    finally:
        ctx.close()


def test_pages_are_reachable_on_a_phone(ui_server, ui_page, tmp_path):
    ctx = ui_page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(ui_server)
        page.get_by_label("Search the question bank").wait_for()
        for name, landmark in (("Study set", "Topics (one per line)"), ("Evals", "Run evaluation")):
            target = nav(page).get_by_text(name, exact=True)
            target.wait_for(state="visible", timeout=30_000)  # not folded away in the sidebar
            target.click()
            (page.get_by_label(landmark) if name == "Study set" else page.get_by_role("button", name=landmark)).wait_for()
        shots = Path(os.environ.get("QBANK_SCREENSHOT_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "phone.png"))
    finally:
        ctx.close()


def test_related_in_place_picked_ids_job_ad_and_eval_downloads_in_chromium(ui_server, ui_page, tmp_path):
    """Related questions open under the card; a study set from a picked id alone; a job ad read into
    topics and built; the evals page offers its report downloads."""
    ctx = ui_page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{ui_server}/?page=Search&q=product+quantization")
        page.get_by_text("E5-195", exact=True).first.wait_for()
        page.get_by_role("button", name="Related").first.click()
        page.get_by_text("Related to E5-195").wait_for()  # in place: still the Search page
        assert "page=Search" in page.url
        page.get_by_role("button", name="Add to study set").first.click()

        nav(page).get_by_text("Study set", exact=True).click()
        page.get_by_text("Picked from search: E5-195").wait_for()
        page.get_by_role("button", name="Build study set").click()  # no topics: built around E5-195
        page.get_by_text("questions · about").first.wait_for()
        assert page.get_by_text("topic: like E5-195").count() > 0

        page.get_by_role("button", name="Clear picked").click()
        page.get_by_text("From a job description").click()
        page.get_by_label("Paste a job ad or a list of responsibilities").fill(
            "Senior ML Systems Engineer\n- Continuous batching and KV cache management for LLM serving\n"
            "- Speculative decoding\n- Tensor parallelism across GPUs")
        page.get_by_role("button", name="Read topics").click()
        page.get_by_text("seniority: senior").wait_for()
        topics = page.get_by_label("Topics (one per line)").input_value().lower()
        assert "continuous batching" in topics and "speculative decoding" in topics
        page.get_by_role("button", name="Build study set").click()
        page.get_by_text("topic: continuous batching").first.wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('input[aria-label=\"Anki deck\"]')]"
                               ".some(e => e.value.startsWith('qbank::') && e.value.includes('batching'))")

        nav(page).get_by_text("Evals", exact=True).click()
        page.get_by_role("button", name="Run evaluation").click()
        page.get_by_role("button", name="Report (JSON)").wait_for(timeout=240_000)
        page.get_by_role("button", name="TREC runs + report (zip)").wait_for()
        shots = Path(os.environ.get("QBANK_SCREENSHOT_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "evals.png"))

        page.goto(f"{ui_server}/?page=Question&id=E5-195")  # the deep view, from a link
        page.get_by_text("Explain product quantization").first.wait_for()
        page.get_by_text("Related questions").first.wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "question.png"))
        assert (shots / "evals.png").stat().st_size > 10_000 and (shots / "question.png").stat().st_size > 10_000
    finally:
        ctx.close()


def test_study_set_notes_follow_edits_and_anki_keeps_the_order_in_chromium(ui_server, ui_page, tmp_path):
    """After a removal the notes are said again for the set as it stands (not the build's), a move
    changes the order, and the Anki download holds the cards due in that order."""
    import sqlite3
    import zipfile

    ctx = ui_page.context.browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{ui_server}/?page=Study+set")
        page.get_by_label("Topics (one per line)").fill("KV cache")
        page.get_by_role("spinbutton", name="Size", exact=True).fill("4")
        page.get_by_role("textbox", name="Difficulty mix").fill("")
        page.get_by_role("spinbutton", name="Time budget (min, 0 = none)").fill("60")
        page.get_by_role("button", name="Build study set").click()
        heading = page.get_by_text("4 questions · about")
        heading.wait_for()

        def shown_ids() -> list[str]:
            # each item's remove button sits in an element classed st-key-drop-<id>, in page order
            return page.evaluate("""() => [...document.querySelectorAll('[class*="st-key-drop-"]')]
                .map(e => e.className.match(/st-key-drop-(\\S+)/)[1])""")

        def settle(n_items: int) -> None:
            """Wait for the rerun to finish: n items listed and no "running" indicator."""
            page.wait_for_function("n => document.querySelectorAll('[class*=\"st-key-drop-\"]').length == n && "
                                   "!document.querySelector('[data-testid=\"stStatusWidget\"]')", arg=n_items)
            page.wait_for_timeout(300)

        settle(4)
        before = shown_ids()
        assert len(before) == 4
        page.get_by_role("button", name="✕").first.click()
        page.get_by_text("3 questions · about").wait_for()
        settle(3)
        page.get_by_text(f"1 of the 4 questions built were removed: {before[0]}").wait_for()
        page.get_by_text("of the 60 min budget").wait_for()
        assert page.get_by_text("fits 4 question(s)").count() == 0  # the build's count note is gone
        page.get_by_role("button", name="↓").first.click()
        first = "() => document.querySelector('[class*=\"st-key-drop-\"]').className.includes('%s')"
        page.wait_for_function(first % before[2])
        settle(3)
        order = shown_ids()
        assert order == [before[2], before[1], before[3]]

        with page.expect_download() as dl:
            page.get_by_role("button", name="Anki deck", exact=True).click()
        path = tmp_path / "set.apkg"
        dl.value.save_as(path)
        with zipfile.ZipFile(path) as z:
            (tmp_path / "c.anki2").write_bytes(z.read("collection.anki2"))
        db = sqlite3.connect(tmp_path / "c.anki2")
        try:
            rows = db.execute("select n.flds, c.due from cards c join notes n on n.id = c.nid order by c.due").fetchall()
        finally:
            db.close()
        assert [flds.split("\x1f")[0] for flds, _ in rows] == order
    finally:
        ctx.close()
