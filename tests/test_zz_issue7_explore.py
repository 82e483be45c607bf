import time
pytest_plugins = ["tests.app_harness"]

def test_explore(page, live_app):
    page.get_by_text("Side by side: the same inputs with 2–4 seeds", exact=True).click()
    box = page.locator("#sbs-seeds textarea, #sbs-seeds input").first
    t0 = time.monotonic()
    box.fill("11, 22, 33"); box.press("Tab")
    while "3 paid" not in page.locator("#sbs-confirm").inner_text():
        time.sleep(0.05)
        if time.monotonic() - t0 > 30: break
    print("label after", time.monotonic() - t0)
    t0 = time.monotonic()
    page.locator("#prompt textarea").fill("xyz")
    page.locator("#prompt textarea").press("Tab")
    while "xyz" not in page.locator("#code-python").inner_text():
        time.sleep(0.05)
        if time.monotonic() - t0 > 30: break
    print("code after", time.monotonic() - t0)
