"""A page on another origin (http://localhost:<p>) calls our API on a default-flags ComfyUI (http://127.0.0.1:<c>) in Chromium.

The allowed origin submits with a token and follows the batch over the SSE route read by fetch;
a foreign origin, a form post and a no-cors fetch change nothing; ComfyUI's /prompt stays closed.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading

import pytest

from tests.comfyui.harness import free_port, new_server

from .conftest import ARTIFACTS

PAGE_PORT, FOREIGN_PORT = free_port(), free_port()
ALLOWED = f"http://localhost:{PAGE_PORT}"
FOREIGN = f"http://localhost:{FOREIGN_PORT}"
PAGE = b"""<!doctype html><meta charset=utf-8><title>batchgen from another origin</title>
<body style="font:14px sans-serif"><h1>batchgen from another origin</h1><pre id=log></pre>
<form id=f method=POST enctype="application/x-www-form-urlencoded"><input name=template value=text-card>
<input name=prompts value=form></form></body>"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pages():
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", port), _Page) for port in (PAGE_PORT, FOREIGN_PORT)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def comfy(tmp_path_factory, pages):
    server = new_server(tmp_path_factory.mktemp("comfy"), env={"BATCHGEN_CORS_ORIGINS": ALLOWED})
    server.start()
    yield server
    server.stop()


def make_token(comfy, scope: str) -> str:
    script = comfy.data_dir / "custom_nodes" / "comfyui-batchgen" / "cli.py"
    made = subprocess.run([str(comfy.python), str(script), "token", "create", "--name", "web", "--scope", scope],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


SUBMIT_AND_WATCH = """async ([base, token]) => {
  const log = (t) => { document.getElementById('log').textContent += t + '\\n'; };
  const auth = {'Authorization': 'Bearer ' + token};
  const r = await fetch(base + '/batches', {method: 'POST', headers: {...auth, 'Content-Type': 'application/json'},
    body: JSON.stringify({name: 'from the web', template: 'text-card', prompts: ['web one', 'web two'],
                          params: {width: 64, height: 64}})});
  const batch = await r.json();
  log('POST /batches -> ' + r.status + ' ' + batch.id);
  const s = await fetch(base + '/events/stream?batch=' + batch.id, {headers: auth});
  log('GET /events/stream -> ' + s.status + ' ' + s.headers.get('content-type'));
  const reader = s.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', seen = [], ids = [];
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += value;
    let end;
    while ((end = buf.indexOf('\\n\\n')) >= 0) {
      const frame = buf.slice(0, end); buf = buf.slice(end + 2);
      const id = frame.split('\\n').find((l) => l.startsWith('id: '));
      const data = frame.split('\\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const ev = JSON.parse(data.slice(6));
      ids.push(Number(id.slice(4)));
      seen.push(ev.type + ':' + ev.data.status);
      log(id + ' ' + ev.type + ' ' + ev.data.status);
      if (ev.type === 'batchgen.batch' && ev.data.status === 'succeeded') {
        reader.cancel();
        return {status: r.status, id: batch.id, stream: s.status, seen, ids};
      }
    }
  }
  return {status: r.status, id: batch.id, stream: s.status, seen, ids, timeout: true};
}"""

TRY_FETCH = """async ([url, init]) => {
  try { const r = await fetch(url, init); return {status: r.status, type: r.type, body: r.type === 'opaque' ? '' : await r.text()}; }
  catch (e) { return {error: String(e)}; }
}"""


def submit_form(page, url: str) -> str:
    """Submit the page's urlencoded form to ``url`` (a top-level navigation); the text the browser then shows."""
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.evaluate("(url) => { const f = document.getElementById('f'); f.action = url; f.submit(); }", url)
    return page.content()


def total(comfy) -> int:
    return comfy.get("/batchgen/v1/batches")["total"]


def test_allowed_origin_works_foreign_origin_form_and_no_cors_change_nothing(comfy, page):
    token = make_token(comfy, "submit")
    base = comfy.url + "/batchgen/v1"
    page.goto(ALLOWED + "/", wait_until="domcontentloaded")
    no_token = page.evaluate(TRY_FETCH, [base + "/batches", {}])
    assert no_token["status"] == 401 and "token_required" in no_token["body"]  # readable: ACAO is on our answer

    result = page.evaluate(SUBMIT_AND_WATCH, [base, token])
    assert result["status"] == 201 and result["stream"] == 200 and not result.get("timeout"), result
    assert "batchgen.batch:succeeded" in result["seen"] and result["ids"] == sorted(result["ids"])
    assert comfy.get(f"/batchgen/v1/batches/{result['id']}")["counts"]["succeeded"] == 2
    page.screenshot(path=str(ARTIFACTS / "cors-allowed-origin-sse.png"))

    queue_before, count = comfy.native_queue(), total(comfy)
    history_before = len(comfy.get("/history"))
    prompt = {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": json.dumps({"prompt": {}})}
    assert "error" in page.evaluate(TRY_FETCH, [comfy.url + "/prompt", prompt])  # ComfyUI's own route: still refused
    assert "error" in page.evaluate(TRY_FETCH, [comfy.url + "/api/prompt", prompt])
    assert "error" in page.evaluate(TRY_FETCH, [comfy.url + "/api/queue", {}])
    no_cors = {"method": "POST", "mode": "no-cors", "headers": {"Content-Type": "text/plain"},
               "body": json.dumps({"template": "text-card", "prompts": ["no-cors"]})}
    assert page.evaluate(TRY_FETCH, [base + "/batches", no_cors]).get("type") == "opaque"

    page.goto(FOREIGN + "/", wait_until="domcontentloaded")
    submit = {"method": "POST", "headers": {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
              "body": json.dumps({"template": "text-card", "prompts": ["foreign"]})}
    assert "error" in page.evaluate(TRY_FETCH, [base + "/batches", submit])  # preflight refused: 403, no ACAO
    assert "error" in page.evaluate(TRY_FETCH, [base + "/batches", {"headers": {"Authorization": "Bearer " + token}}])
    assert "error" in page.evaluate(TRY_FETCH, [comfy.url + "/prompt", prompt])
    page.evaluate(TRY_FETCH, [base + "/batches", no_cors])
    form_answer = submit_form(page, base + "/batches")
    page.goto(ALLOWED + "/", wait_until="domcontentloaded")
    allowed_form_answer = submit_form(page, base + "/batches")

    assert total(comfy) == count  # neither origin's form post nor no-cors fetch created anything
    assert "origin_not_allowed" in form_answer
    assert "token_required" in allowed_form_answer  # an allowed origin's form has no token either
    assert comfy.native_queue() == queue_before and len(comfy.get("/history")) == history_before
    assert token not in comfy.log_path.read_text(errors="replace")
