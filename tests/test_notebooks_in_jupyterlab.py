"""Each study notebook as a researcher runs it: JupyterLab in headless Chromium, Run All.

The kernel starts in a folder that is not the project root (JupyterLab's own choice), and the
figures must still land where papermill puts them. Notebooks are copied into the server's
folder so that saving them (to read the outputs back) never touches the committed files.
Skips with a reason where Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from initlab import paths

# it reuses the smoke runs of test_notebooks: under xdist the same worker runs both
pytestmark = pytest.mark.xdist_group("notebooks")

CHROMIUM = "/usr/bin/chromium"
IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
ROOT = paths.project_root()
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, shared_outputs):
    """A JupyterLab server on localhost with a token, serving copies of the notebooks."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    # render every cell (no windowing), so the prompts below see the whole notebook
    tracker = folder / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), "initlab-test-token"
    env = dict(os.environ, **shared_outputs)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--allow-root",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         f"--LabApp.workspaces_dir={folder / 'workspaces'}",
         f"--LabApp.user_settings_dir={folder / 'settings'}",
         "--LabApp.news_url=", "--ServerApp.open_browser=False"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start")
    yield url, token, folder
    server.terminate()
    server.wait(timeout=30)


def _run_all(page, url: str, token: str, notebook: str, timeout_s: int = 300) -> None:
    page.goto(f"{url}/lab/tree/notebooks/{notebook}?reset&token={token}")  # only this tab
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(f"{IDLE} >> visible=true", timeout=60_000)
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    for _ in range(10):  # a click before the kernel is connected is dropped: click again
        time.sleep(3)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        time.sleep(3)
        if any(re.search(r"\[(\*|\d+)\]", p) for p in prompts.all_inner_texts()):
            break
    deadline, idle_since = time.time() + timeout_s, None
    while time.time() < deadline:
        prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        if prompts and all(re.search(r"\[\d+\]", p) for p in prompts):
            break  # every code cell has run
        busy = any("*" in p for p in prompts)
        if busy or not page.locator(f"{IDLE} >> visible=true").count():
            idle_since = None
        elif idle_since is None:
            idle_since = time.time()
        elif time.time() - idle_since > 20:
            break  # stopped early (an error): the checks below say where
        time.sleep(0.5)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-item[data-command='docmanager:save']").click()
    page.wait_for_selector(".jp-Notebook-cell >> nth=0")
    time.sleep(3)  # the save request completes


@pytest.mark.slow
def test_every_notebook_runs_all_cells_in_jupyterlab(lab, shared_outputs):
    url, token, folder = lab
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        page = browser.new_page()
        for notebook in notebooks:
            _run_all(page, url, token, notebook)
        browser.close()
    figures = Path(shared_outputs["INITLAB_FIGURES"]) / "smoke"
    for notebook in notebooks:
        cells = json.loads((folder / "notebooks" / notebook).read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert all(c.get("execution_count") for c in code), f"{notebook}: not every cell ran"
        outputs = [o for c in code for o in c.get("outputs", [])]
        errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
        assert not errors, f"{notebook}: {errors}"
        shown = [o for o in outputs if "image/png" in o.get("data", {})]
        assert shown, f"{notebook}: no figure was displayed"
        study = notebook.removesuffix(".ipynb")
        assert list((figures / study).glob("*.png")), f"{study}: figures not under {figures}"
