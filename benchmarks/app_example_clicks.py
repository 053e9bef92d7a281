"""Time clicking the app's examples one after another on one page, in Chromium: seconds until each result
shows, and the page's requests (uploads of the editor's files dominate).

    python benchmarks/app_example_clicks.py [--chromium /usr/bin/chromium] [--port 7861]

Needs playwright (the ``test`` extra) and Debian's chromium. Serves ``app.py`` with the bundled model.
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--port", type=int, default=7861)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from playwright.sync_api import sync_playwright
    from scripts import load_script

    app = load_script("app.py", "tcp_hub_space_app")
    app.demo.queue().launch(server_port=args.port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{args.port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector("#run", timeout=60_000)
            previous = ""
            for k in range(len(app.EXAMPLE_ROWS)):
                start, first = time.perf_counter(), len(requests)
                page.get_by_text("Examples (click to run)").scroll_into_view_if_needed()
                page.locator("table tbody tr").nth(k).click()
                page.wait_for_function(f"() => document.querySelector('#result img') !== null && "
                                       f"document.querySelector('#result img').getAttribute('src') !== {previous!r}",
                                       timeout=120_000)
                previous = page.locator("#result img").get_attribute("src")
                kinds = Counter(u.replace(url, "").split("?")[0].split("/")[1] if "/" in u.replace(url, "") else u
                                for u in requests[first:])
                print(f"example {k + 1}: {time.perf_counter() - start:.1f} s, {len(requests) - first} requests "
                      f"({kinds.get('upload', 0)} uploads)", flush=True)
            browser.close()
    finally:
        app.demo.close()


if __name__ == "__main__":
    main()
