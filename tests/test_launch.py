"""The Chinese launch link (dropkey_lib.launch): `<server>/dropkey/zh` sets JupyterLab's interface language to
Chinese for the session and opens the Chinese notebook. One real JupyterLab server, started for this module."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from dropkey_lib import launch

TOKEN = "dropkey-launch-test"


def test_saving_the_locale_writes_jupyterlabs_translation_setting(tmp_path):
    path = launch.save_locale(tmp_path)
    assert path == tmp_path / "@jupyterlab/translation-extension/plugin.jupyterlab-settings"
    assert json.loads(path.read_text()) == {"locale": "zh_CN"}


def test_saving_the_locale_keeps_the_other_settings_of_the_extension(tmp_path):
    path = tmp_path / launch.TRANSLATION_SETTINGS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"locale": "en", "displayNamesInLocale": True}))
    launch.save_locale(tmp_path)
    assert json.loads(path.read_text()) == {"locale": "zh_CN", "displayNamesInLocale": True}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """JupyterLab with the extension enabled and a settings folder of its own: (base URL, settings folder)."""
    folder = tmp_path_factory.mktemp("lab")
    settings, port = folder / "user-settings", free_port()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}", f"--LabApp.user_settings_dir={settings}",
        "--ServerApp.jpserver_extensions={'dropkey_lib.launch': True}", "--LabApp.news_url=",
        "--ServerApp.allow_root=True",
    ]  # fmt: skip
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"JupyterLab did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
    yield url, settings
    process.terminate()
    process.wait(timeout=30)
    log.close()


def get_without_redirect(url: str) -> tuple[int, str]:
    try:
        response = urllib.request.build_opener(NoRedirect).open(url, timeout=30)
        return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_the_chinese_launch_link_opens_the_chinese_overview(server):
    url, _ = server
    assert get_without_redirect(f"{url}/dropkey/zh?token={TOKEN}") == (302, "/lab/tree/notebooks-zh/00_overview.ipynb")


def test_the_chinese_launch_link_of_one_notebook_opens_that_notebook(server):
    url, _ = server
    status, location = get_without_redirect(f"{url}/dropkey/zh/05_drop_ratio_schedules.ipynb?token={TOKEN}")
    assert (status, location) == (302, "/lab/tree/notebooks-zh/05_drop_ratio_schedules.ipynb")


def test_after_the_chinese_launch_jupyterlab_reports_the_chinese_locale(server):
    url, settings = server
    get_without_redirect(f"{url}/dropkey/zh?token={TOKEN}")
    api = f"{url}/lab/api/settings/@jupyterlab/translation-extension:plugin?token={TOKEN}"
    reply = json.loads(urllib.request.urlopen(api, timeout=30).read())
    assert reply["settings"]["locale"] == "zh_CN"
    assert (settings / launch.TRANSLATION_SETTINGS).is_file()


def test_the_chinese_launch_link_needs_the_token(server):
    url, _ = server
    status, location = get_without_redirect(f"{url}/dropkey/zh")
    assert status in (302, 403) and "notebooks-zh" not in location


def test_the_chinese_launch_link_opens_nothing_outside_the_chinese_notebooks(server):
    url, _ = server
    assert get_without_redirect(f"{url}/dropkey/zh/..%2F..%2Fsecret.ipynb?token={TOKEN}")[0] == 404
